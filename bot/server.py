"""`baomi serve`: the one HTTP server. It serves what the channels ask for — WeCom's callbacks, Telegram's webhook
—, the web console under /console/ (bot/console_web/), and /healthz, which says whether the database answers and
every loop of the bot runs (bot/core/supervise.py). Everything else runs beside it as with `baomi run`, which serves
/healthz alone with `--health-port`.

What arrives is committed before it is acknowledged: a 200 means the inbox holds it, anything else makes
WeCom or Telegram send it again. Rejections are logged by kind, never with what was posted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.app import BaomiApp
from bot.config import ConfigError
from bot.console_web import routes as console_routes
from bot.core.supervise import describe, is_outage

log = logging.getLogger("baomi.server")

HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024  # a Telegram update; WeCom's callbacks are held to a smaller limit by its channel
HEALTH_TIMEOUT = 3.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Server:
    def __init__(self, app: BaomiApp, health_only: bool = False) -> None:
        self.app = app
        self.health_only = health_only  # `baomi run --health-port`: /healthz and nothing else
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0
        self._outage: str | None = None  # what the channels' routes last failed on, logged once

    async def start(self, host: str, port: int) -> None:
        """Listen on host:port (port 0: any free one, then in `self.port`)."""
        web_app = web.Application(client_max_size=MAX_BODY, middlewares=[self.outages])
        if not self.health_only:
            routes = [route for channel in self.app.channels.values() for route in channel.routes()]
            for route in routes + console_routes(self.app):
                web_app.router.add_route(route.method, route.path, route.handler)
        web_app.router.add_get(HEALTH_PATH, self.health)
        web_app.on_response_prepare.append(_no_version)
        # No access log: the engine logs one line per event, and callback URLs carry signatures.
        runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            await runner.cleanup()
            option = "--health-host / --health-port" if self.health_only else "--host / --port"
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}): choose another {option}"
            ) from exc
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

    @web.middleware
    async def outages(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A callback or an update that cannot be stored while the database is out of reach is answered 503, which
        WeCom and Telegram send again later; the outage is logged when it begins and when it ends, not per
        request and without a traceback."""
        try:
            response = await handler(request)
        except Exception as exc:
            if not is_outage(exc):
                raise
            what = describe(exc)[1]
            if self._outage is None:
                log.warning("%s: callbacks and updates are answered 503 until it answers", what)
            self._outage = what
            return web.Response(status=503)
        if self._outage is not None and request.path != HEALTH_PATH:
            log.warning("callbacks and updates are stored again")
            self._outage = None
        return response

    async def health(self, request: web.Request) -> web.Response:
        """This instance's role (leader or standby; SQLite: leader) and 200 when the database answers and every loop
        of it is alive — a standby's bid for the lead, and a leader's loops; 503 otherwise, naming what is not
        (`failing`)."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT):
                await self.app.db.check()
            database = "ok"
        except (ConfigError, TimeoutError):
            database = "unreachable"
        state = {"database": database, **self.app.health()}
        failing = [name for name, value in state.items() if value not in ("ok", "alive")]
        state = {"role": self.app.leadership.role, **state}
        if failing:
            return web.json_response({**state, "failing": failing}, status=503)
        return web.json_response(state)


async def _no_version(request: web.Request, response: web.StreamResponse) -> None:
    """The Server header names no software or version (aiohttp's own says both, which helps whoever probes)."""
    response.headers["Server"] = "baomi"


async def serve(app: BaomiApp, host: str, port: int, stop: asyncio.Event, health_only: bool = False) -> int:
    """Run everything until `stop` is set, then finish what is in progress; returns the exit code (see
    Supervisor.outcome). The server listens first, so that a channel registering a webhook when it starts is posted
    to at once. `health_only`: `baomi run`, whose server answers /healthz alone."""
    server = Server(app, health_only)
    try:
        await app.migrate()  # before anything is taken into the inbox
        await server.start(host, port)
        await app.start(stop)
        # Everything runs: /healthz answers 200 from now on.
        log.info("%s on %s:%s", "health" if health_only else "serving", host, server.port)
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()
        await app.stop()
    return app.supervisor.outcome()
