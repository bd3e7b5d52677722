"""`digest <HH:MM> [--tz Area/City] | off | now`: this channel's daily digest of the
workloads it follows. The time zone defaults to the caller's Slack time zone
(`users.info`), else UTC."""

from __future__ import annotations

import logging

from bot.cron import zone_or_utc
from bot.slack import parsing, render
from bot.slack.care_desk import CARE_OFF
from bot.slack.commands.route import Route
from bot.slack.deps import Deps, Invocation
from bot.slack.errors import UserFacingError
from bot.slack.reply import Replier

logger = logging.getLogger(__name__)

NOT_IN_A_CHANNEL = "The digest goes to a channel: run `/inference digest` in one."


async def user_zone(deps: Deps, user: str) -> str:
    """The user's Slack time zone (`users.info`), else UTC."""
    try:
        answer = await deps.slack.users_info(user=user)
    except Exception as exc:  # no zone is not worth failing the command over
        logger.info("users.info failed", extra={"error": type(exc).__name__})
        return "UTC"
    person = answer.get("user") or {}
    return zone_or_utc(person.get("tz") if isinstance(person, dict) else None)


def _notice(emoji: str, text: str) -> dict[str, object]:
    return render.message("notice", emoji=emoji, text=text, user=None, detail=None)


async def digest(deps: Deps, replier: Replier, inv: Invocation, command: parsing.Digest) -> None:
    """Turn the channel's daily digest on or off, or post it now."""
    channel = inv.channel_id
    if not channel or channel.startswith("D"):
        raise UserFacingError(NOT_IN_A_CHANNEL)
    if deps.care is None:
        raise UserFacingError(CARE_OFF)
    if command.mode == "off":
        done = await deps.care.digest_off(channel, inv.user_id)
        text = "Daily digest turned off here." if done else "This channel had no daily digest."
        await replier.respond(inv, _notice(":no_bell:", text))
        return
    zone = command.zone or await user_zone(deps, inv.user_id)
    if command.mode == "now":
        if not await deps.care.digest_now(channel, zone):
            raise UserFacingError(CARE_OFF)
        await replier.respond(inv, _notice(":newspaper:", "Digest posted in this channel."))
        return
    assert command.at is not None
    at = f"{command.at:%H:%M}"
    await deps.care.digest_at(channel, at, zone, inv.user_id)
    await replier.respond(
        inv,
        _notice(
            ":newspaper:",
            f"Daily digest here at {at} ({zone}): every workload this channel follows, "
            "with GPU-hours per project. `/inference digest off` stops it.",
        ),
    )


ROUTES = (Route(parsing.Digest, digest, "read", names_workload=False),)
