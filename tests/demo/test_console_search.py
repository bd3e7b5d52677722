"""The demo console with more projects than a Slack select holds: the project field is a
search, answered by the bot's block_suggestion handler, as in Slack."""

from __future__ import annotations

import io
from pathlib import Path

from pydantic import SecretStr

from bot.config import Settings
from bot.demo import run_demo
from bot.emulator.org import ProjectInfo
from tests.conftest import RunningEmulator

AFTER_IMAGE = "\n" * 16  # every other field of the create form keeps its default


async def test_the_project_is_found_by_typing_part_of_its_name(
    emulator: RunningEmulator, tmp_path: Path
) -> None:
    for i in range(150):
        emulator.state.projects[str(100 + i)] = ProjectInfo(str(100 + i), f"ml-{i:03d}")
    script = (
        "/inference create\n"
        "searched\n"
        "zz-none\n"  # nothing matches: said, and asked again
        "ml-14\n"  # ten match: numbered
        "8\n"  # ml-147
        "\n"  # the only cluster
        "vllm/vllm-openai:v0.6.3\n" + AFTER_IMAGE + "wait-for Creating 10\nexit\n"
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
    assert "! nothing matches 'zz-none'" in shown
    assert "Project: 1) ml-140, 2) ml-141" in shown and "8) ml-147" in shown
    [record] = [r for r in emulator.state.iter_records() if r.name == "searched"]
    assert record.project.name == "ml-147"
