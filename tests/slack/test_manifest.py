"""manifest.yaml: the slash command, interactivity, Socket Mode and only the scopes used."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"


def test_manifest_parses_with_command_and_scopes() -> None:
    data = yaml.safe_load(MANIFEST.read_text())
    assert 1 <= len(data["display_information"]["name"]) <= 35
    (command,) = data["features"]["slash_commands"]
    assert command["command"] == "/inference"
    assert "scale <name> <min> [max]" in command["usage_hint"]
    assert len(command["description"]) <= 2000
    assert data["settings"]["interactivity"]["is_enabled"] is True
    assert data["settings"]["socket_mode_enabled"] is True
    assert sorted(data["oauth_config"]["scopes"]["bot"]) == [
        "channels:history",
        "chat:write",
        "commands",
        "files:write",
        "groups:history",
        "im:write",
        "usergroups:read",
    ]


def test_manifest_comments_name_the_http_url() -> None:
    assert "/slack/events" in MANIFEST.read_text()


def test_manifest_declares_the_home_tab_and_its_event() -> None:
    data = yaml.safe_load(MANIFEST.read_text())
    home = data["features"]["app_home"]
    assert home["home_tab_enabled"] is True
    assert home["messages_tab_enabled"] is True  # Home buttons answer in the app's DM
    assert data["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert "event_subscriptions.request_url" in MANIFEST.read_text()
