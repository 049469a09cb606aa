"""Shared fixtures: every database test runs on SQLite and on PostgreSQL, on a schema built by Alembic."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.db.migrate import upgrade
from bot.db.models import Base
from bot.db.session import Database
from bot.server import Server
from bot.services.roster import import_roster, read_roster
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.fake_wecom import FakeWeCom
from bot.texts import MESSAGES, Texts

if TYPE_CHECKING:
    from tests.fakes.local import LocalBot

os.environ.setdefault("PTB_TIMEDELTA", "true")  # python-telegram-bot 22 warns about int retry_after otherwise
TZ = ZoneInfo("Asia/Shanghai")
# The bots of most tests run a bureau in its stride, whose roster is imported as each test begins: no launch grace
# (30 days by default), so that a deadline is the regulations' own. tests/test_post_and_pledge_texts.py runs the grace.
IN_STRIDE = Policy(launch_grace_days=0)
BASE_PG_URL = os.environ.get("BAOMI_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
# Under pytest-xdist every worker has a database of its own (test_gw0, test_gw1, …), created when missing.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_URL = f"{BASE_PG_URL}_{WORKER}" if WORKER else BASE_PG_URL
BACKENDS = [b for b in os.environ.get("BAOMI_TEST_BACKENDS", "sqlite,postgresql").split(",") if b]
DATA = Path(__file__).parent / "data"
EXAMPLE_ROSTER = MESSAGES / "demo" / "roster.csv"


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def reset_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()


async def empty_postgres(url: str) -> None:
    """Every table emptied and every id counter back to 1. DELETE, children first, then the sequences: on tables
    this small it costs a third of a TRUNCATE of them all."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        sequences = [
            r[0] for r in await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
        ]
        statements = [f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)]
        statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
        await conn.execute("; ".join(statements))
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
def generous_intake(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests play people who type faster than anyone: the per-sender intake limit (bot/core/intake.py) would drop
    their steps. tests/test_flooding.py puts it back."""
    import bot.core.intake

    monkeypatch.setattr(bot.core.intake, "LIMIT", 1_000_000)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(upgrade(sqlite_url(path)))
    return path


async def create_postgres(url: str) -> None:
    """Create the database of `url` on its server, unless it exists (through the server's `postgres` database,
    so that BAOMI_TEST_PG_URL may name one that does not exist yet)."""
    server, name = url.rsplit("/", 1)
    engine = create_async_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        found = await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not found:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await engine.dispose()


@pytest.fixture(scope="session")
def postgres_ready() -> str:
    asyncio.run(create_postgres(PG_URL))
    asyncio.run(reset_postgres(PG_URL))
    asyncio.run(upgrade(PG_URL))
    return PG_URL


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a copy of a template on SQLite, truncated tables on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "baomi.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield sqlite_url(path)
    else:
        url = request.getfixturevalue("postgres_ready")
        asyncio.run(empty_postgres(url))
        yield url


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """The project's fake Bot API, listening on loopback."""
    from tests.fakes.harness import fake_api  # the harness reads this module's TZ

    async with fake_api() as api:
        yield api


@pytest.fixture
async def app(api: FakeBotApi, db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[BaomiApp]:
    """The whole bot on the example roster (EXAMPLE_ROSTER), talking to `api`."""
    from tests.fakes.harness import running_bot

    await import_example_roster(db, clock)
    async with running_bot(api, db_url, clock) as app:
        yield app


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    """The whole bot on the in-process channel (tests/fakes/local.py), on the example roster: for flows and
    sweeps. Channels are tested against their fakes with `app` and the WeCom fixtures."""
    from tests.fakes.local import local_bot

    await import_example_roster(db, clock)
    async with local_bot(db_url, clock) as found:
        yield found


async def import_example_roster(db: Database, clock: SettableClock, wecom_ids: dict[str, str] | None = None) -> None:
    """The example roster, with these WeCom accounts (employee id -> userid) if given."""
    rows = read_roster(EXAMPLE_ROSTER)
    if wecom_ids:
        rows = [replace(r, wecom_userid=wecom_ids.get(r.employee_id)) for r in rows]
    async with db.transaction() as s:
        await import_roster(s, rows, clock.now(), TZ)


# --- WeCom: the fake WeCom API and the bot behind `baomi serve`'s server ---------------------------------------
@pytest.fixture
async def fake(clock: SettableClock) -> AsyncIterator[FakeWeCom]:
    """The fake WeCom API, on a clock set clear of :00 and :30 (when WeCom holds back pushes)."""
    clock.set(datetime(2026, 3, 2, 9, 41, 10, tzinfo=TZ))
    async with FakeWeCom(clock) as found:
        yield found


@pytest.fixture
def wecom_ids() -> dict[str, str] | None:
    """WeCom accounts of the example roster, imported before the server starts (None: no roster). A module
    overrides it to have one."""
    return None


@pytest.fixture
async def server(
    fake: FakeWeCom, db_url: str, db: Database, clock: SettableClock, wecom_ids: dict[str, str] | None
) -> AsyncIterator[Server]:
    """The bot as `baomi serve` runs it with WeCom, its callbacks posted by `fake`."""
    from bot.testing.fake_wecom import serving

    if wecom_ids is not None:
        await import_example_roster(db, clock, wecom_ids)
    settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings(), policy=IN_STRIDE)
    async with serving(settings, clock, fake) as running:
        yield running


@pytest.fixture
def clock() -> SettableClock:
    # A Monday morning in March 2026, a working day.
    return SettableClock(datetime(2026, 3, 2, 9, 30, tzinfo=TZ))


@pytest.fixture
def texts() -> Texts:
    return Texts(TZ)


@pytest.fixture
def policy() -> Policy:
    return Policy()
