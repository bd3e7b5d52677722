"""`python -m bot.fakeslack`: the fake on its own, for bots in another process."""

from __future__ import annotations

import asyncio
import sys

import httpx


async def test_standalone_fake_answers_and_stops() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.fakeslack", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        api_url = line.rsplit(" ", 1)[1].strip()
        assert api_url.endswith("/api/")
        async with httpx.AsyncClient() as http:
            auth = await http.post(
                f"{api_url}auth.test", headers={"Authorization": "Bearer xoxb-x"}
            )
            assert auth.json()["ok"]
            calls = await http.get(api_url.replace("/api/", "/fake/calls"))
            assert [c["method"] for c in calls.json()] == ["auth.test"]
    finally:
        proc.terminate()
        await proc.wait()
