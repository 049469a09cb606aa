"""Waiting for the bot to finish what the users of a fake API asked, without sleeping."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from bot.testing.fake_bot_api import FakeBotApi

if TYPE_CHECKING:
    from bot.app import BaomiApp


async def settle(api: FakeBotApi, app: BaomiApp, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    """Return once every update sent is stored, processed, and every reply performed."""
    async with asyncio.timeout(timeout):
        await api.wait_for(lambda a: a.pending_updates_count == 0, timeout=timeout)
        while True:
            await app.engine.process_pending()
            await app.dispatcher.drain()
            # Rows may have been stored meanwhile, or taken by the engine's own loop (this call waited for its batch):
            # look again.
            if not await app.engine.has_pending() and await app.dispatcher.idle():
                return
            await asyncio.sleep(0.002)
