"""Idle endpoints: is a workload idle, is a nudge due, and what the nudge says.

An inference workload is idle when its running replicas hold GPUs and it served no
requests (THROUGHPUT 0, or no samples at all) for the idle window (`IDLE_AFTER`, or the
channel binding's `idle.after`). One nudge per idle *episode*: the episode ends when the
workload serves traffic again or its GPUs are released (scaled to zero, stopped), and
only then can a new one start. Keep silences a workload until its date; if it is still
idle then, that is worth a new nudge. With the binding's `action: scale-to-zero` the nudge
says the bot will scale it to zero after `AUTO_ACTION_DELAY`, and the next check after
that does it unless someone pressed Keep.

Pure: the idle job passes in what it observed and the time, stores the returned episode
and posts or acts on the returned step. Episodes are JSON-serialisable (`to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from bot.durations import say_duration
from bot.policy.model import IdleAction, IdleRule
from bot.runai import models
from bot.watch.care.usage import (
    Sample,
    cost,
    gpu_hours,
    say_gpu_hours,
    say_gpus,
    say_money,
    served_any,
)

KEEP_FOR = timedelta(days=7)
"""How long the Keep button silences a workload."""

AUTO_ACTION_DELAY = timedelta(hours=1)
"""Between the nudge that says "scaling to zero in 1 h" and the scale."""

SCALE_TO_ZERO_METRICS = ("throughput", "concurrency")
"""Autoscaling metrics that can scale to zero (FACTS.md §5)."""

DEFAULT_THROUGHPUT_THRESHOLD = 10
"""Requests/s per replica when Scale to zero must add the throughput metric and the
workload had no threshold for it (Run:ai requires one whenever a metric is set)."""


class Activity(StrEnum):
    """What a workload did over the idle window."""

    NOT_HOLDING = "not-holding"  # no GPUs on running replicas: nothing to reclaim
    WARMING = "warming"  # holds GPUs, but for less than the window: too soon to say
    SERVING = "serving"  # served requests in the window
    IDLE = "idle"  # held GPUs through the whole window and served nothing


@dataclass(frozen=True)
class IdleObservation:
    """What the idle job saw of one workload."""

    workload_id: str
    name: str
    gpus: float
    """GPUs allocated to its running replicas (`allocatedResources.gpu`)."""
    held_since: datetime | None
    """Since when its replicas have held GPUs (e.g. when it last became Running); None:
    unknown, treated as the whole window."""
    throughput: Sequence[Sample]
    """THROUGHPUT samples over the window; none at all counts as no traffic."""


def activity(obs: IdleObservation, now: datetime, window: timedelta) -> Activity:
    """Classify one observation over the idle window ending at `now`."""
    if obs.gpus <= 0:
        return Activity.NOT_HOLDING
    start = now - window
    if served_any(s for s in obs.throughput if s.at >= start):
        return Activity.SERVING
    if obs.held_since is not None and now - obs.held_since < window:
        return Activity.WARMING
    return Activity.IDLE


@dataclass(frozen=True)
class IdleEpisode:
    """The stored state of one workload's idle episode in one channel."""

    nudged_at: datetime | None = None
    kept_until: datetime | None = None
    kept_by: str | None = None
    act_at: datetime | None = None
    """When the automatic scale-to-zero is due (policy `action: scale-to-zero`)."""
    acted_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601)."""
        return {
            k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in self.__dict__.items()
            if v is not None
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> IdleEpisode:
        """The inverse of `to_json`; None or {} is a workload never nudged."""
        if not data:
            return cls()

        def when(key: str) -> datetime | None:
            value = data.get(key)
            return datetime.fromisoformat(value) if value else None

        kept_by = data.get("kept_by")
        return cls(
            nudged_at=when("nudged_at"),
            kept_until=when("kept_until"),
            kept_by=str(kept_by) if kept_by else None,
            act_at=when("act_at"),
            acted_at=when("acted_at"),
        )


class Step(StrEnum):
    """What the idle job does now."""

    NONE = "none"  # nothing to post
    NUDGE = "nudge"  # post the nudge in the thread, broadcast to the channel
    ACT = "act"  # scale to zero now (the policy's automatic action, unkept)
    END = "end"  # the episode is over (it served traffic or let its GPUs go)


@dataclass(frozen=True)
class IdleDecision:
    """The step to take and the episode to store afterwards."""

    step: Step
    episode: IdleEpisode
    activity: Activity
    window: timedelta


def window_of(idle_after: timedelta, rule: IdleRule | None) -> timedelta:
    """The idle window in a channel: the binding's `idle.after`, else `IDLE_AFTER`."""
    return rule.after if rule is not None and rule.after is not None else idle_after


def decide(
    obs: IdleObservation,
    episode: IdleEpisode,
    now: datetime,
    idle_after: timedelta,
    rule: IdleRule | None = None,
) -> IdleDecision:
    """One check of one workload in one channel: the step and the episode to store."""
    window = window_of(idle_after, rule)
    seen = activity(obs, now, window)

    def done(step: Step, new: IdleEpisode = episode) -> IdleDecision:
        return IdleDecision(step, new, seen, window)

    if seen in (Activity.SERVING, Activity.NOT_HOLDING):
        if episode.nudged_at is None:
            return done(Step.NONE)
        # A Keep outlives the episode it was pressed in: it is a promise about a date.
        return done(Step.END, IdleEpisode(kept_until=episode.kept_until, kept_by=episode.kept_by))
    if seen is Activity.WARMING:
        return done(Step.NONE)
    kept = episode.kept_until is not None and now < episode.kept_until
    if kept:
        return done(Step.NONE)
    keep_ran_out = (
        episode.kept_until is not None
        and episode.nudged_at is not None
        and episode.nudged_at < episode.kept_until <= now
    )
    if episode.nudged_at is None or keep_ran_out:
        auto = rule is not None and rule.action is IdleAction.SCALE_TO_ZERO
        return done(
            Step.NUDGE,
            IdleEpisode(nudged_at=now, act_at=now + AUTO_ACTION_DELAY if auto else None),
        )
    if episode.act_at is not None and episode.acted_at is None and now >= episode.act_at:
        return done(Step.ACT, replace(episode, acted_at=now))
    return done(Step.NONE)


def keep(episode: IdleEpisode, now: datetime, user: str) -> IdleEpisode:
    """The Keep button: no nudge (and no automatic scale) until `now + KEEP_FOR`."""
    return replace(episode, kept_until=now + KEEP_FOR, kept_by=user, act_at=None)


def scale_to_zero(current: models.AutoScaling | None) -> models.AutoScaling:
    """The Scale to zero button's autoscaling: min 0, max kept, a metric that can scale to
    zero (FACTS.md §5: a metric is needed unless the range is 0-1; only throughput and
    concurrency scale to zero; a metric needs a threshold)."""
    auto = current or models.AutoScaling()
    high = models.effective_max_replicas(auto.min_replicas, auto.max_replicas)
    metric, threshold = auto.metric, auto.metric_threshold
    if metric not in SCALE_TO_ZERO_METRICS:
        metric, threshold = "throughput", None
    if high == 1 and auto.metric is None:
        metric = None  # 0-1 without a metric follows network activity
    if metric is not None and threshold is None:
        threshold = DEFAULT_THROUGHPUT_THRESHOLD
    return models.AutoScaling(
        min_replicas=0,
        max_replicas=high,
        metric=metric,
        metric_threshold=threshold if metric is not None else None,
        scale_to_zero_retention_seconds=auto.scale_to_zero_retention_seconds,
    )


@dataclass(frozen=True)
class Nudge:
    """What the idle nudge says (the template escapes every string)."""

    workload_id: str
    name: str
    sentence: str
    """`my-qwen served no requests in the last 24 h while holding 2 GPUs: 48 GPU-hours
    (120.00 USD).`"""
    auto_note: str | None
    """`Scaling to zero in 1 h unless someone presses Keep.` with the automatic action."""
    gpu_hours: float
    money: str | None
    keep_label: str = f"Keep for {KEEP_FOR.days} days"


def nudge(
    obs: IdleObservation,
    window: timedelta,
    price: Decimal | None,
    currency: str,
    rule: IdleRule | None = None,
) -> Nudge:
    """The words of the nudge for an idle workload."""
    hours = gpu_hours(obs.gpus, window)
    amount = cost(hours, price)
    money = say_money(amount, currency) if amount is not None else None
    sentence = (
        f"{obs.name} served no requests in the last {say_duration(window)} "
        f"while holding {say_gpus(obs.gpus)}: {say_gpu_hours(hours)}"
        + (f" ({money})" if money else "")
        + "."
    )
    auto = rule is not None and rule.action is IdleAction.SCALE_TO_ZERO
    note = (
        f"Scaling to zero in {say_duration(AUTO_ACTION_DELAY)} unless someone presses Keep."
        if auto
        else None
    )
    return Nudge(obs.workload_id, obs.name, sentence, note, hours, money)
