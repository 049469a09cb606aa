"""/inventory: a head confirms the department's carrier inventory with counts only (教育局保密工作制度篇3 第二十七条:
发现问题及时报告保密办及分管领导). A count that differs from the register with nothing missing is a discrepancy the
office resolves with the department; a missing carrier opens an internal 事件 record whose clock makes it a leak only
after 10 days (绝密) or 60 days (机密、秘密) without trace (泄密案件查处办法 第五条). The bot never says a case was
立案: that is the authorities' act. The register itself never enters the bot."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.domain.levels import Role
from bot.domain.schedule import due_date, inventory_period
from bot.domain.workdays import WorkCalendar
from bot.handlers.duties import service as duties
from bot.handlers.leak import notices as leak_notices
from bot.handlers.leak.rules import MAX_PLACE, Carrier, Discovered, Kind, Marked, Whose
from bot.handlers.leak.service import Report
from bot.services import people, staff_queries

MAX_COUNT = 100_000


class InventoryState(StrEnum):
    CHECKED = "checked"  # how many carriers were checked
    MATCHES = "matches"  # do they match the register
    MISSING = "missing"  # how many are missing
    CONFIRMING = "confirm"  # submit or start again


class InventoryFlow:
    name = "inventory"
    prefix = "iy"
    roles = frozenset({Role.HEAD})

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows an existing confirmation, or asks for the number of carriers checked."""
        label, nominal = inventory_period(ctx.policy.inventory_deadlines, ctx.today)
        report = await duties.inventory_report(ctx.session, ctx.person.department_id, label)
        if report is not None:
            return Step.done(Reply(ctx.t("inventory/already", report=report, department=ctx.person.department)))
        deadline = due_date(nominal, WorkCalendar())
        state = {"state": InventoryState.CHECKED, "period": label}
        return Step(state, [Reply(ctx.t("inventory/intro", department=ctx.person.department, deadline=deadline))])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        current = InventoryState(state["state"])
        match current, event:
            case InventoryState.CHECKED, Text(text):
                return self.take_checked(ctx, state, text)
            case InventoryState.MATCHES, Pick("matches", (answer,)) if answer in ("y", "n"):
                return self.take_matches(ctx, state, answer == "y")
            case InventoryState.MISSING, Text(text):
                return self.take_missing(ctx, state, text)
            case InventoryState.CONFIRMING, Pick("submit"):
                return await self.submit(ctx, state)
            case InventoryState.CONFIRMING, Pick("again"):
                return Step(
                    {"state": InventoryState.CHECKED, "period": state["period"]},
                    [Reply(ctx.t("inventory/ask_checked"), replace=True)],
                )
        return self.not_understood(ctx, state)

    def take_checked(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Takes the number checked and asks whether it matches the register."""
        count = _count(text)
        if count is None:
            return Step(state, [Reply(ctx.t("inventory/bad_number", limit=MAX_COUNT))])
        state = {**state, "state": InventoryState.MATCHES, "checked": count}
        return Step(state, [self._ask_matches(ctx)])

    def take_matches(self, ctx: FlowContext, state: dict[str, Any], matches: bool) -> Step:
        """Takes the answer; a match with the register goes straight to the summary."""
        state = {**state, "matches": matches}
        if matches:
            return self.confirm(ctx, {**state, "missing": 0})
        state["state"] = InventoryState.MISSING
        return Step(state, [Reply(ctx.t("inventory/ask_missing"), replace=True)])

    def take_missing(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Takes the number missing."""
        count = _count(text)
        if count is None:
            return Step(state, [Reply(ctx.t("inventory/bad_number", limit=MAX_COUNT))])
        return self.confirm(ctx, {**state, "missing": count})

    def confirm(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Shows the counts before they are submitted."""
        state = {**state, "state": InventoryState.CONFIRMING}
        buttons = [[Button(ctx.t("inventory/btn_submit"), "submit"), Button(ctx.t("inventory/btn_again"), "again")]]
        text = ctx.t(
            "inventory/confirm",
            department=ctx.person.department,
            checked=state["checked"],
            matches=state["matches"],
            missing=state["missing"],
        )
        return Step(state, [Reply(text, buttons)])

    async def submit(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Stores the report; a missing carrier opens an event record, a discrepancy alone is sent to the office."""
        missing = state["missing"] > 0
        case_number = await open_missing_record(ctx, state["missing"]) if missing else None
        discrepancy = not state["matches"] and not missing
        await duties.record_inventory(
            ctx.session,
            ctx.now,
            ctx.person.department_id,
            state["period"],
            ctx.person.id,
            state["checked"],
            state["matches"],
            state["missing"],
            case_number,
        )
        if missing:
            reply = Reply(ctx.t("inventory/submitted_missing", case_number=case_number, missing=state["missing"]))
            return Step.done(Reply(reply.text, replace=True))
        if discrepancy:
            notices = await discrepancy_notices(ctx, state["checked"])
            return Step(None, [Reply(ctx.t("inventory/submitted_discrepancy"), replace=True)], notices)
        return Step.done(Reply(ctx.t("inventory/submitted"), replace=True))

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = InventoryState(state["state"])
        if current is InventoryState.CHECKED:
            return Step(state, [Reply(ctx.t("inventory/ask_checked"))])
        if current is InventoryState.MATCHES:
            return Step(state, [self._ask_matches(ctx)])
        if current is InventoryState.MISSING:
            return Step(state, [Reply(ctx.t("inventory/ask_missing"))])
        return self.confirm(ctx, state)

    def _ask_matches(self, ctx: FlowContext) -> Reply:
        buttons = [
            [
                Button(ctx.t("inventory/btn_yes"), "matches", ("y",)),
                Button(ctx.t("inventory/btn_no"), "matches", ("n",)),
            ]
        ]
        return Reply(ctx.t("inventory/ask_matches"), buttons)


async def discrepancy_notices(ctx: FlowContext, checked: int) -> list[Outgoing]:
    """The office hears of a count that differs from the register with nothing missing: a discrepancy to resolve
    with the department (a register not updated, a carrier destroyed or returned unrecorded), not a leak."""
    officers = list(await staff_queries.officer_ids(ctx.session))
    locales = await people.locales(ctx.session, officers)
    return [
        Outgoing(
            staff_id,
            Reply(
                ctx.texts.render(
                    "inventory/discrepancy_notice", locales.get(staff_id, "zh"), person=ctx.person, checked=checked
                )
            ),
            Priority.ALERT,
            "inventory",
        )
        for staff_id in officers
    ]


async def open_missing_record(ctx: FlowContext, missing: int) -> str:
    """A missing carrier opens an internal 事件 record of kind "carrier lost" with the missing-carrier clock (an
    unknown marking gets the strictest, 10 days): found within it, it is closed; not found, it is handled as a leak
    (泄密案件查处办法 第五条). Every officer and the 分管领导 are told at once."""
    report = Report(
        kind=Kind.CARRIER_LOST,
        whose=Whose.MINE,
        discovered=Discovered.TODAY,
        discovered_on=ctx.today,
        place=ctx.t("inventory/case_place", department=ctx.person.department)[:MAX_PLACE],
        carrier=Carrier.OTHER,
        carrier_count=missing or None,
        level=Marked.UNKNOWN,
    )
    case = await leak_notices.open_case(ctx.session, ctx.now, ctx.texts, ctx.policy, ctx.person.id, report)
    return case.number


def _count(text: str) -> int | None:
    text = text.strip()
    if not text.isdigit() or int(text) > MAX_COUNT:
        return None
    return int(text)
