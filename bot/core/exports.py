"""Files made when they are sent: the dispatcher hands a row's `Export` here, which runs its maker in a thread of its
own, with an event loop and database connections of its own. So a workbook of the whole bureau is read outside
every transaction of the engine and written without holding the event loop: nobody's reply waits for another
person's export (the thread only shares the interpreter with the loop)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from bot.clock import Clock
from bot.config import Policy
from bot.core.flow import ExportContext, ExportMaker
from bot.db.session import Database
from bot.texts import Texts

log = logging.getLogger("baomi.exports")


class Exports:
    def __init__(self, url: str, clock: Clock, policy: Policy, texts: Texts, makers: Mapping[str, ExportMaker]) -> None:
        self.url = url
        self.clock = clock
        self.policy = policy
        self.texts = texts
        self.makers = makers

    async def make(self, export: Mapping[str, Any]) -> dict[str, str] | None:
        """The file of an `Export` as a channel sends it ({"filename", "content_b64", "caption"}), or None when it
        cannot be made (logged; the row's text goes alone)."""
        maker = self.makers.get(export.get("kind", ""))
        if maker is None:
            log.error("no maker for exports of kind %r", export.get("kind"))
            return None
        try:
            return await asyncio.to_thread(asyncio.run, self._made(maker, dict(export.get("params") or {})))
        except Exception as exc:
            log.exception("export %s could not be made: %s", export.get("kind"), type(exc).__name__)
            return None

    async def _made(self, maker: ExportMaker, params: dict[str, Any]) -> dict[str, str]:
        db = Database(self.url)  # this thread's loop: the process's engine belongs to the main loop
        try:
            async with db.sessions() as session:
                document = await maker(ExportContext(session, self.clock.now(), self.policy, self.texts), params)
        finally:
            await db.dispose()
        return asdict(document)
