"""The `inference-bot` command line: run | migrate | emulator | demo."""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
from collections.abc import Iterator, Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inference-bot",
        description="A Slack app that runs NVIDIA Run:ai inference workloads from chat.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (Socket Mode with SLACK_APP_TOKEN, else HTTP on PORT)")
    migrate = sub.add_parser(
        "migrate", help="bring the database at DATABASE_URL to this release's schema, then exit"
    )
    migrate.add_argument("--db-schema", default=None, help="PostgreSQL schema of the tables")
    emulator = sub.add_parser("emulator", help="run the local Run:ai control-plane emulator")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8099)
    sub.add_parser("demo", help="try the bot in this terminal: no Slack, no Run:ai needed")
    return parser


@contextlib.contextmanager
def _importing() -> Iterator[None]:
    """Import a command's modules without garbage collection, then freeze what they made.

    Importing creates over a hundred thousand objects (modules, classes, functions) that
    live as long as the process: collecting while importing is wasted work, and so is
    traversing them in every later full collection. Frozen, no collection looks at them
    again; the few cycles of garbage made while importing (about 2,000 objects) stay.
    Together about 0.1 s of start-up CPU (bench/startup.py).
    """
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    args = _parser().parse_args(argv)
    # Each command imports only what it runs (`run` never loads the emulator or the demo).
    with _importing():
        from bot import aio
        from bot.config import SettingsError, load_settings
        from bot.logs import configure_logging

        if args.command == "emulator":
            from bot.emulator.server import serve_forever
        elif args.command == "migrate":
            from bot.watch.db.migrate import migrate
        elif args.command == "run":
            from bot.service import run_service
        else:
            from bot.demo import run_demo
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"inference-bot: {exc}", file=sys.stderr)
        return 2
    level = settings.log_level
    if args.command == "demo" and "log_level" not in settings.model_fields_set:
        level = "WARNING"  # the demo's terminal is for the conversation, not the logs
    configure_logging(level, settings.log_format)
    try:
        if args.command == "emulator":
            aio.run(serve_forever(settings, host=args.host, port=args.port))
        elif args.command == "migrate":
            before, after = aio.run(migrate(settings.database_url, schema=args.db_schema))
            print(f"database at revision {after} (was {before or 'not migrated'})")
        elif args.command == "run":
            aio.run(run_service(settings))
        else:
            return aio.run(run_demo(settings))
    except KeyboardInterrupt:
        return 130
    return 0
