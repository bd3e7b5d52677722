"""The policy model and the pure decisions: one test per rule, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.policy import (
    OPEN_POLICY,
    Action,
    Ask,
    Caller,
    Caps,
    Denied,
    Policy,
    PolicyFileError,
    ProjectRef,
    Rights,
    decide,
    gpus_of,
    gpus_text,
    in_channel_scope,
    load_policy,
    parse_policy,
    summarize,
)

POLICY = parse_policy(
    """
admins: [UADMIN]
caps: {max_replicas: 10, max_gpus: 16}
channels:
  CTEAMA: [team-a]
  CBOTH: [team-a, "2"]
projects:
  team-a:
    create: [UALICE, SMLTEAM]
    scale: [UALICE, UBOB]
    delete: [UALICE]
    caps: {max_replicas: 4, max_gpus: 2}
  "2":
    read: [UCAROL, UALICE]
    create: ["*"]
    scale: ["*"]
    delete: [UCAROL]
"""
)
TEAM_A = ProjectRef("1", "team-a")
TEAM_B = ProjectRef("2", "team-b")
OTHER = ProjectRef("3", "team-c")


def who(user: str, channel: str | None = "CFREE", groups: frozenset[str] = frozenset()) -> Caller:
    return Caller(user, channel, groups)


def test_listed_user_may_act() -> None:
    assert decide(POLICY, who("UALICE"), Action.DELETE, TEAM_A).allowed
    assert decide(POLICY, who("UBOB"), Action.SCALE, TEAM_A).allowed


def test_unlisted_user_is_denied_naming_the_rule() -> None:
    d = decide(POLICY, who("UBOB"), Action.DELETE, TEAM_A)
    assert isinstance(d, Denied)
    assert d.rule == "projects.team-a.delete"
    assert "team-a" in d.sentence() and "projects.team-a.delete" in d.sentence()


def test_project_named_by_id_or_name() -> None:
    assert decide(POLICY, who("UCAROL"), Action.DELETE, TEAM_B).allowed
    d = decide(POLICY, who("UALICE"), Action.DELETE, TEAM_B)
    assert isinstance(d, Denied) and d.rule == "projects.2.delete"


def test_read_is_open_unless_restricted() -> None:
    assert decide(POLICY, who("UNOBODY"), Action.READ, TEAM_A).allowed
    assert decide(POLICY, who("UNOBODY"), Action.READ, OTHER).allowed
    d = decide(POLICY, who("UNOBODY"), Action.READ, TEAM_B)
    assert isinstance(d, Denied) and d.rule == "projects.2.read"


def test_unnamed_project_uses_default_which_allows_only_reading() -> None:
    d = decide(POLICY, who("UALICE"), Action.CREATE, OTHER)
    assert isinstance(d, Denied) and d.rule == "default.create"


def test_update_falls_back_to_create() -> None:
    assert decide(POLICY, who("UALICE"), Action.UPDATE, TEAM_A).allowed
    d = decide(POLICY, who("UBOB"), Action.UPDATE, TEAM_A)
    assert isinstance(d, Denied) and d.rule == "projects.team-a.update"


def test_groups_grant_rights() -> None:
    d = decide(POLICY, who("UDAN"), Action.CREATE, TEAM_A)
    assert isinstance(d, Denied)
    assert decide(POLICY, who("UDAN", groups=frozenset({"SMLTEAM"})), Action.CREATE, TEAM_A).allowed


def test_admins_may_do_everything_but_stay_in_the_channel_scope() -> None:
    for action in Action:
        assert decide(POLICY, who("UADMIN"), action, OTHER, Ask(replicas=99, gpus=99)).allowed
    d = decide(POLICY, who("UADMIN", "CTEAMA"), Action.READ, TEAM_B)
    assert isinstance(d, Denied) and d.rule == "channels.CTEAMA"


def test_admin_by_group() -> None:
    policy = Policy(admins=["SADMINS"])
    assert decide(policy, who("UX", groups=frozenset({"SADMINS"})), Action.DELETE, OTHER).allowed
    assert policy.groups() == {"SADMINS"}


def test_channel_binding() -> None:
    assert decide(POLICY, who("UALICE", "CTEAMA"), Action.DELETE, TEAM_A).allowed
    d = decide(POLICY, who("UALICE", "CTEAMA"), Action.READ, TEAM_B)
    assert isinstance(d, Denied)
    assert d.rule == "channels.CTEAMA" and "team-a" in d.reason and "team-b" in d.reason
    # bound to two projects, one by id
    assert decide(POLICY, who("UCAROL", "CBOTH"), Action.READ, TEAM_B).allowed
    assert not decide(POLICY, who("UCAROL", "CBOTH"), Action.READ, OTHER).allowed


def test_caps_project_then_global() -> None:
    alice = who("UALICE")
    assert decide(POLICY, alice, Action.SCALE, TEAM_A, Ask(replicas=4, gpus=2)).allowed
    d = decide(POLICY, alice, Action.SCALE, TEAM_A, Ask(replicas=5))
    assert isinstance(d, Denied) and d.rule == "projects.team-a.caps.max_replicas"
    d = decide(POLICY, alice, Action.CREATE, TEAM_A, Ask(replicas=2, gpus=2.5))
    assert isinstance(d, Denied) and d.rule == "projects.team-a.caps.max_gpus"
    assert "2.5 GPUs" in d.reason
    d = decide(POLICY, alice, Action.CREATE, TEAM_B, Ask(replicas=11))
    assert isinstance(d, Denied) and d.rule == "caps.max_replicas"
    d = decide(POLICY, alice, Action.SCALE, TEAM_B, Ask(replicas=8, gpus=24))
    assert isinstance(d, Denied) and d.rule == "caps.max_gpus"


def test_caps_do_not_apply_to_reading_or_deleting() -> None:
    assert decide(POLICY, who("UALICE"), Action.DELETE, TEAM_A, Ask(replicas=100)).allowed


def test_no_project_only_reading() -> None:
    assert decide(POLICY, who("UX"), Action.READ, None).allowed
    assert not decide(POLICY, who("UX"), Action.CREATE, None).allowed


def test_open_policy_allows_everything() -> None:
    for action in Action:
        assert decide(OPEN_POLICY, who("UANY"), action, OTHER, Ask(replicas=1000)).allowed


def test_gpus_of() -> None:
    assert gpus_of(2, None, 3) == 6
    assert gpus_of(1, 0.5, 4) == 2
    assert gpus_of(None, None, 5) == 0
    assert gpus_of(1, None, None) == 1


@pytest.mark.parametrize(
    ("count", "text"),
    [
        (1, "1 GPU"),
        (1.0, "1 GPU"),
        (0.5, "0.5 GPU"),
        (2, "2 GPUs"),
        (2.5, "2.5 GPUs"),
        (0, "0 GPUs"),
    ],
)
def test_gpu_counts_read_as_english(count: float, text: str) -> None:
    assert gpus_text(count) == text


def test_a_cap_of_one_gpu_reads_as_english() -> None:
    policy = parse_policy(
        "projects: {team-a: {create: ['*'], caps: {max_gpus: 1, max_replicas: 1}}}"
    )
    d = decide(policy, who("UALICE"), Action.CREATE, TEAM_A, Ask(replicas=1, gpus=2))
    assert isinstance(d, Denied)
    assert d.reason == "2 GPUs is above the cap of 1 GPU for team-a"
    view = summarize(policy, who("UALICE"), [TEAM_A]).projects[0]
    assert view.caps_text == "at most 1 replica · at most 1 GPU"


def test_summary() -> None:
    s = summarize(POLICY, who("UALICE", "CTEAMA"), [TEAM_A, TEAM_B, OTHER])
    assert s.bound == ("team-a",) and not s.open and not s.admin
    assert [p.project for p in s.projects] == ["team-a"]
    assert s.projects[0].actions == ("read", "create", "update", "scale", "delete")
    assert s.projects[0].max_replicas == 4 and s.projects[0].max_gpus == 2
    assert s.projects[0].caps_text == "at most 4 replicas · at most 2 GPUs"
    s = summarize(POLICY, who("UBOB"), [TEAM_A, TEAM_B, OTHER])
    assert s.bound is None
    assert {p.project: p.actions for p in s.projects} == {
        "team-a": ("read", "scale"),
        "team-b": (),
        "team-c": ("read",),
    }


@pytest.mark.parametrize(
    "text",
    [
        "admins: [alice]",  # not a Slack id
        "projects: {a: {create: [U1], fly: [U2]}}",  # unknown right
        "caps: {max_replicas: -1}",
        "- a list",
        "channels: {C1: [a}",  # not YAML
    ],
)
def test_bad_files_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(PolicyFileError):
        parse_policy(text)


def test_empty_file_is_a_strict_policy() -> None:
    policy = parse_policy("")
    assert not policy.open
    assert not decide(policy, who("U1"), Action.CREATE, OTHER).allowed
    assert decide(policy, who("U1"), Action.READ, OTHER).allowed


def test_no_file_is_open_and_said_loudly(caplog: pytest.LogCaptureFixture) -> None:
    assert load_policy(None) is OPEN_POLICY
    warning = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning and "POLICY_FILE is not set" in warning[0].getMessage()


def test_load_from_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("admins: [U1]\nchannels: {C1: [team-a]}\n")
    policy = load_policy(str(path))
    assert policy.admins == ["U1"] and policy.channels == {"C1": ["team-a"]}
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(str(tmp_path / "missing.yaml"))


# --- properties ----------------------------------------------------------------------------

users = st.sampled_from(["U1", "U2", "U3", "W4"])
groups = st.sampled_from(["S1", "S2"])
principals = st.lists(st.one_of(users, groups, st.just("*")), max_size=3)
project_keys = st.sampled_from(["1", "2", "team-a", "team-b"])
rights = st.builds(
    Rights,
    read=st.one_of(st.none(), principals),
    create=st.one_of(st.none(), principals),
    update=st.one_of(st.none(), principals),
    scale=st.one_of(st.none(), principals),
    delete=st.one_of(st.none(), principals),
    caps=st.builds(
        Caps,
        max_replicas=st.one_of(st.none(), st.integers(0, 10)),
        max_gpus=st.one_of(st.none(), st.floats(0, 16)),
    ),
)
policies = st.builds(
    Policy,
    admins=st.lists(st.one_of(users, groups), max_size=2),
    caps=st.builds(Caps, max_replicas=st.one_of(st.none(), st.integers(0, 10))),
    channels=st.dictionaries(st.sampled_from(["C1", "C2"]), st.lists(project_keys, max_size=2)),
    projects=st.dictionaries(project_keys, rights, max_size=3),
    default=rights,
)
callers = st.builds(
    Caller,
    user=users,
    channel=st.sampled_from(["C1", "C2", "C3", None]),
    groups=st.frozensets(groups),
)
projects = st.builds(ProjectRef, id=st.sampled_from(["1", "2", "3"]), name=project_keys)
asks = st.builds(
    Ask,
    replicas=st.one_of(st.none(), st.integers(0, 20)),
    gpus=st.one_of(st.none(), st.floats(0, 40)),
)


@settings(max_examples=300, deadline=None)
@given(policies, callers, st.sampled_from(list(Action)), projects, asks)
def test_decide_is_total_and_consistent(
    policy: Policy, caller: Caller, action: Action, project: ProjectRef, ask: Ask
) -> None:
    d = decide(policy, caller, action, project, ask)
    if isinstance(d, Denied):
        assert d.rule and d.reason and d.rule in d.sentence()
    # Outside the channel's binding nothing is allowed, whoever asks.
    if not in_channel_scope(policy, caller.channel, project):
        assert isinstance(d, Denied) and d.rule == f"channels.{caller.channel}"
    # Inside it, an admin may do anything.
    elif caller.user in policy.admins or caller.groups & set(policy.admins):
        assert d.allowed
    # Being allowed to change implies being allowed to see.
    if d.allowed:
        assert decide(policy, caller, Action.READ, project).allowed
    # Asking for less never turns an allowed action into a denied one.
    if d.allowed and ask.replicas:
        assert decide(policy, caller, action, project, Ask(ask.replicas - 1, ask.gpus)).allowed


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_policy_text_loads_or_is_refused_with_a_reason(text: str) -> None:
    try:
        parse_policy(text)
    except PolicyFileError as exc:
        assert str(exc)
