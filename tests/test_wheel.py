"""The wheel, built and installed as the Dockerfile does, answers commands: its templates
ship inside it (every other test runs on the checkout, where templates/ sits beside bot/)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = "/inference help\n/inference create\ncancel\nexit\n"


def _build_stage_copies() -> list[list[str]]:
    """The sources the Dockerfile's build stage copies: [[src, ..., dest], ...]."""
    copies: list[list[str]] = []
    for ins in DockerfileParser(path=str(ROOT / "Dockerfile")).structure:
        if ins["instruction"] == "FROM" and copies:
            break
        if ins["instruction"] == "COPY":
            copies.append(ins["value"].split())
    return copies


def _copy_build_context(src: Path) -> None:
    """What the build stage sees: its COPY lines, without what .dockerignore leaves out."""
    ignore = shutil.ignore_patterns("__pycache__", "*.db")
    for *sources, dest in _build_stage_copies():
        for name in sources:
            target = src / dest / name if dest.endswith("/") else src / dest
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, ignore=ignore)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, target)


def _run(
    cmd: list[str], env: dict[str, str], cwd: Path | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=cwd, input=input, timeout=300
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_installed_wheel_renders_messages_and_modals(tmp_path: Path) -> None:
    src, wheels, venv, work = (tmp_path / d for d in ("src", "wheels", "venv", "work"))
    _copy_build_context(src)
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_QUIET": "1"})
    env = {k: v for k, v in env.items() if not k.startswith(("SLACK_", "RUNAI_", "DATABASE_"))}
    # Not byte-compiled (~8 s of CPU): what the wheel holds is the question, not its .pyc.
    env["PIP_COMPILE"] = "0"

    # Build stage: RUN pip wheel --wheel-dir /wheels .
    _run([sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(wheels), "."], cwd=src, env=env)
    # Run stage: RUN pip install --no-index --find-links=/wheels inference-bot (not editable)
    _run([sys.executable, "-m", "venv", str(venv)], env=env)
    python, pip = venv / "bin" / "python", venv / "bin" / "pip"
    _run([str(pip), "install", "--no-index", f"--find-links={wheels}", "inference-bot"], env=env)

    # The templates the installed bot renders are the wheel's, in the venv's site-packages.
    where = _run(
        [str(python), "-c", "from bot.slack import render; print(render.TEMPLATES_DIR)"],
        cwd=work,
        env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(venv) and "site-packages" in where, where
    assert (Path(where) / "modals" / "create.json.j2").is_file()

    # And a command renders a message (help) and a modal (create), in the installed demo.
    done = _run(
        [str(venv / "bin" / "inference-bot"), "demo"],
        input=SCRIPT,
        cwd=work,
        env=env,
    )
    assert "deploy an inference workload" in done.stdout, done.stdout
    assert "┌ Deploy inference" in done.stdout, done.stdout
    assert "TemplateNotFound" not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
