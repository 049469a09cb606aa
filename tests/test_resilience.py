"""Surviving outages: the loops under their supervisor (bot/core/supervise.py), a PostgreSQL outage cut with a TCP
proxy while people write, /healthz for every loop, and control characters stripped at intake."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import make_url, select

from bot import cli
from bot.app import BaomiApp, build_app
from bot.clock import SettableClock
from bot.config import ConfigError, Settings
from bot.core.events import Inbound, Text
from bot.core.intake import stored, strip_controls
from bot.core.supervise import Backoff, Loop, Outage, Pulse, Supervisor, is_outage
from bot.db.models import InboxEvent, OutboxMessage
from bot.db.session import DatabaseUnreachable
from bot.outbox import MAX_ATTEMPTS
from bot.server import Server
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.fake_wecom import FakeWeCom, serving
from tests.conftest import BACKENDS, TZ, empty_postgres, import_example_roster
from tests.fakes.harness import TOKEN, Chat, bind, fake_api
from tests.fakes.tcp_proxy import TcpProxy

FAST = Backoff(first=0.02, most=0.2)


# --- the supervisor ---------------------------------------------------------------------------------------------
class Flaky:
    """A loop that meets `outages` outages (of the database, or of a service), then runs until stopped."""

    def __init__(self, outages: int, error: Exception) -> None:
        self.left = outages
        self.error = error
        self.runs = 0
        self.failed = asyncio.Event()
        self.progressed = asyncio.Event()

    async def run(self, stop: asyncio.Event, pulse: Pulse) -> None:
        self.runs += 1
        if self.left > 0:
            self.left -= 1
            self.failed.set()
            raise self.error
        pulse.beat()
        self.progressed.set()
        await stop.wait()


REFUSED = "ConnectionRefusedError: [Errno 111] Connect call failed"


def unreachable_database() -> Exception:
    try:
        raise DatabaseUnreachable(REFUSED) from ConnectionRefusedError()
    except DatabaseUnreachable as exc:
        return exc


async def test_an_outage_is_retried_with_backoff_and_logged_once(
    clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    supervisor = Supervisor(clock, FAST)
    stop = asyncio.Event()
    engine, dispatcher = Flaky(5, unreachable_database()), Flaky(3, unreachable_database())
    poll = Flaky(2, Outage("Telegram Bot API", "NetworkError: connection refused"))
    supervisor.start(
        stop,
        [
            Loop(n, f.run, timedelta(minutes=2))
            for n, f in [("engine", engine), ("dispatcher", dispatcher), ("poll", poll)]
        ],
    )
    async with asyncio.timeout(5):
        for loop in (engine, dispatcher, poll):
            await loop.progressed.wait()
    assert (engine.runs, dispatcher.runs, poll.runs) == (6, 4, 3)
    assert supervisor.health() == {"engine": "alive", "dispatcher": "alive", "poll": "alive"}
    stop.set()
    await supervisor.stop()
    assert supervisor.outcome() == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "baomi.supervisor"]
    # One line when each outage begins, one when it ends: not one per loop, not one per retry, never a traceback.
    assert sorted(lines) == [
        "Telegram Bot API reachable again after 0 s",
        "Telegram Bot API unreachable (NetworkError: connection refused); poll waits and retries",
        "database reachable again after 0 s",
        f"database unreachable ({REFUSED}); engine waits and retries",
    ]
    assert not any(r.exc_info for r in caplog.records)


async def test_health_names_a_loop_in_an_outage_and_a_stale_one(clock: SettableClock) -> None:
    supervisor = Supervisor(clock, Backoff(first=60, most=60))  # the outage lasts the whole test
    stop = asyncio.Event()
    down = Flaky(1, unreachable_database())
    stuck = Flaky(0, unreachable_database())
    supervisor.start(
        stop, [Loop("dispatcher", down.run, timedelta(minutes=2)), Loop("sweeps", stuck.run, timedelta(minutes=3))]
    )
    async with asyncio.timeout(5):
        await stuck.progressed.wait()
        await down.failed.wait()  # the supervisor has taken note of the outage as the loop's run ended
    clock.advance(minutes=2)
    assert supervisor.health() == {
        "dispatcher": f"retrying for 120 s: database unreachable ({REFUSED})",
        "sweeps": "alive",
    }
    clock.advance(minutes=1, seconds=1)  # no beat from the sweeps for longer than their 3 minutes: stuck
    assert supervisor.health()["sweeps"] == "stale: no progress for 181 s"
    stop.set()
    await supervisor.stop()
    assert supervisor.health() == {"dispatcher": "stopped", "sweeps": "stopped"}


async def test_a_bug_stops_the_bot_with_exit_code_1_and_a_revoked_token_with_its_line(
    clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    supervisor = Supervisor(clock, FAST)
    stop = asyncio.Event()
    calm = Flaky(0, unreachable_database())
    supervisor.start(
        stop,
        [
            Loop("engine", Flaky(1, KeyError("state")).run, timedelta(minutes=2)),
            Loop("sweeps", calm.run, timedelta(minutes=3)),
        ],
    )
    async with asyncio.timeout(5):
        await stop.wait()  # the supervisor stops everything: a fresh process is what a bug needs
    await supervisor.stop()
    assert supervisor.outcome() == 1
    (logged,) = [r for r in caplog.records if r.exc_info]
    assert logged.getMessage() == "engine failed (KeyError): stopping the bot"

    supervisor = Supervisor(clock, FAST)
    stop = asyncio.Event()
    revoked = ConfigError("the Telegram Bot API refused the token while polling: set BAOMI_TELEGRAM_TOKEN")
    supervisor.start(stop, [Loop("poll", Flaky(1, revoked).run, timedelta(minutes=2))])
    async with asyncio.timeout(5):
        await stop.wait()
    await supervisor.stop()
    with pytest.raises(ConfigError, match="BAOMI_TELEGRAM_TOKEN"):
        supervisor.outcome()


def test_what_counts_as_an_outage() -> None:
    assert is_outage(unreachable_database())
    assert is_outage(ConnectionResetError())
    assert is_outage(TimeoutError())
    assert is_outage(Outage("WeCom API", "ClientConnectorError"))
    assert not is_outage(KeyError("x"))
    assert not is_outage(ValueError("invalid byte sequence for encoding UTF8: 0x00"))


def test_control_characters_are_stripped_at_intake() -> None:
    received = {"message": {"text": "a\x00b\x07c\td\ne\r\x7f\x85\ud800f", "from": {"id": 5, "first_name": "\x00张"}}}
    assert strip_controls(received) == {"message": {"text": "abc\td\ne\rf", "from": {"id": 5, "first_name": "张"}}}


# --- a PostgreSQL outage while people write ---------------------------------------------------------------------
@asynccontextmanager
async def bot_behind_a_proxy(
    url: str, api: FakeBotApi, clock: SettableClock
) -> AsyncIterator[tuple[BaomiApp, Server, TcpProxy]]:
    """The whole bot, long-polling the fake Bot API, on PostgreSQL reached through a proxy the test can cut; and
    `baomi run`'s health server."""
    await empty_postgres(url)
    target = make_url(url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
    settings = Settings(database_url=proxied, timezone=TZ, telegram_token=TOKEN, telegram_api_url=api.base_url)
    app = build_app(settings, clock)
    app.migrated = True
    app.supervisor.backoff = FAST
    stop = asyncio.Event()
    server = Server(app, health_only=True)
    try:
        await import_example_roster(app.db, clock)
        await app.start(stop)
        await server.start("127.0.0.1", 0)
        yield app, server, proxy
    finally:
        stop.set()
        await server.stop()
        await app.stop()
        await proxy.stop()


async def health(http: aiohttp.ClientSession, server: Server) -> tuple[int, dict[str, Any]]:
    async with http.get(server.url + "/healthz") as response:
        return response.status, await response.json()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    """Wait until `check()` holds: the loops work in real time, the outage is real, and /healthz is asked as a
    monitor asks it."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="an outage of PostgreSQL")
async def test_a_database_outage_is_survived_and_every_message_answered(
    postgres_ready: str, api: FakeBotApi, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    strangers = range(2001, 2006)
    async with bot_behind_a_proxy(postgres_ready, api, clock) as (app, server, proxy), aiohttp.ClientSession() as http:
        staff = await bind(api, app, "E102", 1001)
        assert (await health(http, server))[0] == 200
        welcomed = len(_replies(api, staff.user_id))

        await proxy.cut()
        await api.send_text(staff.user_id, "/status")
        for user in strangers:
            await api.send_text(user, "你好")
        app.engine.wake()  # as if something were due: each loop that touches the database meets the outage
        app.dispatcher.wake()
        loops = app.supervisor.loops

        async def outage_met() -> bool:
            """/healthz names the database and the bid for the lead: the lock's connection broke, so this instance
            stepped down (its poll, engine and dispatcher stopped with what they could not store unconfirmed) and
            tries, with backoff, to lead again."""
            status, state = await health(http, server)
            failing = {"database", "leadership"}
            return status == 503 and failing <= set(state["failing"]) and loops["leadership"].retries >= 3

        await until(outage_met)
        state = (await health(http, server))[1]
        assert (state["role"], state["database"]) == ("standby", "unreachable")
        assert state["leadership"].startswith("retrying for 0 s: database unreachable (")
        assert api.pending_updates_count == 6

        await proxy.restore()
        stranger = app.texts.render("core/stranger", "zh")
        await api.wait_for(lambda a: all(_replies(a, user) == [stranger] for user in strangers), timeout=15)
        await api.wait_for(lambda a: len(_replies(a, staff.user_id)) == welcomed + 1, timeout=15)
        assert _replies(api, staff.user_id)[-1].startswith("【个人信息】")  # /status

        async def recovered() -> bool:
            return (await health(http, server))[0] == 200

        await until(recovered)
        assert (await health(http, server))[1] == {
            "role": "leader",
            "database": "ok",
            "leadership": "alive",
            "poll": "alive",
            "engine": "alive",
            "dispatcher": "alive",
            "sweeps": "alive",
        }

        await api.send_text(2001, "还在吗")  # and after it, as before
        await api.wait_for(lambda a: _replies(a, 2001) == [stranger, stranger], timeout=15)

    logged = [r.getMessage() for r in caplog.records if r.name == "baomi.supervisor"]
    assert len([line for line in logged if line.startswith("database unreachable")]) == 1, logged
    assert len([line for line in logged if line.startswith("database reachable again")]) == 1, logged
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []  # no traceback for an outage


def _replies(api: FakeBotApi, user: int) -> list[str]:
    return [m.get("text", "") for m in api.chat(user) if m.get("from", {}).get("is_bot")]


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="an outage of PostgreSQL")
async def test_a_wecom_callback_in_an_outage_is_answered_503_and_taken_when_sent_again(
    postgres_ready: str, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock.set(datetime(2026, 3, 2, 9, 41, 10, tzinfo=TZ))
    await empty_postgres(postgres_ready)
    target = make_url(postgres_ready)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    await proxy.start()
    proxied = target.set(port=proxy.port).render_as_string(hide_password=False)
    try:
        async with FakeWeCom(clock) as fake:
            settings = Settings(database_url=proxied, timezone=TZ, wecom=fake.settings())
            async with serving(settings, clock, fake) as server:
                server.app.supervisor.backoff = FAST
                xml = (
                    f"<xml><ToUserName>{fake.corp_id}</ToUserName><FromUserName>stranger</FromUserName>"
                    f"<CreateTime>{int(clock.now().timestamp())}</CreateTime><MsgType>text</MsgType>"
                    f"<Content>你好</Content><MsgId>7000000000000000001</MsgId><AgentID>{fake.agent_id}</AgentID></xml>"
                )
                sealed = fake.seal(xml)
                await proxy.cut()
                # WeCom is told to send it again (it does, three times), not that it arrived.
                assert [(await fake.post(*sealed))[0] for _ in range(2)] == [503, 503]
                await proxy.restore()
                assert (await fake.post(*sealed))[0] == 200
                await fake.wait_for(lambda f: bool(f.messages("stranger")), timeout=15)
                assert [m.text for m in fake.messages("stranger")] == [server.app.texts.render("core/stranger", "zh")]
    finally:
        await proxy.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "baomi.server"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("database unreachable (")
    assert lines[1] == "callbacks and updates are stored again"
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


# --- an outage of the Bot API ----------------------------------------------------------------------------------
async def test_the_long_poll_survives_bot_api_errors_and_answers_once(
    api: FakeBotApi, app: BaomiApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    app.supervisor.backoff = FAST
    await api.wait_for(lambda a: a.is_polling)
    for _ in range(3):
        api.fail_next("getUpdates", status=502)
    chat = Chat(api, app, 3002)
    stranger = chat.t("core/stranger")
    await api.send_text(chat.user_id, "你好")  # the long poll waiting now takes it; the next three polls fail
    await api.wait_for(lambda a: len(a.calls("getUpdates")) >= 5 and _replies(a, chat.user_id) == [stranger])
    await chat.send("还在吗")
    # The update stored before the errors was not confirmed, so it came again after them: stored once, answered once.
    assert _replies(api, chat.user_id) == [stranger, stranger]
    assert [r.getMessage() for r in caplog.records if r.name == "baomi.supervisor"] == [
        "Telegram Bot API unreachable (NetworkError: Bad Gateway); poll waits and retries",
        "Telegram Bot API reachable again after 0 s",
    ]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


async def test_a_bot_api_outage_longer_than_the_attempts_loses_no_reply(
    api: FakeBotApi, app: BaomiApp, caplog: pytest.LogCaptureFixture
) -> None:
    """While nothing gets through, a failure is the channel's, not the row's: a reply waits out an outage of more
    failures than a row's attempts (MAX_ATTEMPTS), charged none of them, and the channel pauses instead of every
    row trying on its own."""
    caplog.set_level(logging.WARNING, logger="baomi.outbox")
    app.dispatcher.outage_backoff = FAST
    for n in range(MAX_ATTEMPTS + 4):
        if n % 2:
            api.drop_next("sendMessage")  # the connection closed without an answer
        else:
            api.fail_next("sendMessage", status=502)
    chat = Chat(api, app, 3003)
    await chat.send("你好")
    assert _replies(api, chat.user_id) == [chat.t("core/stranger")]
    assert len(api.calls("sendMessage")) == MAX_ATTEMPTS + 5
    async with app.db.sessions() as session:
        (row,) = (await session.scalars(select(OutboxMessage))).all()
    assert (row.status, row.attempts) == ("sent", 1)
    assert [r.getMessage() for r in caplog.records] == [
        "telegram unreachable (NetworkError: Bad Gateway); rows wait without losing attempts",
        "telegram reachable again; the waiting rows are sent",
    ]


# --- control characters at intake -------------------------------------------------------------------------------
async def test_a_nul_in_a_text_is_stripped_before_the_inbox_stores_it(api: FakeBotApi, app: BaomiApp) -> None:
    """PostgreSQL refuses U+0000 in text and JSON: kept, the update could never be stored, and would come again
    for ever."""
    chat = Chat(api, app, 3001)
    await chat.send("你好\x00\x1b[31m")
    assert chat.last["text"] == chat.t("core/stranger")
    async with app.db.sessions() as session:
        (row,) = (await session.scalars(select(InboxEvent))).all()
    assert row.status == "done"  # stored (PostgreSQL took it) and processed; the row keeps nothing of it since
    kept = stored(Inbound("telegram", "3001", "3001", Text("你好\x00\x1b[31m")))
    assert kept is not None and kept["text"] == "你好[31m"


# --- `baomi run --health-port` ----------------------------------------------------------------------------------
async def test_baomi_run_answers_healthz_on_its_health_port(
    db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The command as `baomi run --health-port 0` runs it (stopped by the test instead of a signal): long polling,
    with /healthz on the port asked for, every loop in it."""
    caplog.set_level(logging.INFO)
    stops: list[asyncio.Event] = []
    monkeypatch.setattr(cli, "_stop_on_signals", stops.append)
    async with fake_api() as api:
        settings = Settings(database_url=db_url, timezone=TZ, telegram_token=api.token, telegram_api_url=api.base_url)
        command = asyncio.create_task(cli.run_command(settings, ["run", "--health-port", "0"]))
        try:
            async with asyncio.timeout(30):
                while not (found := [r.getMessage() for r in caplog.records if r.getMessage().startswith("health on")]):
                    assert not command.done(), command.result()
                    await asyncio.sleep(0.02)
            port = int(found[0].rsplit(":", 1)[1])
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
                assert await response.json() == {
                    "role": "leader",
                    "database": "ok",
                    "leadership": "alive",
                    "poll": "alive",
                    "engine": "alive",
                    "dispatcher": "alive",
                    "sweeps": "alive",
                }
        finally:
            stops[0].set()  # SIGTERM
            assert await command == 0


# --- a Bot API that cannot be reached, or refuses the token -------------------------------------------------------
@asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A Bot API URL whose server takes connections and never answers (a firewall that drops, a dead proxy)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/bot"
    finally:
        server.close()
        for writer in held:
            writer.transport.abort()
        await server.wait_closed()


async def baomi(tmp_path: Path, command: list[str], **env: str) -> tuple[int, list[str], float]:
    """`baomi COMMAND` in its own process: exit code, lines on standard error, seconds it took."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BAOMI_WECOM", "BAOMI_TELEGRAM"))}
    database = {"BAOMI_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'baomi.db'}"}
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *command, env={**clean, **database, **env}, cwd=tmp_path, stderr=PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, err.decode().strip().splitlines(), time.monotonic() - started


async def test_baomi_run_with_a_refused_token_exits_at_once_with_one_line(tmp_path: Path) -> None:
    async with fake_api() as api:
        url = api.base_url
        code, lines, took = await baomi(
            tmp_path, ["run"], BAOMI_TELEGRAM_TOKEN="123456:REVOKED", BAOMI_TELEGRAM_API_URL=url
        )
    assert code == 2 and took < 30, (code, took)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"baomi: the Telegram Bot API at {url} refused the token (InvalidToken")
    assert "check BAOMI_TELEGRAM_TOKEN" in lines[0] and "REVOKED" not in lines[0]


async def test_baomi_serve_with_an_unreachable_bot_api_gives_up_with_one_line(tmp_path: Path) -> None:
    async with silent_server() as url:
        code, lines, took = await baomi(
            tmp_path,
            ["serve", "--port", "0"],
            BAOMI_TELEGRAM_TOKEN=TOKEN,
            BAOMI_TELEGRAM_API_URL=url,
            BAOMI_CONNECT_TIMEOUT="2",
        )
    assert code == 2 and took < 30, (code, took)
    assert lines == [
        f"baomi: cannot reach the Telegram Bot API at {url} within 2 s (TimeoutError): check the network, the proxy "
        "and BAOMI_TELEGRAM_API_URL"
    ]


@pytest.mark.parametrize("command", [["run"], ["serve", "--port", "0"]])
async def test_both_commands_give_up_on_a_bot_api_that_refuses_or_cannot_be_reached(
    db_url: str, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """The same, in this process, for the other pairs: a refused connection is tried again until the time allowed."""
    monkeypatch.setattr(cli, "_stop_on_signals", lambda stop: None)
    async with fake_api() as api:
        refused = Settings(
            database_url=db_url, timezone=TZ, telegram_token="123456:WRONG", telegram_api_url=api.base_url
        )
        with pytest.raises(ConfigError, match="refused the token .* check BAOMI_TELEGRAM_TOKEN"):
            await cli.run_command(refused, command)
    unreachable = replace(refused, telegram_token=TOKEN, connect_timeout=1.0)  # the fake has stopped: refused
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"cannot reach the Telegram Bot API .* within 1 s \(NetworkError"):
        await cli.run_command(unreachable, command)
    assert time.monotonic() - started < 5


async def test_a_token_revoked_while_polling_stops_the_bot_with_its_line(api: FakeBotApi, app: BaomiApp) -> None:
    api.token = "123456:ANOTHER"  # revoked in @BotFather: every call is refused from now on
    await api.send_text(3003, "你好")  # the long poll returns; the next one is refused
    assert app.leading is not None
    poll = app.leading.loops["poll"].task
    assert poll is not None
    await asyncio.wait_for(poll, 10)  # it ends, the leader steps down with its line, and the supervisor stops the bot
    leadership = app.supervisor.loops["leadership"].task
    assert leadership is not None
    await asyncio.wait_for(leadership, 10)
    with pytest.raises(ConfigError, match="revoked or replaced; set BAOMI_TELEGRAM_TOKEN"):
        app.supervisor.outcome()


async def test_a_health_port_in_use_is_one_line(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_stop_on_signals", lambda stop: None)
    taken = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = taken.sockets[0].getsockname()[1]
    settings = Settings(
        database_url=db_url, timezone=TZ, telegram_token=TOKEN, telegram_api_url="http://127.0.0.1:9/bot"
    )
    try:
        with pytest.raises(ConfigError, match=rf"cannot listen on 127.0.0.1:{port} \(.*\): choose another --health-"):
            await cli.run_command(settings, ["run", "--health-port", str(port)])
    finally:
        taken.close()
        await taken.wait_closed()


async def test_an_outage_error_nobody_awaited_is_no_traceback(app: BaomiApp, caplog: pytest.LogCaptureFixture) -> None:
    """asyncpg's TLS probe of a connection that dropped as the task making it was cancelled leaves the error on a
    future nobody awaits: asyncio would print it as a traceback once the future is collected. While the bot runs,
    that is a debug line (the outage is reported once, by the supervisor); any other error keeps its traceback."""
    caplog.set_level(logging.DEBUG)

    def abandon(exc: Exception) -> None:
        asyncio.get_running_loop().create_future().set_exception(exc)  # collected at once: never retrieved
        gc.collect()

    abandon(ConnectionError("unexpected connection_lost() call"))
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "an outage's error nobody awaited: network error (ConnectionError: unexpected connection_lost() call)" in [
        r.getMessage() for r in caplog.records if r.name == "baomi.supervisor"
    ]
    abandon(ValueError("a bug"))
    assert [repr(r.exc_info[1]) for r in caplog.records if r.exc_info and r.name == "asyncio"] == [
        "ValueError('a bug')"
    ]
