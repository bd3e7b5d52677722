"""`WatchTuning`: every knob of the watch room and its default, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchTuning:
    """Knobs tests and benchmarks turn; the defaults suit production.

    `poll_interval` and `reconcile_interval` are the defaults of POLL_INTERVAL_SECONDS and
    RECONCILE_INTERVAL_SECONDS (`Settings`), which `start_watch` applies over these.
    """

    poll_interval: float = 5.0
    reconcile_interval: float = 60.0
    # A poll runs this often while a watched workload is changing phase (None: the
    # smaller of `poll_interval` and 1 s).
    fast_interval: float | None = None
    # Each poll asks again for this many seconds before its cursor (clock skew, late writes).
    overlap: float = 10.0
    # Leadership: a dead leader is replaced within ttl + renew_every seconds; a leader
    # stops acting `safety` seconds before its lease may go to another replica.
    lease_ttl: float = 15.0
    lease_renew_every: float = 3.0
    lease_safety: float = 2.0
    # Slack pacing: one post a channel this often; a Slack call gives up after send_timeout.
    channel_interval: float = 1.0
    send_timeout: float = 8.0
    # After a Slack 5xx or timeout: wait this long, doubling with each attempt up to the max.
    retry_backoff: float = 0.5
    retry_backoff_max: float = 60.0
    schema: str | None = None
    holder: str | None = None
    # Migrate the database at start (False: the operator ran `inference-bot migrate`).
    create_schema: bool = True


DEFAULTS = WatchTuning()
"""The production tuning; the parts' own defaults come from here."""
