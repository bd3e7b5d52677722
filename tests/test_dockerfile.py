"""Static checks of the Dockerfile: no Docker engine here, so read its instructions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def instructions() -> list[dict[str, str]]:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return list(parser.structure)


def _final_stage(instructions: list[dict[str, str]]) -> list[dict[str, str]]:
    starts = [i for i, ins in enumerate(instructions) if ins["instruction"] == "FROM"]
    return instructions[starts[-1] :]


def test_multi_stage_on_python_slim(instructions: list[dict[str, str]]) -> None:
    bases = [ins["value"].split()[0] for ins in instructions if ins["instruction"] == "FROM"]
    assert len(bases) >= 2, "build and run stages"
    assert all(base.startswith("python:") and base.endswith("-slim") for base in bases)


def test_final_stage_installs_wheels_only(instructions: list[dict[str, str]]) -> None:
    final = _final_stage(instructions)
    copies = [ins["value"] for ins in final if ins["instruction"] == "COPY"]
    assert copies and all(c.startswith("--from=") for c in copies), "no sources in the run stage"
    runs = " ".join(ins["value"] for ins in final if ins["instruction"] == "RUN")
    assert "--no-index" in runs and "--find-links" in runs


def test_runs_as_non_root(instructions: list[dict[str, str]]) -> None:
    users = [
        ins["value"].strip() for ins in _final_stage(instructions) if ins["instruction"] == "USER"
    ]
    assert users, "a USER instruction in the run stage"
    assert users[-1] not in {"root", "0", "0:0"}


def test_entry_point_is_inference_bot_run(instructions: list[dict[str, str]]) -> None:
    final = _final_stage(instructions)
    entry = [json.loads(i["value"]) for i in final if i["instruction"] == "ENTRYPOINT"][-1]
    cmd = [json.loads(i["value"]) for i in final if i["instruction"] == "CMD"][-1]
    assert entry + cmd == ["inference-bot", "run"]


def test_healthcheck_probes_healthz(instructions: list[dict[str, str]]) -> None:
    checks = [i["value"] for i in _final_stage(instructions) if i["instruction"] == "HEALTHCHECK"]
    assert checks and "/healthz" in checks[-1]


def test_no_secrets_baked_in(instructions: list[dict[str, str]]) -> None:
    assert not [i for i in instructions if i["instruction"] == "ADD"], "COPY only, never ADD"
    secret_words = ("TOKEN", "SECRET", "PASSWORD", "xoxb-", "xapp-")
    for ins in instructions:
        if ins["instruction"] in {"ENV", "ARG", "LABEL"}:
            assert not any(w in ins["value"] for w in secret_words), ins["content"]
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".git" in ignored and ".venv" in ignored
