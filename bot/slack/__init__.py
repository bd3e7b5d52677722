"""Speaks Slack: the `/inference` command, its modals, buttons and replies."""
