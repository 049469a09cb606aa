"""`baomi serve`: the one HTTP server. It serves what the channels ask for — WeCom's callbacks, Telegram's webhook
— and /healthz, which says whether the database answers and the bot's loops run. Everything else runs beside it
as with `baomi run`.

What arrives is committed before it is acknowledged: a 200 means the inbox holds it, anything else makes
WeCom or Telegram send it again. Rejections are logged by kind, never with what was posted.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.app import BaomiApp
from bot.config import ConfigError

log = logging.getLogger("baomi.server")

HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024  # a Telegram update; WeCom's callbacks are held to a smaller limit by its channel
HEALTH_TIMEOUT = 3.0


class Server:
    def __init__(self, app: BaomiApp) -> None:
        self.app = app
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0: any free one, then in `self.port`)."""
        web_app = web.Application(client_max_size=MAX_BODY)
        for channel in self.app.channels.values():
            for route in channel.routes():
                web_app.router.add_route(route.method, route.path, route.handler)
        web_app.router.add_get(HEALTH_PATH, self.health)
        # No access log: the engine logs one line per event, and callback URLs carry signatures.
        runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.host = host
        self.port = runner.addresses[0][1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def health(self, request: web.Request) -> web.Response:
        """200 when the database answers and the engine and the dispatcher run; 503 otherwise."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await self.app.db.check()
            database = "ok"
        except (ConfigError, TimeoutError):
            database = "unreachable"
        state = {
            "database": database,
            "engine": "alive" if self.app.alive("engine") else "stopped",
            "dispatcher": "alive" if self.app.alive("dispatcher") else "stopped",
        }
        healthy = state == {"database": "ok", "engine": "alive", "dispatcher": "alive"}
        return web.json_response(state, status=200 if healthy else 503)


async def serve(app: BaomiApp, host: str, port: int, stop: asyncio.Event) -> None:
    """Run everything until `stop` is set, then finish what is in progress. The server listens first, so that a
    channel registering a webhook when it starts is posted to at once."""
    server = Server(app)
    try:
        await app.migrate()  # before anything is taken into the inbox
        await server.start(host, port)
        await app.start(stop)
        log.info("serving on %s:%s", host, server.port)  # everything runs: /healthz answers 200 from now on
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()
        await app.stop()
