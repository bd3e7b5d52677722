"""Prometheus metrics of the bot: one registry, every series named here."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)

COMMANDS = Counter(
    "inference_bot_commands",
    "Slash commands handled, by subcommand and outcome.",
    ["subcommand", "outcome"],
    registry=REGISTRY,
)
RUNAI_REQUESTS = Histogram(
    "inference_bot_runai_request_seconds",
    "Run:ai API call latency, by operation and HTTP status (0 when no answer).",
    ["operation", "status"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
NOTIFICATIONS = Counter(
    "inference_bot_notifications",
    "Thread notifications, by outcome (delivered, retried).",
    ["outcome"],
    registry=REGISTRY,
)
NOTIFICATIONS_PENDING = Gauge(
    "inference_bot_notifications_pending",
    "Notifications waiting in the outbox.",
    registry=REGISTRY,
)
POLL_SECONDS = Histogram(
    "inference_bot_poll_seconds",
    "Duration of one poll of Run:ai for watched workloads.",
    registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LEADER = Gauge(
    "inference_bot_leader",
    "1 while this process holds the lease that polls and delivers, else 0.",
    registry=REGISTRY,
)


def exposition() -> tuple[bytes, str]:
    """The current metrics in Prometheus text format, with its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
