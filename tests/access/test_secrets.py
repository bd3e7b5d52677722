"""No secret reaches a message, a log line, the store or an exception text.

Real flows through the guarded app, the real watch room (SQLite), the emulator and the
fake Slack: a gated model looked up with an HF token, a create whose env holds a secret,
Run:ai failing (500, a 401 storm), Slack failing (500, 429). Everything captured is then
scanned for the secret values: every Web API call the fake recorded and its answer,
every response_url post, every modal, every log record at DEBUG (with exception text),
and every row of every table in the database.

One thing is left out on purpose: the `initial_value` of an input in the user's own
modal, when the bot redraws the form they are filling in after an error. That is their
own typing shown back to them in the form, never posted anywhere; leaving it out of the
form would make them type the secret again.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import MetaData, select

from bot.fakeslack import RunningFakeSlack
from tests.access.harness import CHANNEL, FORM, GuardedBot, guarded_bot
from tests.conftest import EmulatorFactory
from tests.e2e.slack_harness import BOT_TOKEN, SIGNING_SECRET

pytest_plugins = ["tests.fakes.fixtures"]

HF_TOKEN = "hf_TopSecretHfToken8c1d2e"
RUNAI_SECRET = "runai-client-secret-Zq81xKp3"
ENV_SECRET = "sk-live-EnvSecretValue-4f9a7b"
SECRETS = (HF_TOKEN, RUNAI_SECRET, ENV_SECRET, BOT_TOKEN, SIGNING_SECRET)


def _without_input_echo(view: Any) -> Any:
    """A view without the initial values of its inputs (the user's own typing)."""
    if isinstance(view, dict):
        return {
            k: _without_input_echo(v)
            for k, v in view.items()
            if not (k in ("initial_value", "initial_option") and "action_id" in view)
        }
    if isinstance(view, list):
        return [_without_input_echo(v) for v in view]
    if isinstance(view, str) and view.startswith("{"):
        try:
            return _without_input_echo(json.loads(view))
        except ValueError:
            return view
    return view


async def _database_rows(g: GuardedBot) -> list[str]:
    engine = g.audit.engine
    rows: list[str] = []
    meta = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(meta.reflect)
        assert {"audit_events", "watches", "outbox"} <= set(meta.tables)
        for table in meta.tables.values():
            rows.extend(str(tuple(r)) for r in (await conn.execute(select(table))).all())
    return rows


def _captured(g: GuardedBot, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    fake = g.fake
    out: dict[str, str] = {}
    for i, call in enumerate(fake.calls):
        seen: Any = [call.args, call.response]
        if call.method.startswith("views."):
            seen = _without_input_echo(seen)
        out[f"call {i} {call.method}"] = json.dumps(seen, default=str)
    for i, r in enumerate(fake.responses):
        out[f"response_url {i}"] = json.dumps(r.body, default=str)
    for m in fake.messages:
        out[f"message {m.ts}"] = m.text + json.dumps(m.blocks, default=str)
    for v in fake.views.values():
        out[f"view {v.id}"] = json.dumps(_without_input_echo([v.view, v.history]), default=str)
    for i, record in enumerate(caplog.records):
        text = f"{record.getMessage()} {vars(record)}"
        if record.exc_info and record.exc_info[1] is not None:
            text += " " + logging.Formatter().formatException(record.exc_info)
        out[f"log {i} {record.name}"] = text
    return out


async def test_no_secret_anywhere(
    emulator_factory: EmulatorFactory,
    fake_slack: RunningFakeSlack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = fake_slack.fake
    async with (
        emulator_factory(client_secret=RUNAI_SECRET, phase_seconds=0.3) as emu,
        guarded_bot(emu, fake_slack, tmp_path, real_watch=True) as g,
    ):
        http = httpx.AsyncClient(base_url=emu.url)
        # 1. a gated model, looked up with a Hugging Face token
        await g.bot.driver.command("/inference", "model meta-llama/Llama-3.1-8B-Instruct")
        token_view = await g.bot.view("inference_hf_token")
        await g.bot.driver.submit_view(token_view, {"f_hf_token": HF_TOKEN})
        await g.bot.reply_with("LlamaForCausalLM")

        # 2. a create whose env holds a secret: Run:ai fails first (500), then succeeds
        form = {**FORM, "f_env": f"API_KEY={ENV_SECRET}\nHF_HUB_OFFLINE=1"}
        await g.bot.driver.command("/inference", "create")
        view = await g.bot.view("inference_create")
        await http.post(
            "/emulator/faults",
            json={"status": 500, "count": 10, "pathPrefix": "/api/v1/workloads/inferences"},
        )
        await g.bot.driver.submit_view(view, form)
        await g.bot.view("inference_create", lambda v: "Run:ai" in v.all_text() and not v.closed)
        await http.delete("/emulator/faults")
        # Slack fails the parent post once (500) and rate-limits a reply (429): retried.
        fake.fail_next("chat.postMessage", error="internal_error", status=500)
        await g.bot.driver.submit_view(view, form)
        parent = await fake.wait_for(
            lambda: next(
                (
                    m
                    for m in fake.channel_messages(CHANNEL)
                    if "qwen-guarded" in m.text and m.ephemeral_to is None and not m.thread_ts
                ),
                None,
            ),
            timeout=20,
        )
        fake.fail_next("chat.postMessage", error="ratelimited", status=429, retry_after=1)
        await fake.wait_for(
            lambda: (
                any("Running" in m.text for m in fake.thread_replies(CHANNEL, parent.ts)) or None
            ),
            timeout=20,
        )
        await g.wait_entry("ok", "create")

        # 3. a 401 storm: every token is refused for a while, the bot says so, then recovers
        await http.post("/emulator/faults", json={"status": 401, "count": 8, "pathPrefix": "/api"})
        await g.bot.driver.command("/inference", "status qwen-guarded")
        await g.bot.reply_with("credentials")
        await http.delete("/emulator/faults")
        await g.bot.driver.command("/inference", "update qwen-guarded")
        update = await g.bot.view("inference_update")
        await g.bot.driver.submit_view(update, {"f_env": f"API_KEY={ENV_SECRET}-2"})
        await g.wait_entry("ok", "update")
        await http.aclose()

        captured = _captured(g, caplog)
        captured.update({f"row {i}": r for i, r in enumerate(await _database_rows(g))})

    assert len(captured) > 100  # the scan looked at a lot
    leaks = [
        f"{where}: {secret[:6]}… in {text[max(0, text.find(secret) - 80) : text.find(secret)]!r}"
        for where, text in captured.items()
        for secret in SECRETS
        if secret in text
    ]
    assert not leaks, "\n".join(leaks[:20])
