"""Signing in to the web console without a password: `/console` in the chat gives a one-time link, the link opens
a session, and the session lasts while it is used. Takes a session and `now`, never commits; every sign-in and
ending of sessions is an entry of the audit chain.

The tokens themselves travel only to the person (the link in their chat, the cookie in their browser); the database
keeps their SHA-256, so that a copy of it opens nothing."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models_desk import ConsoleLink, ConsoleSession
from bot.domain.levels import Role
from bot.services import audit, people
from bot.services.people import Person

LINK_VALID = timedelta(minutes=10)
IDLE_LIMIT = timedelta(hours=8)
TOUCH_EVERY = timedelta(minutes=1)  # a session's last request is written at most this often
CONSOLE_ROLES = frozenset({Role.OFFICER, Role.HEAD})


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def may_use(person: Person | None) -> bool:
    """The console is for officers and heads on the roster today: checked at sign-in and on every request."""
    return person is not None and person.active and bool(person.roles & CONSOLE_ROLES)


async def issue_link(session: AsyncSession, staff_id: int, now: datetime) -> str:
    """A new sign-in token for this person (earlier unused links stay valid until they expire)."""
    token = secrets.token_urlsafe(32)
    session.add(ConsoleLink(token_hash=digest(token), staff_id=staff_id, created_at=now, expires_at=now + LINK_VALID))
    await session.flush()
    return token


@dataclass(frozen=True)
class Opened:
    token: str  # the session cookie's value
    person: Person


async def redeem(session: AsyncSession, token: str, now: datetime) -> Opened | None:
    """Open a session with a link's token: once, before it expires, for an officer or head. None otherwise."""
    used = await session.execute(
        update(ConsoleLink)
        .where(ConsoleLink.token_hash == digest(token), ConsoleLink.used_at.is_(None), ConsoleLink.expires_at > now)
        .values(used_at=now)
        .returning(ConsoleLink.staff_id)
        .execution_options(synchronize_session=False)
    )
    staff_id = used.scalar()
    if staff_id is None:
        return None
    person = await people.by_id(session, staff_id)
    if person is None or not may_use(person):
        return None
    value = secrets.token_urlsafe(32)
    row = ConsoleSession(
        token_hash=digest(value), staff_id=staff_id, csrf=secrets.token_urlsafe(24), created_at=now, seen_at=now
    )
    session.add(row)
    await session.flush()
    await audit.record(session, now, staff_id, "console.signin", f"staff:{staff_id}", console_session=row.id)
    return Opened(value, person)


@dataclass(frozen=True)
class Signed:
    """A live session and who is behind it, as the roster says now."""

    id: int
    person: Person
    csrf: str


async def signed_in(session: AsyncSession, token: str, now: datetime) -> Signed | None:
    """The session of this cookie if it is open, used within the idle limit, and its person may still use the
    console (roles are read from the roster on every request, not only at sign-in)."""
    row = await session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == digest(token), ConsoleSession.ended_at.is_(None))
    )
    if row is None or row.seen_at + IDLE_LIMIT <= now:
        return None
    person = await people.by_id(session, row.staff_id)
    if person is None or not may_use(person):
        return None
    if now - row.seen_at >= TOUCH_EVERY:
        row.seen_at = now
    return Signed(row.id, person, row.csrf)


async def sign_out(session: AsyncSession, signed: Signed, now: datetime) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == signed.id)
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    await audit.record(
        session, now, signed.person.id, "console.signout", f"staff:{signed.person.id}", console_session=signed.id
    )


async def end_all(session: AsyncSession, staff_id: int, now: datetime) -> int:
    """End every open session of this person (from the chat); unused links stop working too."""
    ended = await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.staff_id == staff_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(ConsoleLink)
        .where(ConsoleLink.staff_id == staff_id, ConsoleLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    count = ended.rowcount or 0  # type: ignore[attr-defined]
    await audit.record(session, now, staff_id, "console.end_all", f"staff:{staff_id}", count=count)
    return count


async def record(
    session: AsyncSession, now: datetime, signed: Signed, action: str, subject: str, **detail: object
) -> None:
    """An export or action taken in the console, in the audit chain with the session it came from."""
    await audit.record(
        session, now, signed.person.id, f"console.{action}", subject, console_session=signed.id, **detail
    )
