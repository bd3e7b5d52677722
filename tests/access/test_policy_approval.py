"""The policy file's per-binding `approval: {gpus_over, replicas_over, approvers}`."""

from __future__ import annotations

import pytest

from bot.policy import PolicyFileError, parse_policy
from bot.policy.model import ApprovalRule

POLICY = """
channels:
  C0TEAMA: [team-a]
  C0TEAMB:
    projects: [team-b]
    approval: {gpus_over: 4, replicas_over: 4, approvers: [U0LEAD, "@S0LEADS"]}
"""


def test_the_long_form_adds_an_approval_rule() -> None:
    policy = parse_policy(POLICY)
    assert policy.channels == {"C0TEAMA": ["team-a"], "C0TEAMB": ["team-b"]}
    rule = policy.approval_rule("C0TEAMB")
    assert rule == ApprovalRule(gpus_over=4, replicas_over=4, approvers=["U0LEAD", "S0LEADS"])
    assert policy.approval_rule("C0TEAMA") is None
    assert policy.approval_rule(None) is None
    assert "S0LEADS" in policy.groups()  # its members get resolved like any group's


def test_what_goes_over_is_said_in_words() -> None:
    rule = ApprovalRule(gpus_over=4, replicas_over=4, approvers=["U1"])
    assert rule.exceeded(4, 4) == []
    assert rule.exceeded(8, 2) == ["8 replicas (over 4)"]
    assert rule.exceeded(2, 6.5) == ["6.5 GPUs (over 4)"]
    assert rule.exceeded(None, None) == []
    only_gpus = ApprovalRule(gpus_over=1, approvers=["U1"])
    assert only_gpus.exceeded(100, 1) == []


@pytest.mark.parametrize(
    ("yaml", "words"),
    [
        ("channels: {C1: {projects: [a], approval: {approvers: [U1]}}}", "gpus_over"),
        ("channels: {C1: {projects: [a], approval: {gpus_over: 1}}}", "approvers"),
        ("channels: {C1: {projects: [a], approval: {gpus_over: 1, approvers: []}}}", "at least"),
        ('channels: {C1: {projects: [a], approval: {gpus_over: 1, approvers: ["*"]}}}', "'*'"),
        ("channels: {C1: {projects: [a], approval: {gpus_over: 1, approvers: [bob]}}}", "bob"),
        (
            "channels: {C1: {projects: [a], approval: {gpus_over: -1, approvers: [U1]}}}",
            "gpus_over",
        ),
        ("channels: {C1: {projects: [a], approval: {gpus_over: 1, approvers: [U1], x: 1}}}", "x"),
    ],
)
def test_bad_approval_settings_are_refused_with_their_place(yaml: str, words: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        parse_policy(yaml)
    assert "channels.C1.approval" in str(caught.value)
    assert words in str(caught.value)
