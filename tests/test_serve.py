"""`baomi serve`: the one HTTP server — Telegram by webhook, the health check, the command line."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from bot.channels.telegram.channel import SECRET_HEADER
from bot.channels.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.channels.wecom.channel import CALLBACK_PATH as WECOM_PATH
from bot.cli import main
from bot.clock import SettableClock
from bot.config import ConfigError, Settings
from bot.db.session import Database
from bot.testing.fake_wecom import FakeWeCom, serving, settle
from bot.texts import Texts
from tests.conftest import TZ
from tests.fakes.harness import fake_api

SECRET = "webhook_Secret-123-of-at-least-32-characters"
WEBHOOK_URL = "https://baomi.example.org/telegram/webhook"


async def test_telegram_updates_arrive_by_webhook(db_url: str, db: Database, clock: SettableClock) -> None:
    async with fake_api() as api:
        settings = Settings(
            database_url=db_url,
            timezone=TZ,
            telegram_token=api.token,
            telegram_api_url=api.base_url,
            telegram_webhook_url=WEBHOOK_URL,
            telegram_webhook_secret=SECRET,
        )
        async with serving(settings, clock) as server, aiohttp.ClientSession() as http:
            (registered,) = api.calls("setWebhook")
            assert registered.params["url"] == WEBHOOK_URL and registered.params["secret_token"] == SECRET
            assert api.calls("getUpdates") == []  # no long polling beside the webhook
            message = await api.send_text(501, "/help")  # the fake Bot API records it; we post it as Telegram would
            update = {"update_id": 1, "message": message}
            url = server.url + TELEGRAM_PATH

            for headers in ({SECRET_HEADER: "wrong"}, {}):
                async with http.post(url, json=update, headers=headers) as response:
                    assert response.status == 401
            await settle(server.app)
            assert [m for m in api.chat(501) if m.get("from", {}).get("is_bot")] == []

            for _ in range(2):  # Telegram resends what it did not see answered: it is processed once
                async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
                    assert response.status == 200
            async with http.post(url, json={"nothing": 1}, headers={SECRET_HEADER: SECRET}) as response:
                assert response.status == 400
            await settle(server.app)
            replies = [m["text"] for m in api.chat(501) if m.get("from", {}).get("is_bot")]
            assert replies == [server.app.texts.render("core/stranger", "zh")]
            async with http.post(server.url + WECOM_PATH, data=b"<xml/>") as response:
                assert response.status == 404  # WeCom is not configured


async def test_health_reports_the_database_and_the_dispatcher(db_url: str, clock: SettableClock) -> None:
    clock.set(datetime(2026, 3, 2, 9, 41, tzinfo=TZ))
    async with FakeWeCom(clock) as fake:
        settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
        async with serving(settings, clock, fake) as server, aiohttp.ClientSession() as http:
            assert server.app.alive("sweeps")  # no Telegram, no JobQueue: the sweeps tick on their own
            async with http.get(server.url + "/healthz") as response:
                assert response.status == 200
                alive = {"engine": "alive", "dispatcher": "alive", "sweeps": "alive"}
                assert await response.json() == {"role": "leader", "database": "ok", "leadership": "alive", **alive}
            assert server.app.leading is not None
            dispatcher = server.app.leading.loops["dispatcher"].task
            assert dispatcher is not None
            dispatcher.cancel()
            with pytest.raises(asyncio.CancelledError):
                await dispatcher
            async with http.get(server.url + "/healthz") as response:
                assert response.status == 503
                found = await response.json()
                assert (found["dispatcher"], found["failing"]) == ("stopped", ["dispatcher"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no channel configured"),
        ({"BAOMI_WECOM_CORP_ID": "ww1", "BAOMI_WECOM_SECRET": "s"}, "BAOMI_WECOM_AGENT_ID"),
        ({"BAOMI_TELEGRAM_TOKEN": "1:x", "BAOMI_TELEGRAM_WEBHOOK_URL": WEBHOOK_URL}, "BAOMI_TELEGRAM_WEBHOOK_SECRET"),
    ],
)
def test_serve_without_a_usable_channel_is_one_clear_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith(("BAOMI_TELEGRAM", "BAOMI_WECOM"))]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


async def test_baomi_serve_runs_wecom_and_stops_cleanly(clock: SettableClock, tmp_path: Path) -> None:
    """The command itself, in its own process: it migrates, listens, answers WeCom, and exits 0 on SIGTERM."""
    clock.set(datetime.now(UTC))  # the process reads the real time, and takes callbacks signed within minutes of it
    async with FakeWeCom(clock) as fake:
        env = {
            **os.environ,
            "BAOMI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'baomi.db'}",
            "BAOMI_WECOM_CORP_ID": fake.corp_id,
            "BAOMI_WECOM_AGENT_ID": str(fake.agent_id),
            "BAOMI_WECOM_SECRET": fake.secret,
            "BAOMI_WECOM_TOKEN": fake.token,
            "BAOMI_WECOM_AES_KEY": fake.aes_key,
            "BAOMI_WECOM_API_URL": fake.api_url,
        }
        env.pop("BAOMI_TELEGRAM_TOKEN", None)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "serve", "--port", "0", env=env, cwd=tmp_path, stderr=asyncio.subprocess.PIPE
        )
        assert proc.stderr is not None
        try:
            async with asyncio.timeout(30):
                while b"serving on" not in (line := await proc.stderr.readline()):
                    assert line, "baomi serve exited before listening"
            port = int(line.decode().rsplit(":", 1)[1])
            fake.connect(f"http://127.0.0.1:{port}{WECOM_PATH}")
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
            assert await fake.send_text("stranger", "/help") == 200
            await fake.wait_for(lambda f: bool(f.messages("stranger")), timeout=10)
            assert fake.messages("stranger")[0].text == Texts(TZ).render("core/stranger", "zh")
        finally:
            proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(proc.stderr.read(), 30)
            assert await proc.wait() == 0, rest.decode()[-2000:]


def test_wecom_settings_from_the_environment(tmp_path: Path) -> None:
    env = {
        "BAOMI_WECOM_CORP_ID": "ww1",
        "BAOMI_WECOM_AGENT_ID": "1000002",
        "BAOMI_WECOM_SECRET": "s",
        "BAOMI_WECOM_TOKEN": "t",
        "BAOMI_WECOM_AES_KEY": "k" * 43,
    }
    wecom = Settings.from_env(env, workdir=tmp_path).wecom
    assert wecom is not None and (wecom.agent_id, wecom.api_url) == (1000002, "https://qyapi.weixin.qq.com")
    # Secret, Token and EncodingAESKey stay out of any log line that shows the settings.
    assert repr(wecom) == (
        "WeComSettings(corp_id='ww1', agent_id=1000002, api_url='https://qyapi.weixin.qq.com', ca_file=None, "
        "account_limit=None)"
    )
    private = Settings.from_env({**env, "BAOMI_WECOM_API_URL": "https://wecom.gov.example/"}, workdir=tmp_path)
    assert private.wecom is not None and private.wecom.api_url == "https://wecom.gov.example"
    assert Settings.from_env({}, workdir=tmp_path).wecom is None
    for bad, message in [("BAOMI_WECOM_AGENT_ID", "numeric AgentId"), ("BAOMI_WECOM_AES_KEY", "43-character")]:
        with pytest.raises(ConfigError, match=message):
            Settings.from_env({**env, bad: "x"}, workdir=tmp_path)


async def test_the_webhook_refuses_what_is_not_an_update_with_400_and_says_no_version(
    db_url: str, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever shape a forged or broken update has, it gets 400 and a warning by kind, never a 500 or a
    traceback; no response names the server's software or version."""
    caplog.set_level(logging.INFO)
    async with fake_api() as api:
        settings = Settings(
            database_url=db_url,
            timezone=TZ,
            telegram_token=api.token,
            telegram_api_url=api.base_url,
            telegram_webhook_url=WEBHOOK_URL,
            telegram_webhook_secret=SECRET,
        )
        malformed: list[object] = [
            [],
            "update",
            {"update_id": "1"},
            {"update_id": 1, "message": "机密★"},
            {"update_id": 2, "message": {"chat": 5, "text": 7}},
            {"update_id": 3, "message": {"message_id": "x", "date": None, "chat": {"id": "y"}, "from": []}},
            {"update_id": 4, "callback_query": {"id": 1, "from": {"id": "z"}, "chat_instance": None}},
            {"update_id": 5, "message": {"message_id": 1, "date": 1, "chat": {"id": 1, "type": "private"}}},
        ]
        async with serving(settings, clock) as server, aiohttp.ClientSession() as http:
            url = server.url + TELEGRAM_PATH
            statuses = []
            for update in malformed:
                async with http.post(url, json=update, headers={SECRET_HEADER: SECRET}) as response:
                    statuses.append(response.status)
                    assert "aiohttp" not in response.headers.get("Server", "") and response.headers["Server"] == "baomi"
            async with http.post(url, data=b"{not json", headers={SECRET_HEADER: SECRET}) as response:
                statuses.append(response.status)
            async with http.get(server.url + "/healthz") as response:
                assert response.headers["Server"] == "baomi"
            await settle(server.app)
    # The last one is a message without a sender: a valid update that is nothing for the bot (200, not stored).
    assert statuses == [400] * 7 + [200, 400]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "机密★" not in caplog.text
    # Eight refusals within the minute: one line (forged posts by the thousand must not flood the log).
    assert [r.getMessage() for r in caplog.records if "webhook rejected" in r.getMessage()] == [
        "Telegram webhook rejected (not an update)"
    ]


@pytest.mark.parametrize("secret", ["short", "x" * 31, "with space" * 4, "ü" * 40])
def test_a_webhook_secret_must_be_32_characters_telegram_accepts(secret: str) -> None:
    with pytest.raises(ConfigError, match="32 to 256"):
        Settings.from_env(
            {
                "BAOMI_TELEGRAM_TOKEN": "1:x",
                "BAOMI_TELEGRAM_WEBHOOK_URL": WEBHOOK_URL,
                "BAOMI_TELEGRAM_WEBHOOK_SECRET": secret,
            }
        )


def test_passwords_and_tokens_are_never_printed_or_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL holding a password (the database's, a proxy's) or the Bot API token, in an error the command prints
    or in a line or traceback it logs, is shown without it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BAOMI_DATABASE_URL", "postgresql+asyncpg://baomi:hunter2-secret@127.0.0.1:9/baomi")
    assert main(["db", "upgrade"]) != 0
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "127.0.0.1:9" in err

    from bot.cli import Scrubbed

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(Scrubbed())
    logger = logging.getLogger("baomi.test-scrub")
    logger.addHandler(handler)
    try:
        logger.warning("proxy %s refused", "http://user:pr0xy-pass@proxy:3128")
        try:
            raise RuntimeError("POST https://api.telegram.org/bot123456:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/getMe")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "pr0xy-pass" not in logged and "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in logged
    assert "http://user:***@proxy:3128" in logged and "bot<token>/getMe" in logged and "Traceback" in logged
