"""`inference-bot emulator`: serve the emulator until interrupted."""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette

from bot.config import Settings
from bot.emulator.app import create_app
from bot.serving import serve

logger = logging.getLogger(__name__)


def app_from_settings(settings: Settings) -> Starlette:
    """The emulator the settings describe: their credentials, phase step, model-info path."""
    client_id, client_secret = settings.runai_credentials()
    return create_app(
        client_id=client_id,
        client_secret=client_secret,
        phase_seconds=settings.emulator_phase_seconds,
        model_info_path=settings.runai_model_info_path,
    )


async def serve_forever(settings: Settings, host: str, port: int) -> None:
    """Serve the emulator on host:port and log the URL and the credentials it accepts."""
    client_id, client_secret = settings.runai_credentials()
    app = app_from_settings(settings)
    async with serve(app, host, port) as server:
        # The secret is only echoed when it is the public demo default.
        shown = client_secret if client_secret == "demo" else "<RUNAI_CLIENT_SECRET>"
        logger.info(
            "emulator listening",
            extra={
                "url": server.url,
                "client_id": client_id,
                "client_secret": shown,
                "phase_seconds": settings.emulator_phase_seconds,
            },
        )
        await asyncio.Event().wait()
