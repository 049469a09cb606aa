"""Invitation codes: random, single-use, expiring; redeeming one binds a chat account to a staff record."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Binding, CodeGuess, InstallationValue, Invitation, Staff
from bot.db.upsert import insert_ignore
from bot.services import audit

# No 0/O, 1/I/L: codes are sometimes read aloud or typed from paper.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10  # about 49 bits: guessing within 14 days is hopeless at Telegram's rate limits


# An account bound to nobody may send this many wrong codes within GUESS_WINDOW; the next locks it out for
# LOCKOUT (audit-logged). A person mistyping from paper needs two or three tries; a guesser needs billions.
WRONG_CODES = 5
GUESS_WINDOW = timedelta(hours=1)
LOCKOUT = timedelta(hours=1)


# The Telegram bot's @username, stored by the Telegram channel at each start (getMe), for t.me links to a code.
TELEGRAM_USERNAME = "telegram.username"


async def remember_telegram_username(session: AsyncSession, username: str, now: datetime) -> None:
    row = {"key": TELEGRAM_USERNAME, "value": username, "updated_at": now}
    if not await insert_ignore(session, InstallationValue, [row], ["key"]):
        await session.execute(
            update(InstallationValue)
            .where(InstallationValue.key == TELEGRAM_USERNAME)
            .values(value=username, updated_at=now)
        )


async def telegram_link(session: AsyncSession, code: str) -> str | None:
    """https://t.me/<bot>?start=<code>: opening it on a phone starts the bot with the code (None without Telegram)."""
    username = await session.scalar(select(InstallationValue.value).where(InstallationValue.key == TELEGRAM_USERNAME))
    return f"https://t.me/{username}?start={code}" if username else None


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


@dataclass(frozen=True)
class IssuedInvitation:
    employee_id: str
    name: str
    code: str
    expires_at: datetime


async def issue_for_unbound(
    session: AsyncSession, now: datetime, valid_days: int, department_id: int | None = None
) -> list[IssuedInvitation]:
    """A fresh code for every active staff member without a binding (in one department, if given); older unused
    codes stop working."""
    bound = select(Binding.staff_id)
    query = select(Staff).where(Staff.active.is_(True), Staff.id.not_in(bound)).order_by(Staff.employee_id)
    if department_id is not None:
        query = query.where(Staff.department_id == department_id)
    unbound = (await session.scalars(query)).all()
    if not unbound:
        return []
    ids = [s.id for s in unbound]
    await session.execute(
        update(Invitation)
        .where(Invitation.staff_id.in_(ids), Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    expires = now + timedelta(days=valid_days)
    issued = []
    for staff in unbound:
        code = new_code()
        session.add(Invitation(staff_id=staff.id, code=code, created_at=now, expires_at=expires))
        issued.append(IssuedInvitation(staff.employee_id, staff.name, code, expires))
    await session.flush()
    await audit.record(session, now, None, "invitations.issue", "roster", count=len(issued))
    return issued


class Redeemed(StrEnum):
    BOUND = "bound"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    DEPARTED = "departed"
    ALREADY_BOUND = "already_bound"  # this chat account is bound to someone already


@dataclass(frozen=True)
class RedeemResult:
    outcome: Redeemed
    staff_id: int | None = None
    moved_from: str | None = None  # the chat of the account this one replaced (told so), on the same channel


async def redeem(
    session: AsyncSession, code: str, channel: str, channel_user_id: str, chat_id: str, now: datetime
) -> RedeemResult:
    code = code.strip().upper()
    invitation = await session.scalar(select(Invitation).where(Invitation.code == code))
    if invitation is None:
        return RedeemResult(Redeemed.UNKNOWN)
    if invitation.used_at is not None:
        return RedeemResult(Redeemed.USED)
    if invitation.revoked_at is not None or invitation.expires_at <= now:
        return RedeemResult(Redeemed.EXPIRED)
    staff = await session.get(Staff, invitation.staff_id)
    if staff is None or not staff.active:
        return RedeemResult(Redeemed.DEPARTED)
    existing = await session.scalar(
        select(Binding).where(Binding.channel == channel, Binding.channel_user_id == channel_user_id)
    )
    if existing is not None:
        return RedeemResult(Redeemed.ALREADY_BOUND, existing.staff_id)
    # One staff record has at most one account per channel: a new phone replaces the old binding.
    old = await session.scalar(select(Binding).where(Binding.staff_id == staff.id, Binding.channel == channel))
    moved_from = None
    if old is not None:
        moved_from = old.chat_id
        await session.delete(old)
        await session.flush()
    # Claim the code with a guarded update so two simultaneous redemptions cannot both succeed.
    claimed = await session.execute(
        update(Invitation).where(Invitation.id == invitation.id, Invitation.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return RedeemResult(Redeemed.USED)
    session.add(
        Binding(staff_id=staff.id, channel=channel, channel_user_id=channel_user_id, chat_id=chat_id, created_at=now)
    )
    await session.flush()
    await audit.record(session, now, staff.id, "binding.create", f"staff:{staff.id}", channel=channel)
    return RedeemResult(Redeemed.BOUND, staff.id, moved_from)


async def issue_for(session: AsyncSession, staff_id: int, now: datetime, valid_days: int) -> IssuedInvitation:
    """A fresh code for one person (a new phone, a lost code); their older unused codes stop working."""
    staff = await session.get(Staff, staff_id)
    assert staff is not None
    await session.execute(
        update(Invitation)
        .where(Invitation.staff_id == staff_id, Invitation.used_at.is_(None), Invitation.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    code = new_code()
    expires = now + timedelta(days=valid_days)
    session.add(Invitation(staff_id=staff_id, code=code, created_at=now, expires_at=expires))
    await session.flush()
    await audit.record(session, now, None, "invitations.issue", f"staff:{staff_id}", count=1)
    return IssuedInvitation(staff.employee_id, staff.name, code, expires)


async def locked_out(session: AsyncSession, channel: str, channel_user_id: str, now: datetime) -> bool:
    """Whether this account is locked out of redeeming codes now."""
    guess = await session.get(CodeGuess, (channel, channel_user_id))
    return guess is not None and guess.locked_until is not None and guess.locked_until > now


async def count_wrong_code(session: AsyncSession, channel: str, channel_user_id: str, now: datetime) -> bool:
    """Count a wrong code from this account; True when it has just been locked out (recorded in the audit log)."""
    guess = await session.get(CodeGuess, (channel, channel_user_id))
    if guess is None:
        session.add(CodeGuess(channel=channel, channel_user_id=channel_user_id, wrong=1, first_at=now))
        return False
    if guess.first_at <= now - GUESS_WINDOW or (guess.locked_until is not None and guess.locked_until <= now):
        guess.wrong, guess.first_at, guess.locked_until = 1, now, None
        return False
    guess.wrong += 1
    if guess.wrong <= WRONG_CODES:
        return False
    guess.locked_until = now + LOCKOUT
    await audit.record(
        session,
        now,
        None,
        "invitation.lockout",
        f"{channel}:{channel_user_id}",
        wrong=guess.wrong,
        until=str(guess.locked_until),
    )
    return True
