"""A Hugging Face token typed into the demo is never shown: not echoed by the terminal
(read as getpass reads), and not copied into a piped session's transcript."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.demo import run_demo
from tests.conftest import RunningEmulator

TOKEN = "hf_TopSecret0123456789"


async def test_a_piped_token_is_dotted_in_the_transcript(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    script = (
        "/inference model google/gemma-2-9b-it\n"
        "wait-for is gated 10\n"
        "click Enter a Hugging Face token\n"
        f"{TOKEN}\n"
        "wait-for Gemma2ForCausalLM 10\n"
        "exit\n"
    )
    settings = Settings(
        runai_url=emulator.url,
        runai_client_id=emulator.client_id,
        runai_client_secret=SecretStr(emulator.client_secret),
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
    )
    out = io.StringIO()
    code = await run_demo(settings, stdin=io.StringIO(script), stdout=out, charts_dir=tmp_path)
    shown = out.getvalue()
    assert code == 0, shown
    assert "Gemma2ForCausalLM" in shown  # the token reached Run:ai and the lookup worked
    assert "Token: ••••••••" in shown
    assert TOKEN not in shown


READ_ONE_SECRET = """
import asyncio, sys
from bot.demo.console import LineReader
line = asyncio.run(LineReader(sys.stdin, sys.stdout).read("Token: ", secret=True))
print("got", line[::-1], flush=True)
"""


def test_on_a_terminal_a_secret_is_not_echoed() -> None:
    # A real terminal (a pty that is the child's controlling tty): the terminal itself
    # would echo what is typed unless the reader turns echo off, as getpass does.
    master, slave = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", READ_ONE_SECRET],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,  # a new session: the pty becomes its controlling terminal
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    os.close(slave)
    seen = b""
    try:
        seen += _read_until(master, b"Token: ")
        os.write(master, TOKEN.encode() + b"\n")
        seen += _read_until(master, b"got ")
        seen += _read_until(master, b"\n")
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        os.close(master)
    assert f"got {TOKEN[::-1]}".encode() in seen  # the reader did get the token
    assert TOKEN.encode() not in seen  # and the terminal never showed it


def _read_until(fd: int, marker: bytes, timeout: float = 15.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {data!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child closed the pty
                break
            data += chunk
    return data
