"""Who is asking: one Slack request's user, channel and groups, resolved once by the
`admit` middleware and handed along explicitly (Bolt's `context`, then the bound parts)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.policy import Action, Decision, ProjectRef
from bot.runai import models


@dataclass(eq=False)
class Asker:
    """One Slack request: who, where, what they mean to do, what was learned so far."""

    user: str
    channel: str | None
    intent: Action
    # Idempotency key of a modal submission: the same user submitting the same view with
    # the same values.
    key: str | None = None
    # A modal's request: its channel comes from the modal's private_metadata.
    modal: bool = False
    # Acting for the user without them at the keyboard (`schedule s7k2qa`): said in the audit.
    via: str | None = None
    # Performing an approved request (`bot.access.approvals`): its id. The thresholds of
    # the channel's `approval:` are then met; the rights and caps are still decided now.
    approved: str | None = None
    # The policy's user groups the user is in: resolved at most once (`Gate.caller`).
    groups: frozenset[str] | None = None
    resolving: asyncio.Future[frozenset[str]] | None = field(default=None, repr=False)
    # Learned while handling the request, so nothing is looked up or decided twice.
    projects: dict[str, ProjectRef] = field(default_factory=dict)
    inferences: dict[str, models.Inference] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)  # workloads whose lookup passed
    decided: dict[tuple[Action, ProjectRef | None], Decision] = field(default_factory=dict)

    @property
    def placeless(self) -> bool:
        """A modal that does not say which channel it was opened in (so no binding can be
        told): refused rather than treated as unbound."""
        return self.modal and not self.channel
