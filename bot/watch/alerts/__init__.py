"""Metric alerts, stuck workloads and quieter threads: the pure decisions.

rules.py (a rule, its words, which metrics it needs, its verdict over a window),
episodes.py (ok → firing → resolved, snooze: what to post), stuck.py, flapping.py and
phases.py (the `watch --only` filter). No I/O anywhere here: the evaluation job on the lease
holder feeds observations in and stores what comes out (every state is JSON-ready).
"""
