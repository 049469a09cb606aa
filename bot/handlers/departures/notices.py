"""Who hears of a departure step, and with which button: the person, their head (the office when the department
has no other head), the officer who started it (every officer when it came from the command line or that officer
is gone). One message per step that needs someone, nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.flow import Button, Outgoing, Priority, Reply
from bot.core.shortcut import start_button
from bot.handlers.departures.procedure import Procedure
from bot.services import people, staff_queries
from bot.texts import Texts

SOURCE = "departure"
LEAVE_COMMAND = "leave"  # the person's and the head's steps
OFFICE_COMMAND = "depart"  # the officers' list and approval
PLEDGE_COMMAND = "pledge"


async def heads_of(session: AsyncSession, procedure: Procedure) -> tuple[list[int], tuple[str, str]]:
    """Who does the head's steps — the person's heads, never the person; the office when there is none — and the
    button (word, command) that takes them there."""
    heads = [h for h in await staff_queries.head_ids(session, procedure.department_id) if h != procedure.staff_id]
    if heads:
        return heads, ("open", LEAVE_COMMAND)
    return [o for o in await staff_queries.officer_ids(session) if o != procedure.staff_id], ("office", OFFICE_COMMAND)


async def office_of(session: AsyncSession, procedure: Procedure) -> list[int]:
    """The officer who started it while still an active officer, else every officer."""
    return list(await staff_queries.officer_or_office(session, procedure.started_by))


async def to(
    session: AsyncSession,
    texts: Texts,
    recipients: Sequence[int],
    template: str,
    button: tuple[str, str] | None = None,
    **context: Any,
) -> list[Outgoing]:
    """The same notice to each recipient in their language, with a button (word key, command) that starts a command."""
    out = []
    for staff_id in recipients:
        person = await people.by_id(session, staff_id)
        if person is None:
            continue  # (one who has just left is still told of the approval)
        buttons: list[list[Button]] = []
        if button is not None:
            buttons = [[start_button(texts.render("depart/word", person.locale, key=button[0]), button[1])]]
        reply = Reply(texts.render(template, person.locale, **context), buttons)
        out.append(Outgoing(staff_id, reply, Priority.REMINDER, SOURCE))
    return out
