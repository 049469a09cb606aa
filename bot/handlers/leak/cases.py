"""/cases: officers work the open leak cases — acknowledge, set the status with a short note, mark the written
report sent or the carrier found, write to the reporter through the bot, and (audit-logged) reveal a withheld
reporter. Nobody else sees anything of a case; the reporter is told of every status change."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import Attachment, FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Outgoing, Reply, Step, ToDo
from bot.core.guarding import refuse_marked
from bot.domain.levels import Role
from bot.handlers.leak import notices as leak_notices
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import label
from bot.handlers.leak.rules import MAX_MESSAGE, MAX_NOTE, Status
from bot.handlers.leak.service import CaseInfo

MAX_LISTED = 30  # a longer list is unusable on a phone; the export has every case
MAX_CLOSED = 10  # the latest concluded cases; the export has every one
SETTABLE = (Status.ACCEPTED, Status.INVESTIGATING, Status.CONCLUDED)
UNDO_WINDOW = timedelta(minutes=5)  # a status change can be taken back this long


class CasesState(StrEnum):
    LISTING = "listing"  # the open cases, soonest deadline first
    VIEWING = "viewing"  # one case and what can be done with it
    STATUS = "status"  # choosing the new status
    STATUS_NOTE = "status_note"  # typing a short note for it, or skipping
    CONFIRMING = "confirming"  # an irreversible step (written report sent, carrier found, concluding) confirmed
    CLOSED = "closed"  # the concluded cases
    RELAYING = "relaying"  # typing a message for the reporter
    REVEALING = "revealing"  # confirming that the withheld reporter is to be shown


class CasesFlow:
    name = "cases"
    prefix = "lc"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the open cases, soonest deadline first, one button each."""
        cases = (await leak.open_cases(ctx.session))[:MAX_LISTED]
        closed = [c for c in await leak.all_cases(ctx.session) if not c.is_open]
        if not cases and not closed:
            return Step.done(Reply(ctx.t("cases/none")))
        labels = [(label(ctx.texts, ctx.locale, f"kind.{c.report.kind}"), self.status(ctx, c)) for c in cases]
        items = [{"case": c, "kind": kind, "status": status} for c, (kind, status) in zip(cases, labels, strict=True)]
        buttons = [
            [Button(f"{c.number} · {status}", "open", (str(c.id),))]
            for c, (_, status) in zip(cases, labels, strict=True)
        ]
        if closed:
            buttons.append([self.button(ctx, "btn.closed", "closed")])
        return Step({"state": CasesState.LISTING}, [Reply(ctx.t("cases/list", items=items), buttons)])

    async def closed(self, ctx: FlowContext) -> Step:
        """The latest concluded cases, newest first, each to open (they stay on record, with their history)."""
        closed = [c for c in await leak.all_cases(ctx.session) if not c.is_open]
        closed.sort(key=lambda c: (c.concluded_at or c.reported_at, c.id), reverse=True)
        shown = closed[:MAX_CLOSED]
        buttons = [[Button(f"{c.number} · {self.status(ctx, c)}", "open", (str(c.id),))] for c in shown]
        buttons.append([self.button(ctx, "btn.list", "list")])
        text = ctx.t("cases/closed_list", cases=shown, total=len(closed))
        return Step({"state": CasesState.CLOSED}, [Reply(text, buttons, replace=True)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        st = dict(state)
        current = CasesState(st["state"])
        if isinstance(event, Attachment):
            return Step(st, [Reply(ctx.t("core/attachment_refused")), *(await self.ask(ctx, st)).replies])
        if current in (CasesState.LISTING, CasesState.CLOSED):
            if isinstance(event, Pick) and event.action == "open" and event.args and event.args[0].isdigit():
                return await self.view(ctx, int(event.args[0]), replace=True)
            if isinstance(event, Pick) and event.action == "closed":
                return await self.closed(ctx)
            if isinstance(event, Pick) and event.action == "list":
                return await self.start(ctx, "")
            return await self.not_understood(ctx, st)
        case = await leak.get_case(ctx.session, int(st["case"]))
        if case is None:
            return Step.done(Reply(ctx.t("cases/not_found")))
        match current, event:
            case CasesState.VIEWING, Pick("ack"):
                return await self.acknowledge(ctx, case)
            case CasesState.VIEWING, Pick("status"):
                return self.ask_status(ctx, case)
            case CasesState.VIEWING, Pick("sent"):
                return self.ask_confirm(ctx, case, "sent")
            case CasesState.VIEWING, Pick("found"):
                return self.ask_confirm(ctx, case, "found")
            case CasesState.VIEWING, Pick("done"):
                return await self.view(ctx, case.id, replace=True)  # a step already taken: its place stays
            case CasesState.VIEWING, Pick("undo"):
                return await self.undo(ctx, case, st.get("undo"))
            case CasesState.CONFIRMING, Pick("yes"):
                return await self.confirmed(ctx, case, st["confirm"])
            case CasesState.VIEWING, Pick("relay"):
                return self.ask_relay(ctx, case)
            case CasesState.VIEWING, Pick("reveal"):
                return self.ask_reveal(ctx, case)
            case CasesState.VIEWING, Pick("list"):
                return await self.start(ctx, "")
            case CasesState.STATUS, Pick("set", (value,)) if value == Status.CONCLUDED:
                return self.ask_confirm(ctx, case, "conclude")
            case CasesState.STATUS, Pick("set", (value,)) if value in {s.value for s in SETTABLE}:
                return self.ask_status_note(ctx, case, Status(value))
            case CasesState.STATUS_NOTE, Pick("skip"):
                return await self.set_status(ctx, case, Status(st["status"]), None)
            case CasesState.STATUS_NOTE, Text(text):
                return await self.set_status(ctx, case, Status(st["status"]), text)
            case CasesState.RELAYING, Text(text):
                return await self.relay(ctx, case, text)
            case CasesState.REVEALING, Pick("yes"):
                return await self.reveal(ctx, case)
            case (
                (
                    CasesState.STATUS
                    | CasesState.STATUS_NOTE
                    | CasesState.RELAYING
                    | CasesState.REVEALING
                    | CasesState.CONFIRMING
                ),
                Pick("back" | "no"),
            ):
                return await self.view(ctx, case.id)
        return await self.not_understood(ctx, st)

    async def view(
        self,
        ctx: FlowContext,
        case_id: int,
        notice: str = "",
        replace: bool = False,
        undo: dict[str, str] | None = None,
    ) -> Step:
        """Shows one case: its metadata, clocks and the buttons for what can be done. Every button keeps its place
        once its step is taken (✓ 已受理 where 受理 was), so a second tap never lands on another one; a status
        change just made can be taken back (撤销) for UNDO_WINDOW."""
        case = await leak.get_case(ctx.session, case_id)
        if case is None:
            return Step.done(Reply(ctx.t("cases/not_found")))
        text = ctx.t(
            "cases/card",
            case=case,
            notice=notice,
            status=self.status(ctx, case),
            summary=leak_notices.summary(ctx.texts, ctx.locale, case.report, case),
        )
        rows: list[list[Button]] = []
        rows.append([self.button(ctx, "btn.ack", "ack") if case.acknowledged_at is None else self.done(ctx, "ack")])
        rows.append([self.button(ctx, "btn.status", "status")])
        if case.written_report_due is None:
            pass  # no state secret: no 24-hour written report to mark (rules.written_report_due)
        elif case.written_report_sent_at is None:
            rows.append([self.button(ctx, "btn.sent", "sent")])
        else:
            rows.append([self.done(ctx, "sent")])
        if case.carrier_deadline is not None:
            found = case.carrier_found_at is None and case.carrier_deemed_at is None
            rows.append([self.button(ctx, "btn.found", "found") if found else self.done(ctx, "found")])
        rows.append([self.button(ctx, "btn.contact", "relay")])
        if case.report.name_withheld:
            rows.append([self.button(ctx, "btn.reveal", "reveal")])
        rows.append([self.button(ctx, "btn.list", "list")])
        state: dict[str, Any] = {"state": CasesState.VIEWING, "case": case.id}
        if undo is not None and ctx.now < datetime.fromisoformat(undo["at"]) + UNDO_WINDOW:
            state["undo"] = undo
            rows.append([self.button(ctx, "btn.undo", "undo")])
        return Step(state, [Reply(text, rows, replace=replace)])

    def done(self, ctx: FlowContext, what: str) -> Button:
        """The place of a step already taken: says so, and does nothing."""
        return Button(label(ctx.texts, ctx.locale, f"btn.done_{what}"), "done")

    def ask_confirm(self, ctx: FlowContext, case: CaseInfo, what: str) -> Step:
        """What a step that cannot be taken back means, and what is still open (before concluding), to confirm."""
        open_clocks = []
        if what == "conclude":
            if case.written_report_due is not None and case.written_report_sent_at is None:
                open_clocks.append({"what": "written_report", "due": case.written_report_due})
            if case.carrier_pending and case.carrier_deadline is not None:
                open_clocks.append({"what": "carrier", "due": case.carrier_deadline})
        text = ctx.t("cases/confirm", case=case, what=what, open_clocks=open_clocks)
        buttons = [[self.button(ctx, f"btn.confirm_{what}", "yes")], [self.button(ctx, "btn.back", "back")]]
        return Step({"state": CasesState.CONFIRMING, "case": case.id, "confirm": what}, [Reply(text, buttons)])

    async def confirmed(self, ctx: FlowContext, case: CaseInfo, what: str) -> Step:
        if what == "sent":
            return await self.mark_sent(ctx, case)
        if what == "found":
            return await self.mark_found(ctx, case)
        return self.ask_status_note(ctx, case, Status.CONCLUDED)

    async def undo(self, ctx: FlowContext, case: CaseInfo, undo: dict[str, str] | None) -> Step:
        """Takes back the status change just made (within UNDO_WINDOW); the reporter is told again."""
        if undo is None or ctx.now >= datetime.fromisoformat(undo["at"]) + UNDO_WINDOW:
            return await self.view(ctx, case.id, ctx.t("cases/undo_expired", minutes=UNDO_WINDOW.seconds // 60))
        previous = Status(undo["status"])
        await leak.set_status(ctx.session, ctx.now, case.id, ctx.person.id, previous, None)
        outgoing = await self.tell_reporter(ctx, case.id, None)
        step = await self.view(ctx, case.id, ctx.t("cases/undone", status=self.status_label(ctx, previous)))
        return Step(step.state, step.replies, outgoing)

    async def acknowledge(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """受理: stops the repeated alerts and tells the reporter."""
        if not await leak.acknowledge(ctx.session, ctx.now, case.id, ctx.person.id):
            return await self.view(ctx, case.id, ctx.t("cases/already_acknowledged"))
        step = await self.view(ctx, case.id, ctx.t("cases/acknowledged", case=case))
        return Step(step.state, step.replies, await self.tell_reporter(ctx, case.id, None))

    def ask_status(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Offers the statuses an officer can set."""
        buttons = [
            [self.button(ctx, f"status.{s}", "set", s) for s in SETTABLE],
            [self.button(ctx, "btn.back", "back")],
        ]
        return Step(
            {"state": CasesState.STATUS, "case": case.id}, [Reply(ctx.t("cases/ask_status", case=case), buttons)]
        )

    def ask_status_note(self, ctx: FlowContext, case: CaseInfo, status: Status) -> Step:
        """Asks for a short note on the new status (the reporter reads it too), or 跳过."""
        buttons = [[self.button(ctx, "btn.skip", "skip"), self.button(ctx, "btn.back", "back")]]
        text = ctx.t("cases/ask_status_note", status=label(ctx.texts, ctx.locale, f"status.{status}"), limit=MAX_NOTE)
        return Step({"state": CasesState.STATUS_NOTE, "case": case.id, "status": status}, [Reply(text, buttons)])

    async def set_status(self, ctx: FlowContext, case: CaseInfo, status: Status, text: str | None) -> Step:
        """Checks the note, stores the status change and tells the reporter."""
        note = None if text is None else text.strip()
        if note is not None:
            if refusal := refuse_marked(ctx, note):
                return Step({"state": CasesState.STATUS_NOTE, "case": case.id, "status": status}, [refusal])
            if not note or len(note) > MAX_NOTE:
                step = self.ask_status_note(ctx, case, status)
                return Step(step.state, [Reply(ctx.t("report/too_long", limit=MAX_NOTE)), *step.replies])
        previous = case.status
        await leak.set_status(ctx.session, ctx.now, case.id, ctx.person.id, status, note)
        outgoing = await self.tell_reporter(ctx, case.id, note)
        undo = {"status": previous.value, "at": ctx.now.isoformat()}
        notice = ctx.t("cases/status_set", status=self.status_label(ctx, status), minutes=UNDO_WINDOW.seconds // 60)
        step = await self.view(ctx, case.id, notice, undo=undo)
        return Step(step.state, step.replies, outgoing)

    async def mark_sent(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Records that the written report went to the secrecy administration: its reminders stop."""
        await leak.mark_written_report_sent(ctx.session, ctx.now, case.id, ctx.person.id)
        return await self.view(ctx, case.id, ctx.t("cases/written_sent"))

    async def mark_found(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Records that the missing carrier was found: it is no longer going to be handled as leaked."""
        await leak.mark_carrier_found(ctx.session, ctx.now, case.id, ctx.person.id)
        return await self.view(ctx, case.id, ctx.t("cases/carrier_found"))

    def ask_relay(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Asks for the message to pass to the reporter (neither side learns the other's name)."""
        buttons = [[self.button(ctx, "btn.back", "back")]]
        text = ctx.t("cases/ask_relay", case=case, limit=MAX_MESSAGE)
        return Step({"state": CasesState.RELAYING, "case": case.id}, [Reply(text, buttons)])

    async def relay(self, ctx: FlowContext, case: CaseInfo, text: str) -> Step:
        """Checks the message and relays it to the reporter with a 回复 button."""
        message = text.strip()
        if refusal := refuse_marked(ctx, message):
            return Step({"state": CasesState.RELAYING, "case": case.id}, [refusal])
        if not message or len(message) > MAX_MESSAGE:
            return Step(
                {"state": CasesState.RELAYING, "case": case.id}, [Reply(ctx.t("report/too_long", limit=MAX_MESSAGE))]
            )
        await leak.record_relay(ctx.session, ctx.now, case.id, ctx.person.id, message, to_reporter=True)
        outgoing = await leak_notices.to_reporter(
            ctx.session, ctx.texts, case, "report/office_message", reply_button=True, message=message
        )
        step = await self.view(ctx, case.id, ctx.t("cases/relay_sent"))
        return Step(step.state, step.replies, outgoing)

    def ask_reveal(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Asks the officer to confirm: the reveal is recorded in the audit log."""
        buttons = [[self.button(ctx, "btn.reveal_yes", "yes"), self.button(ctx, "btn.back", "no")]]
        return Step(
            {"state": CasesState.REVEALING, "case": case.id}, [Reply(ctx.t("cases/ask_reveal", case=case), buttons)]
        )

    async def reveal(self, ctx: FlowContext, case: CaseInfo) -> Step:
        """Shows the reporter to this officer only, and records that they looked."""
        identity = await leak.reveal_reporter(ctx.session, ctx.now, case.id, ctx.person.id)
        if identity is None:
            return Step.done(Reply(ctx.t("cases/not_found")))
        return await self.view(ctx, case.id, ctx.t("cases/revealed", identity=identity))

    async def tell_reporter(self, ctx: FlowContext, case_id: int, note: str | None) -> list[Outgoing]:
        return await leak_notices.status_changed(ctx.session, ctx.texts, case_id, note)

    async def not_understood(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        step = await self.ask(ctx, st)
        return Step(step.state, [Reply(ctx.t("cases/not_understood")), *step.replies])

    async def ask(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """The question of the current state, asked again."""
        current = CasesState(st["state"])
        if current is CasesState.LISTING:
            return await self.start(ctx, "")
        if current is CasesState.CLOSED:
            return await self.closed(ctx)
        case = await leak.get_case(ctx.session, int(st["case"]))
        if case is None:
            return Step.done(Reply(ctx.t("cases/not_found")))
        if current is CasesState.STATUS:
            return self.ask_status(ctx, case)
        if current is CasesState.STATUS_NOTE:
            return self.ask_status_note(ctx, case, Status(st["status"]))
        if current is CasesState.RELAYING:
            return self.ask_relay(ctx, case)
        if current is CasesState.REVEALING:
            return self.ask_reveal(ctx, case)
        if current is CasesState.CONFIRMING:
            return self.ask_confirm(ctx, case, st["confirm"])
        return await self.view(ctx, case.id, undo=st.get("undo"))

    def status(self, ctx: FlowContext, case: CaseInfo) -> str:
        return self.status_label(ctx, case.status)

    def status_label(self, ctx: FlowContext, status: Status) -> str:
        return label(ctx.texts, ctx.locale, f"status.{status}")

    def button(self, ctx: FlowContext, key: str, action: str, *args: str) -> Button:
        return Button(label(ctx.texts, ctx.locale, key), action, tuple(args))


class OfficerCaseAction:
    """受理 / 查看 / 回复 on alerts and notices: each opens the case in /cases (受理 acknowledges it first)."""

    prefix = leak_notices.OFFICER_ACTION
    roles = OFFICERS

    def __init__(self, flow: CasesFlow) -> None:
        self.flow = flow

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if len(args) != 1 or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        case = await leak.get_case(ctx.session, int(args[0]))
        if case is None:
            return Step(None, toast=ctx.t("cases/not_found"))
        if action == "ack":
            step = await self.flow.acknowledge(ctx, case)
        elif action == "view":
            step = await self.flow.view(ctx, case.id)
        elif action == "relay":
            step = self.flow.ask_relay(ctx, case)
        else:
            return Step(None, toast=ctx.t("core/stale_button"))
        return Step(step.state, step.replies, step.outgoing, flow=None if step.state is None else self.flow.name)


async def cases_todo(ctx: FlowContext) -> list[ToDo]:
    """For officers: the open cases nobody has acknowledged yet."""
    if not ctx.person.has(Role.OFFICER):
        return []
    waiting = [c for c in await leak.open_cases(ctx.session) if c.acknowledged_at is None]
    if not waiting:
        return []
    return [ToDo(ctx.later("cases/todo", count=len(waiting)), "cases", ctx.t("core/word", key="cases"))]
