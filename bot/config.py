"""Every setting of the bot, read from the environment in one place."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import Duration
from bot.runai.client import DEFAULT_MODEL_INFO_PATH

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


class SettingsError(ValueError):
    """A setting in the environment has a value the bot can't use; the message names it."""


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


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
    # Where `/inference model` looks: Run:ai, the Hugging Face Hub, or Run:ai then the Hub
    # when the control plane has no model-info route (bot/modelinfo/source.py).
    model_info_source: Annotated[
        Literal["auto", "runai", "huggingface"], BeforeValidator(_lower)
    ] = "auto"
    # huggingface_hub's own variable (it reads it too, at import); read here as well so it
    # is passed explicitly. None: huggingface_hub's default, https://huggingface.co.
    hf_endpoint: str | None = None

    database_url: str = "sqlite+aiosqlite:///inference-bot.db"
    port: int = Field(default=3000, ge=0, le=65535)
    # Socket Mode has no HTTP server of its own: /healthz, /readyz and /metrics live here.
    health_port: int = Field(default=8080, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Unset: the watch room's own defaults (bot/watch/tuning.py, the one home of every knob).
    poll_interval_seconds: float | None = Field(default=None, gt=0)
    reconcile_interval_seconds: float | None = Field(default=None, gt=0)

    # Alerts: how often the lease holder evaluates the rules, and when a workload still in
    # Pending, Creating or Initializing gets its one "stuck" reply.
    alert_interval_seconds: float = Field(default=60.0, gt=0)
    stuck_after: Duration = Field(default=timedelta(minutes=15), gt=timedelta(0))

    emulator_phase_seconds: float = Field(default=2.0, ge=0)

    policy_file: str | None = None
    # Audit entries older than this are deleted (daily, by the leader); 0 keeps them all.
    audit_retention_days: int = Field(default=365, ge=0)
    log_format: str = "text"
    log_level: str = "INFO"

    # The care loops (idle endpoints, schedules, the daily digest) on the lease holder.
    idle_after: Duration = timedelta(hours=24)
    idle_check_interval_seconds: float = Field(default=900.0, gt=0)
    # Money per GPU-hour for the idle nudge and the digest; unset: GPU-hours only.
    gpu_hour_cost: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=4)
    cost_currency: str = "USD"
    schedule_misfire_grace_seconds: float = Field(default=300.0, ge=0)

    @field_validator("idle_after")
    @classmethod
    def _positive_idle_after(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be longer than 0s")
        return value

    @field_validator("cost_currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        code = value.strip().upper()
        if not _CURRENCY_RE.match(code):
            raise ValueError(f"takes a three-letter ISO 4217 code like USD or EUR, not {value!r}")
        return code

    def runai_credentials(self) -> tuple[str, str]:
        """Client id and secret for the token exchange; `demo`/`demo` when unset."""
        secret = self.runai_client_secret.get_secret_value() if self.runai_client_secret else None
        return (self.runai_client_id or "demo", secret or "demo")


def load_settings() -> Settings:
    """The settings from the environment; a bad value raises `SettingsError` naming the
    variable and what it takes (a readable start-up failure instead of a traceback)."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "_".join(str(part) for part in error["loc"]).upper() or "settings"
            reason = str(error["msg"]).removeprefix("Value error, ")
            lines.append(f"{name}: {reason}")
        raise SettingsError("Bad setting. " + "; ".join(lines)) from None
