"""The README's two commands: CI runs the second; the first works on a fresh clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The shell commands of the README's first code block, comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md starts with a ```sh block"
    return [
        line.strip()
        for line in block.group(1).splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_readme_opens_with_run_and_test_commands() -> None:
    run, test = readme_commands()
    assert run.endswith("inference-bot demo")
    assert test.endswith("pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, test = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in [line.strip() for line in ci]


@pytest.mark.slow  # a fresh virtual environment and an install of every dependency
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
@pytest.mark.timeout(600)
def test_first_command_on_a_fresh_clone(tmp_path: Path) -> None:
    """Clone what is committed, run the README's first command, type `/inference help`."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    run, _ = readme_commands()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    # PIP_COMPILE=0: pip skips byte-compiling what it installs (~8 s of CPU in a suite
    # bound by CPU); the command is the README's, to the letter.
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_QUIET": "1", "PIP_COMPILE": "0"})
    done = subprocess.run(
        ["bash", "-c", run],
        cwd=clone,
        input="/inference help\nexit\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=580,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "inference-bot demo" in done.stdout
    assert "(only you)" in done.stdout, "the bot's help reply reached the console"
    assert "deploy an inference workload" in done.stdout
    assert "Traceback" not in done.stderr
