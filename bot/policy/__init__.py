"""Who may do what: the policy file's model, loading it, and pure decisions.

from bot.policy import load_policy, decide, Caller, ProjectRef, Action, Ask
policy = load_policy(settings.policy_file)
decision = decide(policy, Caller("U1", "C1", groups), Action.SCALE, ProjectRef("1", "team-a"),
                  Ask(replicas=4, gpus=4))
if not decision.allowed: print(decision.sentence())
"""

from bot.policy.decide import (
    NO_ASK,
    Allowed,
    Ask,
    Caller,
    Decision,
    Denied,
    ProjectRef,
    Summary,
    decide,
    gpus_of,
    gpus_text,
    in_channel_scope,
    over_caps,
    summarize,
)
from bot.policy.groups import GroupResolver
from bot.policy.load import PolicyFileError, load_policy, parse_policy
from bot.policy.model import OPEN_POLICY, Action, Caps, Policy, Rights

__all__ = [
    "NO_ASK",
    "OPEN_POLICY",
    "Action",
    "Allowed",
    "Ask",
    "Caller",
    "Caps",
    "Decision",
    "Denied",
    "GroupResolver",
    "Policy",
    "PolicyFileError",
    "ProjectRef",
    "Rights",
    "Summary",
    "decide",
    "gpus_of",
    "gpus_text",
    "in_channel_scope",
    "load_policy",
    "over_caps",
    "parse_policy",
    "summarize",
]
