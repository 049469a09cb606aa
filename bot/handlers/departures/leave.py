"""/leave (离岗手续): the person's and the head's steps of a departure procedure. The person lists what they hand
over, as counts only (教育局保密工作制度篇3 第十三条: 将手中涉密载体登记列表，双方核对确认), and is then asked for the
departure pledge; their head checks the handover and confirms receipt, and records the education before leaving
(涉密人员管理制度 五、2.). Irreversible steps are confirmed first. Also the person's part of /status and the to-dos
of the person, the head and the office."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, Button, FlowContext, Reply, Step, ToDo
from bot.core.paging import PAGE_SIZE, nav_row, page_of
from bot.core.shortcut import start_button
from bot.domain.levels import Role
from bot.handlers.departures import notices, procedure
from bot.handlers.departures.depart import perform
from bot.handlers.departures.procedure import Handover, Procedure
from bot.handlers.departures.rules import MAX_COUNT, parse_count
from bot.handlers.pledges.rules import PledgeState

COUNTS = ("paper", "media", "devices")  # 纸质载体 件, 存储介质 件, 涉密设备 台
HEAD_ACTS = ("receive", "educate")


class LeaveStep(StrEnum):
    CHOOSING = "choosing"  # a head's list of people whose steps wait for them
    VIEWING = "viewing"  # one procedure's steps with the buttons of whoever looks
    COUNTING = "counting"  # the person typing one count after another
    SUBMITTING = "submitting"  # the handover list shown: submit or start again
    CONFIRMING = "confirming"  # a head's receipt or education record, confirmed first


class LeaveFlow:
    name = "leave"
    prefix = "lv"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """The person's own procedure, or the ones waiting for the head (a list when there are several)."""
        own = await procedure.under_way_for(ctx.session, ctx.person.id)
        theirs = await waiting_for_head(ctx)
        if own is not None and not theirs:
            return self.view_own(ctx, own, replace=False)
        if own is None and len(theirs) == 1:
            return self.view_head(ctx, theirs[0], replace=False)
        if own is None and not theirs:
            return Step.done(Reply(ctx.t("depart/leave_nothing")))
        return await self.listing(ctx, 0, replace=False)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match LeaveStep(state["state"]), event:
            case LeaveStep.CHOOSING, Pick("page", (number,)) if number.isdigit():
                return await self.listing(ctx, int(number), replace=True)
            case LeaveStep.CHOOSING, Pick("open", (number,)) if number.isdigit():
                return await self.open(ctx, int(number))
            case LeaveStep.VIEWING, Pick("declare"):
                return self.ask_count(ctx, {"state": LeaveStep.COUNTING, "departure": state["departure"]})
            case LeaveStep.COUNTING, Text(text):
                return self.take_count(ctx, state, text)
            case LeaveStep.SUBMITTING, Pick("submit"):
                return await self.submit(ctx, state)
            case LeaveStep.SUBMITTING, Pick("again"):
                return self.ask_count(ctx, {"state": LeaveStep.COUNTING, "departure": state["departure"]})
            case LeaveStep.VIEWING, Pick(act, (number,)) if act in HEAD_ACTS and number.isdigit():
                return await self.ask_act(ctx, act, int(number))
            case LeaveStep.CONFIRMING, Pick("yes"):
                return await self.act(ctx, state)
            case LeaveStep.CONFIRMING, Pick("back"):
                return await self.open(ctx, state["departure"])
        return await self.not_understood(ctx, state)

    async def listing(self, ctx: FlowContext, number: int, *, replace: bool) -> Step:
        """The person's own procedure first, then the department's waiting for this head, ten a page."""
        own = await procedure.under_way_for(ctx.session, ctx.person.id)
        items = ([own] if own is not None else []) + await waiting_for_head(ctx)
        page = page_of(len(items), number)
        shown = items[page.start : page.start + PAGE_SIZE]
        buttons = [[Button(f"{p.name}（{p.employee_id}）", "open", (str(p.id),))] for p in shown]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        text = ctx.t("depart/leave_list", total=len(items))
        return Step({"state": LeaveStep.CHOOSING}, [Reply(text, buttons, replace=replace)])

    async def open(self, ctx: FlowContext, departure_id: int, *, replace: bool = True) -> Step:
        """One procedure, as its person or as their head sees it."""
        found = await procedure.by_id(ctx.session, departure_id)
        if found is None or found.approved_on is not None:
            return Step.done(Reply(ctx.t("depart/gone")))
        if found.staff_id == ctx.person.id:
            return self.view_own(ctx, found, replace=replace)
        if may_act_as_head(ctx, found):
            return self.view_head(ctx, found, replace=replace)
        return Step.done(Reply(ctx.t("core/no_right")))

    def view_own(self, ctx: FlowContext, p: Procedure, *, replace: bool) -> Step:
        """The person's steps; their buttons: the handover list while not given, the pledge once it is asked for."""
        buttons: list[list[Button]] = []
        if p.handover is None:
            buttons.append([Button(ctx.t("depart/word", key="declare"), "declare")])
        elif p.received_at is not None and p.pledge is not PledgeState.SIGNED:
            buttons.append([start_button(ctx.t("depart/word", key="sign"), notices.PLEDGE_COMMAND)])
        reply = Reply(ctx.t("depart/procedure", p=p), buttons, replace=replace)
        if not buttons:
            return Step.done(reply)
        return Step({"state": LeaveStep.VIEWING, "departure": p.id}, [reply])

    def view_head(self, ctx: FlowContext, p: Procedure, *, replace: bool) -> Step:
        """The head's view: confirm receipt once the list is given, record the education."""
        buttons: list[list[Button]] = []
        if p.handover is not None and p.received_at is None:
            buttons.append([Button(ctx.t("depart/word", key="receive"), "receive", (str(p.id),))])
        if p.educated_at is None:
            buttons.append([Button(ctx.t("depart/word", key="educate"), "educate", (str(p.id),))])
        reply = Reply(ctx.t("depart/procedure", p=p), buttons, replace=replace)
        if not buttons:
            return Step.done(reply)
        return Step({"state": LeaveStep.VIEWING, "departure": p.id}, [reply])

    # --- the person's handover list ------------------------------------------------------------------------
    def ask_count(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Asks for the next count (paper carriers, storage media, devices)."""
        what = COUNTS[len([k for k in COUNTS if k in state])]
        return Step(state, [Reply(ctx.t("depart/ask_count", what=what))])

    def take_count(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Takes one count; after the last, shows the list to submit."""
        count = parse_count(text)
        if count is None:
            return Step(state, [Reply(ctx.t("depart/bad_count", limit=MAX_COUNT))])
        what = COUNTS[len([k for k in COUNTS if k in state])]
        state = {**state, what: count}
        if what != COUNTS[-1]:
            return self.ask_count(ctx, state)
        return self.show_list(ctx, state)

    def show_list(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """The handover list as typed, to submit or type again (it cannot be changed once submitted)."""
        buttons = [
            [
                Button(ctx.t("depart/word", key="submit"), "submit"),
                Button(ctx.t("depart/word", key="again"), "again"),
            ]
        ]
        text = ctx.t("depart/confirm_handover", paper=state["paper"], media=state["media"], devices=state["devices"])
        return Step({**state, "state": LeaveStep.SUBMITTING}, [Reply(text, buttons)])

    async def submit(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the list and asks the head to check it."""
        handover = Handover(state["paper"], state["media"], state["devices"])
        if not await procedure.declare_handover(ctx.session, ctx.now, state["departure"], ctx.person.id, handover):
            return Step.done(Reply(ctx.t("depart/gone"), replace=True))
        found = await procedure.by_id(ctx.session, state["departure"])
        assert found is not None
        heads, button = await notices.heads_of(ctx.session, found)
        told = await notices.to(ctx.session, ctx.texts, heads, "depart/head_receipt_asked", button, p=found)
        return Step(None, [Reply(ctx.t("depart/handover_done"), replace=True)], told)

    # --- the head's steps ---------------------------------------------------------------------------------
    async def ask_act(self, ctx: FlowContext, act: str, departure_id: int) -> Step:
        """Receipt or education, confirmed first."""
        found = await procedure.by_id(ctx.session, departure_id)
        if found is None or found.approved_on is not None or not may_act_as_head(ctx, found):
            return Step.done(Reply(ctx.t("depart/gone")))
        if (act == "receive" and (found.handover is None or found.received_at is not None)) or (
            act == "educate" and found.educated_at is not None
        ):
            return self.view_head(ctx, found, replace=True)
        buttons = [[Button(ctx.t("depart/word", key="yes"), "yes"), Button(ctx.t("depart/word", key="back"), "back")]]
        text = ctx.t("depart/confirm_act", act=act, p=found, today=ctx.today, ends_on=None)
        return Step(
            {"state": LeaveStep.CONFIRMING, "act": act, "departure": found.id}, [Reply(text, buttons, replace=True)]
        )

    async def act(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the confirmed step and tells whom it concerns."""
        found = await procedure.by_id(ctx.session, state["departure"])
        if found is None or found.approved_on is not None or not may_act_as_head(ctx, found):
            return Step.done(Reply(ctx.t("depart/gone"), replace=True))
        outgoing = await perform(ctx, state["act"], found)
        if outgoing is None:
            return await self.open(ctx, found.id)
        return Step(None, [Reply(ctx.t("depart/done_act", act=state["act"], p=found), replace=True)], outgoing)

    async def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = LeaveStep(state["state"])
        if current is LeaveStep.COUNTING:
            return self.ask_count(ctx, state)
        if current is LeaveStep.CHOOSING:
            return await self.listing(ctx, 0, replace=False)
        if current is LeaveStep.SUBMITTING:
            return self.show_list(ctx, state)
        return await self.open(ctx, state["departure"], replace=False)


def may_act_as_head(ctx: FlowContext, p: Procedure) -> bool:
    """A head of the person's department who is not the person."""
    return ctx.person.has(Role.HEAD) and ctx.person.department_id == p.department_id and ctx.person.id != p.staff_id


async def waiting_for_head(ctx: FlowContext) -> list[Procedure]:
    """The department's procedures with a step for this head: a receipt to confirm, an education to record."""
    if not ctx.person.has(Role.HEAD):
        return []
    return [
        p
        for p in await procedure.in_progress(ctx.session, ctx.person.department_id)
        if p.staff_id != ctx.person.id and ((p.handover is not None and p.received_at is None) or p.educated_at is None)
    ]


# --- /status and the to-dos ---------------------------------------------------------------------------------
async def departure_status(ctx: FlowContext) -> str | None:
    """The person's own procedure under way, step by step."""
    own = await _own(ctx)
    return None if own is None else ctx.t("depart/status", p=own)


async def departure_todo(ctx: FlowContext) -> list[ToDo]:
    """The person's handover list; a head's receipts and education records; the office's approvals."""
    out = []
    own = await _own(ctx)
    open_label = ctx.t("depart/word", key="open")
    if own is not None and own.handover is None:
        out.append(ToDo(ctx.later("depart/todo", key="handover", count=1), notices.LEAVE_COMMAND, open_label))
    if theirs := await waiting_for_head(ctx):
        out.append(ToDo(ctx.later("depart/todo", key="head", count=len(theirs)), notices.LEAVE_COMMAND, open_label))
    if ctx.person.has(Role.OFFICER):
        ready = [p for p in await procedure.in_progress(ctx.session) if not p.missing]
        if ready:
            label = ctx.t("depart/word", key="office")
            out.append(ToDo(ctx.later("depart/todo", key="office", count=len(ready)), notices.OFFICE_COMMAND, label))
    return out


async def _own(ctx: FlowContext) -> procedure.Procedure | None:
    """The person's own procedure under way, read once for the section and the to-do."""
    return await ctx.once("departure", lambda people: procedure.under_way_of(ctx.session, people))
