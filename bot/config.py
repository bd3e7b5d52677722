"""Every setting of the bot, read from the environment in one place."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.runai.client import DEFAULT_MODEL_INFO_PATH


class Settings(BaseSettings):
    """The bot's configuration; only this class reads the environment."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    runai_url: str | None = None
    runai_client_id: str | None = None
    runai_client_secret: SecretStr | None = None
    runai_model_info_path: str = DEFAULT_MODEL_INFO_PATH
    runai_timeout_seconds: float = Field(default=10.0, gt=0)

    database_url: str = "sqlite+aiosqlite:///inference-bot.db"
    port: int = Field(default=3000, ge=0, le=65535)
    # Socket Mode has no HTTP server of its own: /healthz, /readyz and /metrics live here.
    health_port: int = Field(default=8080, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    poll_interval_seconds: float = Field(default=5.0, gt=0)
    reconcile_interval_seconds: float = Field(default=60.0, gt=0)

    emulator_phase_seconds: float = Field(default=2.0, ge=0)

    policy_file: str | None = None
    # Audit entries older than this are deleted (daily, by the leader); 0 keeps them all.
    audit_retention_days: int = Field(default=365, ge=0)
    log_format: str = "text"
    log_level: str = "INFO"

    def runai_credentials(self) -> tuple[str, str]:
        """Client id and secret for the token exchange; `demo`/`demo` when unset."""
        secret = self.runai_client_secret.get_secret_value() if self.runai_client_secret else None
        return (self.runai_client_id or "demo", secret or "demo")
