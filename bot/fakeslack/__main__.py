"""`python -m bot.fakeslack [--host 127.0.0.1] [--port 8098]`: a fake Slack on its own, for
out-of-process bots (SLACK_API_URL=http://host:port/api/); controls under /fake/."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from bot import aio
from bot.fakeslack.server import serve_fake_slack
from bot.fakeslack.socket_mode import serve_socket_mode


async def _main(host: str, port: int, socket_mode: bool) -> None:
    async with serve_fake_slack(host=host, port=port) as running:
        print(f"fake Slack Web API at {running.api_url}", flush=True)
        if socket_mode:
            async with serve_socket_mode(running.fake, host) as sm:
                print(f"fake Socket Mode at {sm.url}", flush=True)
                await asyncio.Event().wait()
        await asyncio.Event().wait()


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bot.fakeslack")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8098)
    parser.add_argument("--socket-mode", action="store_true", help="also serve Socket Mode")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        aio.run(_main(args.host, args.port, args.socket_mode))


if __name__ == "__main__":
    main()
