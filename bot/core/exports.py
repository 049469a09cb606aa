"""Files made when they are sent: the dispatcher hands a row's `Export` here, which runs its maker in a process of
its own (made for the one file, with its own database connections and event loop). So a workbook of the whole
bureau is read outside every transaction of the engine and written on the other core: nobody's reply waits for
another person's export, not even for the interpreter's lock, and the process's memory is returned when it ends."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Policy
from bot.core.flow import ExportContext, ExportMaker
from bot.db.session import Database
from bot.texts import Texts

log = logging.getLogger("baomi.exports")


class Exports:
    def __init__(
        self, url: str, clock: Clock, policy: Policy, timezone: ZoneInfo, makers: Mapping[str, ExportMaker]
    ) -> None:
        self.url = url
        self.clock = clock
        self.policy = policy
        self.timezone = timezone
        self.makers = makers
        # Each file's process is forked from a server process started once, not from this one (it has threads and
        # a running loop), with the makers' modules already imported: a file's process starts in about 10 ms, not
        # the half second or more that spawning one and importing them took.
        self.processes = multiprocessing.get_context("forkserver")
        self.processes.set_forkserver_preload(sorted({__name__, *(m.__module__ for m in makers.values())}))

    async def make(self, export: Mapping[str, Any]) -> dict[str, str] | None:
        """The file of an `Export` as a channel sends it ({"filename", "content_b64", "caption"}), or None when it
        cannot be made (logged; the row's text goes alone)."""
        kind = str(export.get("kind", ""))
        maker = self.makers.get(kind)
        if maker is None:
            log.error("no maker for exports of kind %r", kind)
            return None
        params = dict(export.get("params") or {})
        job = (self.url, self.timezone, self.policy, maker, params, self.clock.now())
        try:
            with ProcessPoolExecutor(max_workers=1, mp_context=self.processes) as pool:
                return await asyncio.get_running_loop().run_in_executor(pool, made, *job)
        except Exception as exc:
            log.exception("export %s could not be made: %s", kind, type(exc).__name__)
            return None


def made(
    url: str, timezone: ZoneInfo, policy: Policy, maker: ExportMaker, params: dict[str, Any], now: datetime
) -> dict[str, str]:
    """In the export's process: the file, made from the database."""

    async def make() -> dict[str, str]:
        db = Database(url)
        try:
            async with db.sessions() as session:
                document = await maker(ExportContext(session, now, policy, Texts(timezone)), params)
        finally:
            await db.dispose()
        return asdict(document)

    return asyncio.run(make())
