"""Follows workloads in Slack threads: store, leader election, poller, notifier."""

from bot.watch.watcher import Watcher

__all__ = ["Watcher"]
