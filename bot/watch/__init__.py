"""Follows workloads in Slack threads: store, leader election, poller, notifier.

Import the parts from their modules (`bot.watch.watcher.Watcher`, ...): this package face
stays empty so that reading `bot.watch.tuning` (config does) loads nothing else.
"""
