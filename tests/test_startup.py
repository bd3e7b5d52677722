"""`inference-bot run` loads only what serving needs: what is needed only sometimes (a
chart, a render, a policy file, Socket Mode, the emulator) is imported when it is needed.
bench/startup.py measures the time and memory this saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What `run` imports before it serves: bot.cli's `run` branch and service.assemble's imports.
RUN_IMPORTS = "import bot.cli, bot.service, bot.access.build, bot.watch.runtime"

NOT_AT_START = {
    "matplotlib": "charts: imported on the first chart",
    "numpy": "charts",
    "jinja2": "templates: imported on the first render",
    "yaml": "the policy file parser: imported only when POLICY_FILE is set",
    "slack_bolt.adapter.socket_mode": "Socket Mode only",
    "bot.emulator": "the embedded emulator: only without RUNAI_URL",
    "jsonschema": "the emulator's request validation",
    "openapi_schema_validator": "the emulator's request validation",
    "bot.fakeslack": "the demo and the tests",
    "bot.demo": "the demo",
    "huggingface_hub": "the Hub client: built at the first model lookup (~0.4 s of imports)",
    "alembic": "migrations: a first start creates the tables from the code (~8 MB for good)",
    "mako": "Alembic's templates",
    "httpx": "the Run:ai client speaks aiohttp; httpx only behind RunaiClient(transport=)",
    "sqlalchemy.orm": "SQLAlchemy's ORM (~6 MB): the bot uses Core, from bot.watch.db.aio",
    "sqlalchemy.ext.asyncio": "imports the ORM; bot.watch.db.aio does the part we use",
}

# What a first start does besides importing: build the model-info source, create an
# empty database.
FIRST_START = (
    "import asyncio; from bot.config import Settings; from bot.modelinfo.source import"
    " build_source; from bot.watch.db import migrate; build_source(Settings(), object());"
    " asyncio.run(migrate.migrate('sqlite:///{db}'))"
)


def test_run_imports_nothing_it_needs_only_sometimes(tmp_path: Path) -> None:
    code = (
        f"{RUN_IMPORTS}; {FIRST_START.format(db=tmp_path / 'first.db')}; "
        "import json, sys; print(json.dumps([bot.__file__, *sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True
    )
    where, *names = json.loads(done.stdout)
    assert Path(where).is_relative_to(ROOT)
    loaded = set(names)
    assert "sqlalchemy" in loaded and "slack_bolt" in loaded  # the check itself works
    early = {
        name: why
        for name, why in NOT_AT_START.items()
        if any(m == name or m.startswith(name + ".") for m in loaded)
    }
    assert not early, f"imported at start: {early}"
