"""`hub`: the fake Hub served for one test, with the tokens of `harness.TOKENS`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakehub.harness import RunningHub, running_fake_hub


@pytest.fixture
async def hub() -> AsyncIterator[RunningHub]:
    """A running fake Hub."""
    async with running_fake_hub() as running:
        yield running
