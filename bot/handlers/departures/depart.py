"""/depart: an officer records that the unit approved a person's leaving the classified post; the person is
then asked to sign the departure pledge, which starts the declassification period (第十三条, 第十四条)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.core.guarding import refuse_marked
from bot.domain.dates import parse_day
from bot.domain.declassification import period_end
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.rules import PledgeKind
from bot.services import people
from bot.texts import Texts

PICK_LIMIT = 10  # people offered as buttons for a typed name


class DepartStep(StrEnum):
    ASKING_ID = "asking_id"  # whose departure
    ASKING_DATE = "asking_date"  # the day the unit approved it
    CONFIRMING = "confirming"  # the period computed: record it or not


class DepartFlow:
    name = "depart"
    prefix = "dp"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Takes `/depart E102 2026-03-01` at once, else asks for the employee id."""
        parts = args.split()
        if parts:
            return await self.take_id(ctx, parts[0], parts[1] if len(parts) > 1 else None)
        return Step({"state": DepartStep.ASKING_ID}, [Reply(ctx.t("depart/ask_id"))])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match DepartStep(state["state"]), event:
            case DepartStep.ASKING_ID, Text(text):
                return await self.take_id(ctx, text.strip(), None)
            case DepartStep.ASKING_ID, Pick("who", (employee_id,)):
                return await self.take_id(ctx, employee_id, None)
            case DepartStep.ASKING_DATE, Pick("today"):
                return await self.take_date(ctx, state, ctx.today.isoformat())
            case DepartStep.ASKING_DATE, Text(text):
                return await self.take_date(ctx, state, text.strip())
            case DepartStep.CONFIRMING, Pick("confirm"):
                return await self.record(ctx, state)
            case DepartStep.CONFIRMING, Pick("cancel"):
                return Step.done(Reply(ctx.t("depart/cancelled"), replace=True))
        return self.not_understood(ctx, state)

    async def take_id(self, ctx: FlowContext, employee_id: str, day: str | None) -> Step:
        """Finds the person; refuses a stranger, someone gone already, or a departure under way."""
        if refusal := refuse_marked(ctx, employee_id):
            return Step({"state": DepartStep.ASKING_ID}, [refusal])
        person = await people.by_employee_id(ctx.session, employee_id)
        if person is None or not person.active:
            # Not an employee id: a part of a name, one button for each person it fits.
            found = await people.search(ctx.session, employee_id, PICK_LIMIT)
            if len(found) != 1:
                if not found:
                    reply = Reply(ctx.t("depart/unknown", employee_id=employee_id))
                    return Step({"state": DepartStep.ASKING_ID}, [reply])
                buttons = [
                    [Button(f"{p.name}（{p.employee_id}，{p.department}）", "who", (p.employee_id,))] for p in found
                ]
                return Step({"state": DepartStep.ASKING_ID}, [Reply(ctx.t("depart/pick", count=len(found)), buttons)])
            person = found[0]
        if (open_departure := await pledges.open_departure(ctx.session, person.id)) is not None:
            return Step.done(Reply(ctx.t("depart/already", person=person, departure=open_departure)))
        state = {"state": DepartStep.ASKING_DATE, "staff": person.id}
        if day is not None:
            return await self.take_date(ctx, state, day)
        return self.ask_date(ctx, state, person)

    def ask_date(self, ctx: FlowContext, state: dict[str, Any], person: people.Person) -> Step:
        """Asks for the approval date, with today as a button."""
        buttons = [[Button(ctx.t("pledge/word", key="today"), "today")]]
        return Step(state, [Reply(ctx.t("depart/ask_date", person=person), buttons)])

    async def take_date(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Checks the date (not in the future) and shows the declassification period for confirmation."""
        person = await people.by_id(ctx.session, state["staff"])
        assert person is not None
        typed = parse_day(text, ctx.today)  # 3月1日, 上周五, 2026-03-01: the product's one reader of dates
        approved = None if typed is None else typed.day
        if approved is None or approved > ctx.today:
            buttons = [[Button(ctx.t("pledge/word", key="today"), "today")]]
            return Step(state, [Reply(ctx.t("depart/bad_date"), buttons)])
        months = pledges.months_for(ctx.policy, person.level)
        new = {"state": DepartStep.CONFIRMING, "staff": person.id, "approved": approved.isoformat()}
        buttons = [
            [
                Button(ctx.t("pledge/word", key="confirm"), "confirm"),
                Button(ctx.t("pledge/word", key="cancel"), "cancel"),
            ]
        ]
        text = ctx.t(
            "depart/confirm",
            person=person,
            approved=approved,
            months=months,
            ends_on=period_end(approved, months) if months else None,
        )
        return Step(new, [Reply(text, buttons)])

    async def record(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the departure and asks the person for the departure pledge."""
        person = await people.by_id(ctx.session, state["staff"])
        assert person is not None
        if not person.active or await pledges.open_departure(ctx.session, person.id) is not None:
            return Step.done(Reply(ctx.t("depart/unknown", employee_id=person.employee_id), replace=True))
        departure, _, notice = await record_departure(
            ctx.session, ctx.now, ctx.texts, ctx.policy, person, date.fromisoformat(state["approved"]), ctx.person.id
        )
        reply = Reply(ctx.t("depart/recorded", person=person, departure=departure), replace=True)
        return Step(None, [reply], [notice])

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = DepartStep(state["state"])
        if current is DepartStep.ASKING_DATE:
            buttons = [[Button(ctx.t("pledge/word", key="today"), "today")]]
            return Step(state, [Reply(ctx.t("depart/bad_date"), buttons)])
        if current is DepartStep.CONFIRMING:
            buttons = [
                [
                    Button(ctx.t("pledge/word", key="confirm"), "confirm"),
                    Button(ctx.t("pledge/word", key="cancel"), "cancel"),
                ]
            ]
            return Step(state, [Reply(ctx.t("depart/use_buttons"), buttons)])
        return Step(state, [Reply(ctx.t("depart/ask_id"))])


async def record_departure(
    session: AsyncSession,
    now: datetime,
    texts: Texts,
    policy: Policy,
    person: people.Person,
    approved: date,
    officer_id: int | None,
) -> tuple[pledges.DepartureInfo, date, Outgoing]:
    """Records an approved departure (its declassification period starts on `approved`); returns it, the day the
    departure pledge is due and the message asking for it. Used by /depart and `baomi depart`."""
    due = now.astimezone(texts.timezone).date() + timedelta(days=policy.pledge_due_days)
    departure = await pledges.record_departure(
        session, now, person.id, person.level, approved, pledges.months_for(policy, person.level), due, officer_id
    )
    text = texts.render(
        "pledge/requested", person.locale, kind=PledgeKind.DEPARTURE.value, task=None, due=due, departure=departure
    )
    return departure, due, Outgoing(person.id, Reply(text), Priority.REMINDER, "pledge:departure")
