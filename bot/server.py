"""`baomi serve`: the one HTTP server. It takes what is posted to the bot — WeCom's callbacks at /wecom/callback,
Telegram's updates at /telegram/webhook — into the inbox and answers at once; /healthz says whether the
database answers and the engine and dispatcher run. Everything else runs beside it as with `baomi run`.

What arrives is committed before it is acknowledged: a 200 means the inbox holds it, anything else makes
WeCom or Telegram send it again. Rejections are logged by kind, never with what was posted.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from aiohttp import web

from bot.app import BaomiApp
from bot.channels.wecom.crypto import MAX_CALLBACK_BYTES, BadReceiveId, BadSignature, WeComCryptoError
from bot.config import ConfigError

log = logging.getLogger("baomi.server")

WECOM_PATH = "/wecom/callback"
TELEGRAM_PATH = "/telegram/webhook"
HEALTH_PATH = "/healthz"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # a Telegram update; WeCom's callbacks are held to MAX_CALLBACK_BYTES
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
        if self.app.wecom is not None:
            web_app.router.add_get(WECOM_PATH, self.wecom_verify)
            web_app.router.add_post(WECOM_PATH, self.wecom_callback)
        if self.app.webhook:
            web_app.router.add_post(TELEGRAM_PATH, self.telegram_update)
        web_app.router.add_get(HEALTH_PATH, self.health)
        # No access log: the engine logs one line per event, and callback URLs carry signatures.
        runner = web.AppRunner(web_app, access_log=None, handle_signals=False, shutdown_timeout=5.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self.host = host
        self.port = runner.addresses[0][1]
        log.info("serving on %s:%s", host, self.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- WeCom ----------------------------------------------------------------------------------------------
    async def wecom_verify(self, request: web.Request) -> web.Response:
        """WeCom checks the URL when the callback is set up: answer the decrypted echo, as plain text."""
        assert self.app.wecom is not None
        try:
            echo = self.app.wecom.verify_url(request.query)
        except WeComCryptoError as exc:
            return _rejected(exc)
        return web.Response(text=echo)

    async def wecom_callback(self, request: web.Request) -> web.Response:
        """Commit the message to the inbox and answer 200 with an empty body, well within WeCom's 5 seconds; the
        reply goes out through the outbox."""
        assert self.app.wecom is not None
        body = await request.content.read(MAX_CALLBACK_BYTES + 1)
        if len(body) > MAX_CALLBACK_BYTES:
            log.warning("WeCom callback rejected (body over %s bytes)", MAX_CALLBACK_BYTES)
            return web.Response(status=413)
        try:
            await self.app.wecom.receive(body, request.query)
        except WeComCryptoError as exc:
            return _rejected(exc)
        return web.Response()

    # --- Telegram -------------------------------------------------------------------------------------------
    async def telegram_update(self, request: web.Request) -> web.Response:
        """An update posted by Telegram: checked by the secret it was given, stored as long polling stores it."""
        assert self.app.telegram is not None and self.app.settings.telegram_webhook_secret is not None
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.app.settings.telegram_webhook_secret.encode()):
            log.warning("Telegram webhook rejected (wrong or missing secret token)")
            return web.Response(status=401)
        try:
            update = await request.json()
        except ValueError:
            update = None
        if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
            log.warning("Telegram webhook rejected (not an update)")
            return web.Response(status=400)
        await self.app.telegram.store([update])
        return web.Response()

    # --- health ---------------------------------------------------------------------------------------------
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


def _rejected(exc: WeComCryptoError) -> web.Response:
    # The kind of failure only: the message of a decryption error may quote what was received.
    log.warning("WeCom callback rejected (%s)", type(exc).__name__)
    return web.Response(status=403 if isinstance(exc, BadSignature | BadReceiveId) else 400)


async def serve(app: BaomiApp, host: str, port: int, stop: asyncio.Event) -> None:
    """Run everything until `stop` is set, then finish what is in progress."""
    server = Server(app)
    try:
        await app.start(stop)
        await server.start(host, port)
        if app.webhook:
            await app.register_webhook()  # only now: Telegram posts at once
        await stop.wait()
        log.info("stopping")
    finally:
        await server.stop()
        await app.stop()
