"""Invitation codes: single use, expiry on the injected clock, reissue replacing older codes."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import SettableClock
from bot.db.models import Binding
from bot.db.session import Database
from bot.services.invitations import Redeemed, issue_for_unbound, redeem
from tests.conftest import import_example_roster


async def seed(db: Database, clock: SettableClock) -> None:
    await import_example_roster(db, clock)


async def issue(db: Database, clock: SettableClock, days: int = 14) -> dict[str, str]:
    async with db.transaction() as s:
        return {i.employee_id: i.code for i in await issue_for_unbound(s, clock.now(), days)}


async def try_code(db: Database, clock: SettableClock, code: str, user: str) -> Redeemed:
    async with db.transaction() as s:
        return (await redeem(s, code, "telegram", user, user, clock.now())).outcome


async def test_code_binds_once(db: Database, clock: SettableClock) -> None:
    await seed(db, clock)
    codes = await issue(db, clock)
    assert len(codes) == 12 and len(set(codes.values())) == 12
    assert await try_code(db, clock, codes["E003"], "1001") is Redeemed.BOUND
    assert await try_code(db, clock, codes["E003"], "1002") is Redeemed.USED
    assert await try_code(db, clock, codes["E003"].lower(), "1002") is Redeemed.USED  # typed in lower case
    assert await try_code(db, clock, "NOSUCHCODE", "1002") is Redeemed.UNKNOWN
    assert await try_code(db, clock, codes["E102"], "1001") is Redeemed.ALREADY_BOUND
    async with db.sessions() as s:
        bindings = (await s.scalars(select(Binding))).all()
    assert [(b.channel_user_id, b.channel) for b in bindings] == [("1001", "telegram")]


async def test_codes_expire(db: Database, clock: SettableClock) -> None:
    await seed(db, clock)
    codes = await issue(db, clock, days=14)
    clock.advance(days=13, hours=23)
    assert await try_code(db, clock, codes["E001"], "1") is Redeemed.BOUND
    clock.advance(hours=1)
    assert await try_code(db, clock, codes["E002"], "2") is Redeemed.EXPIRED


async def test_reissue_only_for_unbound_and_revokes_old_codes(db: Database, clock: SettableClock) -> None:
    await seed(db, clock)
    first = await issue(db, clock)
    assert await try_code(db, clock, first["E001"], "1") is Redeemed.BOUND
    clock.advance(days=1)
    second = await issue(db, clock)
    assert "E001" not in second and len(second) == 11
    assert await try_code(db, clock, first["E002"], "2") is Redeemed.EXPIRED  # replaced by the reissue
    assert await try_code(db, clock, second["E002"], "2") is Redeemed.BOUND
