"""/reviews: the reviewers' desk and the ledger in the chat — the requests a person may see (the secrecy office
every unit, a head their own, a 分管领导 those that reach their stage), those they can decide first; one request's
card with its history; 同意 / 退回修改 (with a reason) / 不同意 (with a reason). The office also gets the 登记表 and
a 审查单's PDF here. The same decisions are taken from the buttons on a reviewer's notice (ReviewerAction)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any

from bot.core.events import Attachment, FlowEvent, Pick, Text
from bot.core.flow import Button, Document, ExportContext, FlowContext, Reply, Step, ToDo
from bot.core.guarding import refuse_marked
from bot.domain.levels import Role
from bot.handlers.review import documents, notices
from bot.handlers.review import service as review
from bot.handlers.review.notices import label
from bot.handlers.review.rules import MAX_REASON, Decision, Stage, Status, is_overdue, working_days_waited
from bot.handlers.review.service import Outcome, RequestInfo
from bot.services.calendar import work_calendar
from bot.services.people import Person

TODO_SCAN = 200  # requests read to count those waiting for the person (a to-do, not a list)
MAX_LISTED = 20  # a longer list is unusable on a phone; the 登记表 has every request
REVIEWERS: frozenset[Role] = frozenset({Role.HEAD, Role.OFFICER, Role.LEADER})


class LedgerState(StrEnum):
    LISTING = "listing"  # the requests, those waiting for this person first
    VIEWING = "viewing"  # one request: its card and what can be done
    REASON = "reason"  # typing the reason for 退回修改 or 不同意


def scope(person: Person) -> str:
    """What /reviews lists for a person (service.ledger): every unit, their own unit, or what reaches a leader."""
    if person.has(Role.OFFICER):
        return "all"
    return "unit" if person.has(Role.HEAD) else "leader"


def may_see(person: Person, request: RequestInfo) -> bool:
    """The office sees every request, a head their unit's, a leader those whose chain reaches them."""
    if person.has(Role.OFFICER):
        return True
    if person.has(Role.HEAD) and person.department_id == request.department_id:
        return True
    return person.has(Role.LEADER) and Stage.LEADER in request.chain


class ReviewsFlow:
    name = "reviews"
    prefix = "rvl"
    roles = REVIEWERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the requests, those the person can decide first, one button each; the office may export."""
        return await self.listing(ctx, replace=False)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        st = dict(state)
        current = LedgerState(st["state"])
        if isinstance(event, Attachment):
            step = await self.ask(ctx, st)
            return Step(step.state, [Reply(ctx.t("core/attachment_refused")), *step.replies])
        match current, event:
            case LedgerState.LISTING, Pick("open", (request_id,)) if request_id.isdigit():
                return await self.view(ctx, int(request_id), replace=True)
            case LedgerState.LISTING, Pick("export") if ctx.person.has(Role.OFFICER):
                return await self.export(ctx)
            case LedgerState.VIEWING, Pick(("approve" | "return" | "refuse") as action, (rid, round_, stage)) if (
                rid.isdigit() and round_.isdigit() and stage in set(Stage)
            ):
                return await self.decide_or_ask(ctx, Decision(action), int(rid), int(round_), Stage(stage), False)
            case LedgerState.VIEWING, Pick("pdf") if ctx.person.has(Role.OFFICER):
                return await self.pdf(ctx, int(st["request"]))
            case LedgerState.VIEWING, Pick("list"):
                return await self.listing(ctx, replace=True)
            case LedgerState.REASON, Text(text):
                return await self.take_reason(ctx, st, text)
            case LedgerState.REASON, Pick("back"):
                return await self.view(ctx, int(st["request"]))
        return await self.not_understood(ctx, st)

    async def listing(self, ctx: FlowContext, replace: bool) -> Step:
        """The requests the person may see, those they can decide first, overdue ones marked."""
        requests = await review.ledger(ctx.session, ctx.person, MAX_LISTED)
        if not requests:
            return Step.done(Reply(ctx.t("review/none"), replace=replace))
        calendar = await work_calendar(ctx.session)
        today = ctx.today
        items = [
            {
                "r": r,
                "status": label(ctx.texts, ctx.locale, f"status.{r.status}"),
                "stage": notices.stage_label(ctx.texts, ctx.locale, r.stage) if r.stage else None,
                "mine": review.may_decide(ctx.person, r),
                "overdue": r.stage is not None
                and is_overdue(
                    r.stage_since.astimezone(ctx.texts.timezone).date(), today, calendar, ctx.policy.review_limit_days
                ),
            }
            for r in requests
        ]
        buttons = [[Button(f"{i}. {short(r.draft.title)}", "open", (str(r.id),))] for i, r in enumerate(requests, 1)]
        if ctx.person.has(Role.OFFICER):
            buttons.append([Button(label(ctx.texts, ctx.locale, "btn.export"), "export")])
        text = ctx.t("review/ledger", items=items, scope=scope(ctx.person), department=ctx.person.department)
        return Step({"state": LedgerState.LISTING}, [Reply(text, buttons, replace=replace)])

    async def view(self, ctx: FlowContext, request_id: int, notice: str = "", replace: bool = False) -> Step:
        """Shows one request: its metadata, its history, and 同意 / 退回修改 / 不同意 when the person may decide."""
        request = await review.get(ctx.session, request_id)
        if request is None or not may_see(ctx.person, request):
            return Step.done(Reply(ctx.t("review/not_found")))
        waited = None
        if request.stage is not None:
            calendar = await work_calendar(ctx.session)
            today = ctx.today
            waited = working_days_waited(request.stage_since.astimezone(ctx.texts.timezone).date(), today, calendar)
        text = ctx.t(
            "review/card",
            request=request,
            notice=notice,
            status=label(ctx.texts, ctx.locale, f"status.{request.status}"),
            summary=notices.summary(ctx.texts, ctx.locale, request.draft, request),
            history=notices.history(ctx.texts, ctx.locale, request),
            stage=notices.stage_label(ctx.texts, ctx.locale, request.stage) if request.stage else None,
            waited=waited,
        )
        rows: list[list[Button]] = []
        if review.may_decide(ctx.person, request):
            rows += notices.decision_buttons(ctx.texts, ctx.locale, request, None)
        if request.status is Status.APPROVED and ctx.person.has(Role.OFFICER):
            rows.append([Button(label(ctx.texts, ctx.locale, "btn.pdf"), "pdf")])
        rows.append([Button(label(ctx.texts, ctx.locale, "btn.list"), "list")])
        return Step({"state": LedgerState.VIEWING, "request": request.id}, [Reply(text, rows, replace=replace)])

    async def decide_or_ask(
        self, ctx: FlowContext, decision: Decision, request_id: int, round_: int, stage: Stage, from_notice: bool
    ) -> Step:
        """同意 is recorded at once; 退回修改 and 不同意 ask for the reason first (the submitter reads it)."""
        if decision is Decision.APPROVE:
            return await self.decide(ctx, decision, request_id, round_, stage, None, from_notice)
        request = await review.get(ctx.session, request_id)
        if request is None:
            return Step.done(Reply(ctx.t("review/not_found")))
        if request.status is not Status.REVIEWING or request.round != round_ or request.stage is not stage:
            return Step.done(self.taken(ctx, request, replace=from_notice))
        if not review.may_decide(ctx.person, request):
            return Step(None, toast=ctx.t("core/no_right"))
        state = {
            "state": LedgerState.REASON,
            "request": request.id,
            "round": round_,
            "stage": stage,
            "decision": decision,
            "notice": from_notice,
        }
        reply = self.ask_reason(ctx, request, decision)
        return Step(state, [Reply(reply.text, reply.buttons, replace=from_notice)])  # the notice shows the choice

    async def take_reason(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Checks the reason (the guard, then its length) and records the decision with it."""
        reason = " ".join(text.split())
        if refusal := refuse_marked(ctx, reason):
            return Step(st, [refusal])
        if not reason or len(reason) > MAX_REASON:
            return Step(st, [Reply(ctx.t("review/too_long", limit=MAX_REASON))])
        decision, stage = Decision(st["decision"]), Stage(st["stage"])
        return await self.decide(ctx, decision, int(st["request"]), int(st["round"]), stage, reason, st["notice"])

    async def decide(
        self,
        ctx: FlowContext,
        decision: Decision,
        request_id: int,
        round_: int,
        stage: Stage,
        reason: str | None,
        from_notice: bool,
    ) -> Step:
        """Records the decision; the submitter hears of it, and the next stage's reviewers get the request."""
        decided = await review.decide(
            ctx.session, ctx.now, ctx.texts.timezone, ctx.person, request_id, round_, stage, decision, reason
        )
        if decided is None:
            return Step.done(Reply(ctx.t("review/not_found")))
        request = decided.request
        if decided.outcome is Outcome.NOT_ALLOWED:
            return Step(None, toast=ctx.t("core/no_right"))
        if decided.outcome is Outcome.TAKEN:
            return Step.done(self.taken(ctx, request, replace=from_notice and decision is Decision.APPROVE))
        outgoing = await notices.after_decision(ctx.session, ctx.texts, ctx.policy, request)
        done = ctx.t(
            "review/decided",
            request=request,
            decision=label(ctx.texts, ctx.locale, f"decision.{decision}"),
            stage=notices.stage_label(ctx.texts, ctx.locale, stage),
            next_stage=notices.stage_label(ctx.texts, ctx.locale, request.stage) if request.stage else None,
        )
        if from_notice:
            return Step(None, [Reply(done, replace=decision is Decision.APPROVE)], outgoing)
        step = await self.view(ctx, request.id, done)
        return Step(step.state, step.replies, outgoing)

    def taken(self, ctx: FlowContext, request: RequestInfo, replace: bool) -> Reply:
        """The stage was decided already (by someone else, or a second tap): what happened to it."""
        last = request.last_decision
        return Reply(
            ctx.t(
                "review/taken",
                request=request,
                status=label(ctx.texts, ctx.locale, f"status.{request.status}"),
                last=last,
                decision=label(ctx.texts, ctx.locale, f"decision.{last.decision}") if last else None,
            ),
            replace=replace,
        )

    def ask_reason(self, ctx: FlowContext, request: RequestInfo, decision: Decision) -> Reply:
        text = ctx.t("review/ask_reason", request=request, decision=decision.value, limit=MAX_REASON)
        return Reply(text, [[Button(label(ctx.texts, ctx.locale, "btn.back"), "back")]])

    async def export(self, ctx: FlowContext) -> Step:
        """Sends the 登记表 of every request as a workbook, made when it is sent (ledger_export)."""
        return Step.done(ctx.export("reviews", day=ctx.today.isoformat()))

    async def pdf(self, ctx: FlowContext, request_id: int) -> Step:
        """Sends the printable 审查单 of an approved request."""
        request = await review.get(ctx.session, request_id)
        if request is None or request.number is None:
            return Step.done(Reply(ctx.t("review/not_found")))
        content = documents.form_pdf(request, ctx.policy.bureau_name, ctx.texts, ctx.locale)
        caption = ctx.t("review/pdf_caption", request=request)
        document = Document(f"{request.number}.pdf", base64.b64encode(content).decode(), caption)
        return Step.done(Reply(caption, document=document))

    async def not_understood(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        step = await self.ask(ctx, st)
        return Step(step.state, [Reply(ctx.t("review/not_understood")), *step.replies])

    async def ask(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """The question of the current state, asked again."""
        current = LedgerState(st["state"])
        if current is LedgerState.LISTING:
            return await self.listing(ctx, replace=False)
        if current is LedgerState.REASON:
            request = await review.get(ctx.session, int(st["request"]))
            if request is None:
                return Step.done(Reply(ctx.t("review/not_found")))
            return Step(st, [self.ask_reason(ctx, request, Decision(st["decision"]))])
        return await self.view(ctx, int(st["request"]))


def short(title: str, limit: int = 14) -> str:
    """A title short enough for a button."""
    return title if len(title) <= limit else title[: limit - 1] + "…"


class ReviewerAction:
    """同意 / 退回修改 / 不同意 / 查看 on a reviewer's notice: each works on the stage the notice was for."""

    prefix = notices.REVIEWER_ACTION
    roles = REVIEWERS

    def __init__(self, flow: ReviewsFlow) -> None:
        self.flow = flow

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action == "view" and len(args) == 1 and args[0].isdigit():
            step = await self.flow.view(ctx, int(args[0]))
        elif (
            action in {d.value for d in notices.DECIDING}
            and len(args) == 3
            and args[0].isdigit()
            and args[1].isdigit()
            and args[2] in set(Stage)
        ):
            step = await self.flow.decide_or_ask(
                ctx, Decision(action), int(args[0]), int(args[1]), Stage(args[2]), True
            )
        else:
            return Step(None, toast=ctx.t("core/stale_button"))
        return Step(
            step.state, step.replies, step.outgoing, step.toast, flow=None if step.state is None else self.flow.name
        )


async def reviews_todo(ctx: FlowContext) -> list[ToDo]:
    """For reviewers: the requests waiting for their decision."""
    if not ctx.person.roles & {Role.HEAD, Role.OFFICER, Role.LEADER}:
        return []
    mine = [r for r in await review.ledger(ctx.session, ctx.person, TODO_SCAN) if review.may_decide(ctx.person, r)]
    if not mine:
        return []
    return [ToDo(ctx.later("review/todo", count=len(mine)), "reviews", ctx.t("core/word", key="reviews"))]


async def ledger_export(ctx: ExportContext, params: Mapping[str, Any]) -> Document:
    """Makes the 登记表 of every request (bot/core/exports.py: outside the engine, off its loop)."""
    day, locale = date.fromisoformat(params["day"]), params["locale"]
    requests = await review.all_requests(ctx.session, ctx.texts.timezone)
    content = documents.ledger_workbook(requests, ctx.policy.bureau_name, ctx.now, ctx.texts, locale)
    caption = ctx.texts.render("review/export_caption", locale, count=len(requests), day=day)
    return Document(f"reviews-{day.isoformat()}.xlsx", base64.b64encode(content).decode(), caption)
