"""/depart: the secrecy office's side of the departure procedure (离岗). An officer starts it for a person with its
kind; the person and their head complete the preconditions in the chat (/leave); the officer sees every procedure
under way, ten a page with the step each waits for, and approves at the end — only when every precondition is met
(教育局保密工作制度篇3 第十三条: 不遵守规定或拒绝签订保密承诺书的，不得批准离岗、调动) — which starts the 脱密期
(篇3 第十四条). The office may also confirm the receipt or record the education itself, or cancel a procedure."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Outgoing, Reply, Step
from bot.core.guarding import refuse_marked
from bot.core.paging import PAGE_SIZE, nav_row, page_of
from bot.domain.declassification import period_end
from bot.handlers.departures import notices, procedure
from bot.handlers.departures.procedure import NotReady, Procedure
from bot.handlers.departures.rules import DepartureKind
from bot.handlers.pledges import service as pledges
from bot.services import people
from bot.services.calendar import work_calendar

PICK_LIMIT = 10  # people offered as buttons for a typed name
ACTS = ("approve", "receive", "educate", "stop")  # what the office may do on a procedure, each confirmed first


class DepartStep(StrEnum):
    CHOOSING = "choosing"  # the procedures under way (a page), or a typed employee id or name
    KIND = "kind"  # why the person leaves the post
    STARTING = "starting"  # what the procedure will ask: start or not
    VIEWING = "viewing"  # one procedure's steps, with what the office can do
    CONFIRMING = "confirming"  # an act on it, confirmed before it is done


class DepartFlow:
    name = "depart"
    prefix = "dp"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Takes `/depart E102` at once; else lists the procedures under way and asks whom to start one for."""
        if args.strip():
            return await self.take_id(ctx, args.split()[0])
        return await self.listing(ctx, 0, replace=False)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match DepartStep(state["state"]), event:
            case DepartStep.CHOOSING, Text(text):
                return await self.take_id(ctx, text.strip())
            case DepartStep.CHOOSING, Pick("who", (employee_id,)):
                return await self.take_id(ctx, employee_id)
            case DepartStep.CHOOSING, Pick("page", (number,)) if number.isdigit():
                return await self.listing(ctx, int(number), replace=True)
            case DepartStep.CHOOSING | DepartStep.VIEWING, Pick("open", (number,)) if number.isdigit():
                return await self.view(ctx, int(number))
            case DepartStep.KIND, Pick("kind", (kind,)) if kind in set(DepartureKind):
                return await self.ask_start(ctx, state, DepartureKind(kind))
            case DepartStep.KIND | DepartStep.STARTING, Pick("cancel"):
                return Step.done(Reply(ctx.t("depart/cancelled"), replace=True))
            case DepartStep.STARTING, Pick("start"):
                return await self.begin(ctx, state)
            case DepartStep.VIEWING, Pick(act, (number,)) if act in ACTS and number.isdigit():
                return await self.ask_act(ctx, act, int(number))
            case DepartStep.VIEWING, Pick("back"):
                return await self.listing(ctx, 0, replace=True)
            case DepartStep.CONFIRMING, Pick("yes"):
                return await self.act(ctx, state["act"], state["departure"])
            case DepartStep.CONFIRMING, Pick("back"):
                return await self.view(ctx, state["departure"])
        return await self.not_understood(ctx, state)

    async def listing(self, ctx: FlowContext, number: int, *, replace: bool) -> Step:
        """The procedures under way, ten a page, each with the steps it waits for and a button; or asks whom."""
        under_way = await procedure.in_progress(ctx.session)
        state = {"state": DepartStep.CHOOSING}
        if not under_way:
            return Step(state, [Reply(ctx.t("depart/ask_id"), replace=replace)])
        page = page_of(len(under_way), number)
        shown = under_way[page.start : page.start + PAGE_SIZE]
        buttons = [[Button(f"{p.name}（{p.employee_id}）", "open", (str(p.id),))] for p in shown]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        text = ctx.t("depart/list", procedures=shown, total=len(under_way), page=page.number + 1, pages=page.count)
        return Step(state, [Reply(text, buttons, replace=replace)])

    async def take_id(self, ctx: FlowContext, typed: str) -> Step:
        """Finds the person (by employee id or a part of the name); shows their procedure under way, or asks why
        they leave."""
        chosen = {"state": DepartStep.CHOOSING}
        if refusal := refuse_marked(ctx, typed):
            return Step(chosen, [refusal])
        person = await people.by_employee_id(ctx.session, typed)
        if person is None or not person.active:
            found = await people.search(ctx.session, typed, PICK_LIMIT)
            if len(found) != 1:
                if not found:
                    return Step(chosen, [Reply(ctx.t("depart/unknown", employee_id=typed))])
                buttons = [
                    [Button(f"{p.name}（{p.employee_id}，{p.department}）", "who", (p.employee_id,))] for p in found
                ]
                return Step(chosen, [Reply(ctx.t("depart/pick", count=len(found)), buttons)])
            person = found[0]
        under_way = await procedure.under_way_for(ctx.session, person.id)
        if under_way is not None:
            step = await self.view(ctx, under_way.id, replace=False)
            return Step(step.state, [Reply(ctx.t("depart/already", p=under_way)), *step.replies])
        kinds = [Button(ctx.t("depart/kind", kind=k.value), "kind", (k.value,)) for k in DepartureKind]
        buttons = [kinds[i : i + 2] for i in range(0, len(kinds), 2)]
        buttons.append([Button(ctx.t("depart/word", key="cancel"), "cancel")])
        state = {"state": DepartStep.KIND, "staff": person.id}
        return Step(state, [Reply(ctx.t("depart/ask_kind", person=person), buttons)])

    async def ask_start(self, ctx: FlowContext, state: dict[str, Any], kind: DepartureKind) -> Step:
        """Says what the procedure will ask of whom, before it starts."""
        person = await people.by_id(ctx.session, state["staff"])
        assert person is not None
        months = pledges.months_for(ctx.policy, person.level)
        buttons = [
            [
                Button(ctx.t("depart/word", key="start"), "start"),
                Button(ctx.t("depart/word", key="cancel"), "cancel"),
            ]
        ]
        text = ctx.t("depart/confirm_start", person=person, kind=kind.value, months=months)
        new = {**state, "state": DepartStep.STARTING, "kind": kind.value}
        return Step(new, [Reply(text, buttons, replace=True)])

    async def begin(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Starts the procedure and tells the person and their head what is theirs to do."""
        person = await people.by_id(ctx.session, state["staff"])
        assert person is not None
        if not person.active or await procedure.under_way_for(ctx.session, person.id) is not None:
            return Step.done(Reply(ctx.t("depart/unknown", employee_id=person.employee_id), replace=True))
        months = pledges.months_for(ctx.policy, person.level)
        started = await procedure.start(
            ctx.session, ctx.now, person.id, person.level, DepartureKind(state["kind"]), months, ctx.person.id
        )
        outgoing = await notices.to(
            ctx.session, ctx.texts, [person.id], "depart/person_started", ("open", notices.LEAVE_COMMAND), p=started
        )
        heads, button = await notices.heads_of(ctx.session, started)
        outgoing += await notices.to(
            ctx.session, ctx.texts, [h for h in heads if h != ctx.person.id], "depart/head_started", button, p=started
        )
        return Step(None, [Reply(ctx.t("depart/started", p=started), replace=True)], outgoing)

    async def view(self, ctx: FlowContext, departure_id: int, *, replace: bool = True) -> Step:
        """One procedure: its steps, and the office's buttons (approve; receive and educate when due; cancel)."""
        found = await procedure.by_id(ctx.session, departure_id)
        if found is None or found.approved_on is not None:
            return Step.done(Reply(ctx.t("depart/gone")))
        return Step(
            {"state": DepartStep.VIEWING, "departure": found.id},
            [Reply(ctx.t("depart/procedure", p=found), self.office_buttons(ctx, found), replace=replace)],
        )

    def office_buttons(self, ctx: FlowContext, p: Procedure) -> list[list[Button]]:
        def button(key: str) -> Button:
            return Button(ctx.t("depart/word", key=key), key, (str(p.id),))

        rows = [[button("approve")]]
        if p.handover is not None and p.received_at is None:
            rows.append([button("receive")])
        if p.educated_at is None:
            rows.append([button("educate")])
        rows.append([button("stop"), Button(ctx.t("depart/word", key="back"), "back")])
        return rows

    async def ask_act(self, ctx: FlowContext, act: str, departure_id: int) -> Step:
        """Asks to confirm an act; approval is refused at once, saying why, while a precondition is missing."""
        found = await procedure.by_id(ctx.session, departure_id)
        if found is None or found.approved_on is not None:
            return Step.done(Reply(ctx.t("depart/gone")))
        if found.staff_id == ctx.person.id:
            return Step.done(Reply(ctx.t("core/no_right")))  # nobody acts on their own departure for the office
        if act == "approve" and found.missing:
            step = await self.view(ctx, found.id, replace=False)
            return Step(step.state, [Reply(ctx.t("depart/not_ready", p=found)), *step.replies])
        if (act == "receive" and (found.handover is None or found.received_at is not None)) or (
            act == "educate" and found.educated_at is not None
        ):
            return await self.view(ctx, found.id)
        buttons = [[Button(ctx.t("depart/word", key="yes"), "yes"), Button(ctx.t("depart/word", key="back"), "back")]]
        ends_on = period_end(ctx.today, found.months) if found.months else None
        text = ctx.t("depart/confirm_act", act=act, p=found, today=ctx.today, ends_on=ends_on)
        state = {"state": DepartStep.CONFIRMING, "act": act, "departure": found.id}
        return Step(state, [Reply(text, buttons, replace=True)])

    async def act(self, ctx: FlowContext, act: str, departure_id: int) -> Step:
        """Does the confirmed act and tells whom it concerns."""
        found = await procedure.by_id(ctx.session, departure_id)
        if found is None or found.approved_on is not None:
            return Step.done(Reply(ctx.t("depart/gone"), replace=True))
        if act == "approve":
            try:
                approved = await procedure.approve(ctx.session, ctx.now, found.id, ctx.today, ctx.person.id)
            except NotReady as refused:
                return Step.done(Reply(ctx.t("depart/not_ready", p=refused.procedure), replace=True))
            told = await notices.to(
                ctx.session, ctx.texts, [approved.staff_id], "depart/approved_person", procedure=approved
            )
            return Step(None, [Reply(ctx.t("depart/approved", p=approved), replace=True)], told)
        outgoing = await perform(ctx, act, found)
        if outgoing is None:
            return await self.view(ctx, found.id)
        return Step(None, [Reply(ctx.t("depart/done_act", act=act, p=found), replace=True)], outgoing)

    async def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = DepartStep(state["state"])
        if current is DepartStep.CHOOSING:
            return Step(state, [Reply(ctx.t("depart/ask_id"))])
        if current in (DepartStep.VIEWING, DepartStep.CONFIRMING):
            return await self.view(ctx, state["departure"], replace=False)
        return Step(state, [Reply(ctx.t("depart/use_buttons"))])


async def perform(ctx: FlowContext, act: str, found: Procedure) -> list[Outgoing] | None:
    """Receipt, education or cancellation by a head or the office; None when it was done meanwhile. What follows
    is told: the pledge asked of the person after the receipt, the office once every precondition is met."""
    outgoing: list[Outgoing] = []
    if act == "receive":
        pledge_due = await pledge_due_on(ctx)
        if not await procedure.confirm_receipt(ctx.session, ctx.now, found.id, ctx.person.id, pledge_due):
            return None
        outgoing += await notices.to(
            ctx.session,
            ctx.texts,
            [found.staff_id],
            "depart/pledge_asked",
            ("sign", notices.PLEDGE_COMMAND),
            p=found,
            due=pledge_due,
        )
    elif act == "educate":
        if not await procedure.record_education(ctx.session, ctx.now, found.id, ctx.person.id):
            return None
    elif act == "stop":
        if not await procedure.cancel(ctx.session, ctx.now, found.id, ctx.person.id):
            return None
        return await notices.to(ctx.session, ctx.texts, [found.staff_id], "depart/cancelled_person", p=found)
    after = await procedure.by_id(ctx.session, found.id)
    if after is not None and not after.missing:
        office = [o for o in await notices.office_of(ctx.session, after) if o != ctx.person.id]
        outgoing += await notices.to(
            ctx.session, ctx.texts, office, "depart/ready", ("office", notices.OFFICE_COMMAND), p=after
        )
    return outgoing


async def pledge_due_on(ctx: FlowContext) -> date:
    """The departure pledge is due `departure_step_days` working days after it is asked for."""
    calendar = await work_calendar(ctx.session)
    day = ctx.today
    for _ in range(ctx.policy.departure_step_days):
        day = calendar.next_working_day(day + timedelta(days=1))
    return day
