"""Reading the policy file (YAML) into a `Policy`; without one, the open policy."""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import ValidationError

from bot.policy.model import OPEN_POLICY, Policy

logger = logging.getLogger(__name__)


class PolicyFileError(ValueError):
    """The policy file is missing, not YAML, or does not fit the model."""


def parse_policy(text: str, source: str = "policy") -> Policy:
    """YAML text → `Policy`; raises `PolicyFileError` with a readable reason."""
    import yaml  # only when there is a policy file: the open policy needs no parser

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{source} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PolicyFileError(f"{source} must be a mapping at the top level")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyFileError(f"{source} does not fit the policy model: {exc}") from None


def load_policy(path: str | None) -> Policy:
    """The policy from `path`; the open policy (logged loudly) when no path is set."""
    if not path:
        logger.warning(
            "POLICY_FILE is not set: everyone may read, create, scale, update and delete "
            "every inference workload the bot's service account can reach"
        )
        return OPEN_POLICY
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"cannot read POLICY_FILE {path}: {exc.strerror}") from None
    policy = parse_policy(text, path)
    logger.info(
        "policy loaded",
        extra={
            "policy_file": path,
            "admins": len(policy.admins),
            "channels": len(policy.channels),
            "projects": len(policy.projects),
        },
    )
    return policy
