"""Two takers of one bot's updates: Telegram's 409 Conflict is survived and named, and polling never deletes a
webhook that `baomi serve` set unless it is told to."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import aiohttp
import pytest

from bot.app import build_app
from bot.channels.telegram import channel as telegram
from bot.clock import SettableClock
from bot.config import ConfigError, Settings
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import TZ
from tests.fakes.harness import TOKEN, fake_api, running_bot

WEBHOOK_URL = "https://baomi.example.org/telegram/webhook"


async def call(api: FakeBotApi, method: str, **params: object) -> dict[str, object]:
    """A Bot API call made by someone else with the bot's token (another instance, an operator)."""
    async with aiohttp.ClientSession() as http, http.post(f"{api.base_url}{TOKEN}/{method}", json=params) as response:
        return dict(await response.json())


async def test_polling_refuses_to_delete_a_webhook_it_did_not_set(db_url: str, clock: SettableClock) -> None:
    async with fake_api() as api:
        await call(api, "setWebhook", url=WEBHOOK_URL, secret_token="s" * 32)
        settings = Settings(database_url=db_url, timezone=TZ, telegram_token=TOKEN, telegram_api_url=api.base_url)
        app = build_app(settings, clock)
        app.migrated = True
        with pytest.raises(ConfigError, match="--delete-webhook") as refused:
            await app.start(asyncio.Event())
        await app.stop()
        assert WEBHOOK_URL in str(refused.value)
        assert api.calls("deleteWebhook") == [] and api.calls("getUpdates") == []

        told = build_app(replace(settings, telegram_delete_webhook=True), clock)
        told.migrated = True
        stop = asyncio.Event()
        await told.start(stop)
        try:
            assert len(api.calls("deleteWebhook")) == 1
            await api.wait_for(lambda a: a.is_polling)
        finally:
            stop.set()
            await told.stop()


async def test_a_second_poller_is_named_and_survived(
    db_url: str, clock: SettableClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(telegram, "CONFLICT_BACKOFF", (0.05, 0.2))
    caplog.set_level(logging.ERROR, "baomi.telegram")
    async with fake_api() as api, running_bot(api, db_url, clock) as app:
        await api.wait_for(lambda a: a.is_polling)
        # Another process polls with the token: Telegram ends our waiting poll with 409.
        await call(api, "getUpdates", timeout=0)
        await api.wait_for(lambda a: len(a.calls("getWebhookInfo")) >= 2)  # the start's, and the one naming why
        # Then a webhook is set by `baomi serve`: every poll gets 409 until it is deleted.
        await call(api, "setWebhook", url=WEBHOOK_URL, secret_token="s" * 32)
        await api.wait_for(lambda a: any("webhook is set" in r.getMessage() for r in caplog.records), timeout=10)
        assert app.alive("poll")  # the poll survives both, and counts in the health
        await call(api, "deleteWebhook")
        await api.send_text(601, "/help")
        await api.wait_for(lambda a: any(m.get("from", {}).get("is_bot") for m in a.chat(601)), timeout=10)
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert "another process polls with this token" in errors[0]
        assert all(message.startswith("getUpdates refused (409 Conflict)") for message in errors)
        assert app.health()["poll"] == "alive"
