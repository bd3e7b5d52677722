"""A fake Hub on a loopback socket for one test (used by tests/fakehub and tests/modelinfo)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.fakehub import FakeHubState, create_app
from bot.serving import serve

# Tokens of the fake Hub in these tests: one granted a gated model, one granted nothing.
GRANTED_TOKEN = "hf_granted_9c1e4a7b2d"
UNGRANTED_TOKEN = "hf_ungranted_5f3b8e0a61"
GATED_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
TOKENS = {GRANTED_TOKEN: {GATED_MODEL}, UNGRANTED_TOKEN: set[str]()}


@dataclass
class RunningHub:
    """A served fake Hub: its URL and its state (calls seen)."""

    url: str
    state: FakeHubState


@contextlib.asynccontextmanager
async def running_fake_hub(**options: Any) -> AsyncIterator[RunningHub]:
    """Serve `create_app(**options)` (the test tokens by default) for a block."""
    options.setdefault("tokens", TOKENS)
    app = create_app(**options)
    async with serve(app) as server:
        yield RunningHub(url=server.url, state=app.state.hub)
