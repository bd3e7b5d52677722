"""The event loop the bot's processes run on: uvloop where it is installed.

uvloop (libuv) serves the same asyncio API with a cheaper loop and transports: the
emulator answers a create/delete pair with ~20% less CPU on it (bench/client_vs_runapy.py).
Where it is missing (Windows, or a slim install without it) asyncio's own loop runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's `new_event_loop` when it can be imported, else None (asyncio's default)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop `loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
