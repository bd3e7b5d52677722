"""The policy file's per-binding `idle: {after, action}`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.policy import PolicyFileError, parse_policy
from bot.policy.model import IdleAction, IdleRule

LONG_FORM = """
channels:
  C0TEAMA: [team-a]
  C0TEAMB:
    projects: [team-b]
    idle: {after: 48h, action: scale-to-zero}
  C0TEAMC:
    projects: ["1"]
    idle: {}
"""


def test_the_long_form_adds_idle_and_keeps_the_projects() -> None:
    policy = parse_policy(LONG_FORM)
    assert policy.channels == {"C0TEAMA": ["team-a"], "C0TEAMB": ["team-b"], "C0TEAMC": ["1"]}
    assert policy.idle_rule("C0TEAMB") == IdleRule(
        after=timedelta(hours=48), action=IdleAction.SCALE_TO_ZERO
    )
    assert policy.idle_rule("C0TEAMC") == IdleRule(after=None, action=IdleAction.NUDGE)
    assert policy.idle_rule("C0TEAMA") is None
    assert policy.idle_rule(None) is None
    assert parse_policy("").idle_rule("C0TEAMB") is None


@pytest.mark.parametrize(
    ("yaml", "words"),
    [
        (
            "channels: {C1: {projects: [a], idle: {after: soon}}}",
            "channels.C1.idle.after: Durations look like 30s, 15m, 24h or 7d",
        ),
        ("channels: {C1: {projects: [a], idle: {after: 0s}}}", "must be longer than 0s"),
        (
            "channels: {C1: {projects: [a], idle: {action: delete}}}",
            "channels.C1.idle.action: Input should be 'nudge' or 'scale-to-zero'",
        ),
        ("channels: {C1: {projects: [a], idle: {after: 1h, when: never}}}", "idle.when"),
        ("channels: {C1: {idle: {after: 1h}}}", "channels.C1.projects: Field required"),
        ("channels: {C1: {projects: [a], idel: {}}}", "channels.C1.idel"),
        ("binding_options: {}\nchannels: {}", "write idle: under the channel's binding"),
    ],
)
def test_bad_idle_settings_are_refused_with_their_place(yaml: str, words: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy(yaml)
    assert words in str(info.value)
