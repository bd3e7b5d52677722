"""`inference-bot demo` with a script piped in: the transcript a new user would see."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

SCRIPT = """\
/inference create
llama-demo
team-a

vllm/vllm-openai:v0.6.3
















wait-for Ready in 30
/inference scale llama-demo 2 2
wait-for Scaled llama-demo 10
/inference metrics llama-demo --since 1h
wait-for saved to 15
/inference delete llama-demo
click Delete
y
wait-for watch has ended 30
exit
"""


def run_demo(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "RUNAI_", "DATABASE_"))
    }
    # Each phase lasts longer than a poll interval, so the thread sees every one of them.
    env.update({"EMULATOR_PHASE_SECONDS": "1", "POLL_INTERVAL_SECONDS": "0.4"})
    return subprocess.run(
        [sys.executable, "-m", "bot", "demo"],
        input=script,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=150,
    )


@pytest.mark.slow  # a real `inference-bot demo` process through a workload's whole life
def test_scripted_session_create_scale_metrics_delete(tmp_path: Path) -> None:
    done = run_demo(tmp_path, SCRIPT)
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    assert "gave up waiting" not in out, out

    # The create modal came as a prompted form.
    assert "┌ Deploy inference" in out
    assert "\nName: llama-demo" in out and "\nImage: vllm/vllm-openai:v0.6.3" in out

    # The thread told the story once, in order, with the parent edited in place.
    story = [
        "llama-demo: Creating → Initializing",
        "llama-demo: Initializing → Running",
        "llama-demo: Running → Deleting",
        # the notifier coalesces Deleting and Deleted when both wait for the same reply
        "→ Deleted",
    ]
    positions = [out.find(step) for step in story]
    assert all(p >= 0 for p in positions), out
    assert positions == sorted(positions), out
    for step in story:
        assert out.count(step) == 1, step
    assert re.search(r"↳ thread of .*Ready in \d+s", out) or "Ready in" in out
    assert "#general (updated)" in out

    # Scale and delete from Slack are recorded, and the delete asked first.
    assert "Scaled llama-demo to 2 replicas" in out
    assert "Really delete?" in out

    # The chart was written to a file and is a valid PNG.
    saved = re.findall(r"saved to (\S+\.png)", out)
    assert saved, out
    path = Path(saved[-1])
    assert path.is_file() and path.is_relative_to(tmp_path)
    with Image.open(path) as image:
        image.verify()
        assert image.format == "PNG"


def test_typos_and_end_of_input_leave_cleanly(tmp_path: Path) -> None:
    done = run_demo(tmp_path, "/inference frobnicate\n/deploy now\nclick 42\n")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "only /inference is installed" in done.stdout
    assert "no button '42'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
