"""The Run:ai emulator in its own process for a benchmark (`python -m bot emulator`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(
    port: int, client_id: str, client_secret: str, phase_seconds: float
) -> subprocess.Popen[bytes]:
    """Start `python -m bot emulator --port <port>` with these credentials, output silenced."""
    env = {
        **os.environ,
        "RUNAI_CLIENT_ID": client_id,
        "RUNAI_CLIENT_SECRET": client_secret,
        "EMULATOR_PHASE_SECONDS": f"{phase_seconds:g}",
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "emulator", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
