"""bot.aio: the processes the CLI starts run on uvloop, or on asyncio's loop without it."""

from __future__ import annotations

import asyncio
import sys

import pytest

from bot import aio


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not installed on Windows")
def test_runs_on_uvloop_when_installed() -> None:
    assert aio.run(_loop_module()).startswith("uvloop")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes `import uvloop` fail
    assert aio.loop_factory() is None
    assert aio.run(_loop_module()).startswith("asyncio")


def test_raises_what_the_coroutine_raises() -> None:
    async def fails() -> None:
        raise LookupError("boom")

    with pytest.raises(LookupError, match="boom"):
        aio.run(fails())
