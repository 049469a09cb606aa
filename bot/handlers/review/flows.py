"""/review (送审, 信息审查): anyone asks for the secrecy review of an item before it is published — where, its
title, its kind, when, and where the draft lies in the unit's own system. The draft never comes into the chat;
every typed answer passes the content guard.

The answers fill the conversation's state in a fixed order (`ORDER`); a question is asked when it applies and has
no answer yet, so 修改 only has to forget an answer to ask it again. A request returned for changes comes back here
from 修改后重新送审 (SubmitterAction) with its answers filled in, and is sent again as its next round."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import Attachment, FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.handlers.review import notices
from bot.handlers.review import service as review
from bot.handlers.review.notices import label
from bot.handlers.review.rules import (
    MAX_CHANNEL_NAME,
    MAX_DRAFT_REF,
    MAX_TITLE,
    Channel,
    Kind,
    Stage,
    Status,
    chain_for,
    parse_planned_day,
)
from bot.handlers.review.service import Draft, RequestInfo


class ReviewState(StrEnum):
    CHANNEL = "channel"  # where it will be published
    CHANNEL_NAME = "channel_name"  # typing the name of another channel
    TITLE = "title"  # typing the title
    KIND = "kind"  # the kind of information
    DATE = "date"  # the planned date: today, tomorrow, or typed
    DRAFT = "draft"  # typing the draft's link or number in the unit's own system
    PREVIEW = "preview"  # submit, change or cancel
    FIELD = "field"  # choosing the answer to change


# The questions in the order a submitter meets them, with the state key holding each answer.
ORDER: tuple[tuple[ReviewState, str], ...] = (
    (ReviewState.CHANNEL, "channel"),
    (ReviewState.CHANNEL_NAME, "channel_name"),
    (ReviewState.TITLE, "title"),
    (ReviewState.KIND, "kind"),
    (ReviewState.DATE, "planned_on"),
    (ReviewState.DRAFT, "draft_ref"),
)
EDITABLE = (ReviewState.CHANNEL, ReviewState.TITLE, ReviewState.KIND, ReviewState.DATE, ReviewState.DRAFT)
# The typed answers: the state, its key, its limit.
TYPED = {
    ReviewState.CHANNEL_NAME: ("channel_name", MAX_CHANNEL_NAME),
    ReviewState.TITLE: ("title", MAX_TITLE),
    ReviewState.DRAFT: ("draft_ref", MAX_DRAFT_REF),
}


def applies(question: ReviewState, st: dict[str, Any]) -> bool:
    """Whether a question is asked at all, given the answers so far."""
    return question is not ReviewState.CHANNEL_NAME or st.get("channel") == Channel.OTHER


class ReviewFlow:
    name = "review"
    prefix = "rv"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Opens with what the review is and what never to send here, and asks where it will be published."""
        st: dict[str, Any] = {"state": ReviewState.CHANNEL}
        return Step(st, [self.ask(ctx, st, opening=True)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        st = dict(state)
        current = ReviewState(st["state"])
        if isinstance(event, Attachment):
            return Step(st, [Reply(ctx.t("core/attachment_refused")), self.ask(ctx, st)])
        match current, event:
            case ReviewState.CHANNEL, Pick("channel", (value,)) if value in set(Channel):
                return self.take_channel(ctx, st, Channel(value))
            case ReviewState.KIND, Pick("kind", (value,)) if value in set(Kind):
                st["kind"] = value
                return self.advance(ctx, st)
            case ReviewState.DATE, Pick("day", (value,)) if value in ("0", "1"):
                st["planned_on"] = (ctx.today + timedelta(days=int(value))).isoformat()
                return self.advance(ctx, st)
            case ReviewState.DATE, Text(text):
                return self.take_date(ctx, st, text)
            case ((ReviewState.CHANNEL_NAME | ReviewState.TITLE | ReviewState.DRAFT), Text(text)):
                return self.take_text(ctx, st, current, text)
            case ReviewState.PREVIEW, Pick("submit"):
                return await self.submit(ctx, st)
            case ReviewState.PREVIEW, Pick("change"):
                st["state"] = ReviewState.FIELD
                return Step(st, [self.ask(ctx, st)])
            case ReviewState.PREVIEW, Pick("cancel"):
                return Step.done(Reply(ctx.t("review/cancelled", resubmitting="request" in st), replace=True))
            case ReviewState.FIELD, Pick("field", (value,)) if value in {f.value for f in EDITABLE}:
                return self.change(ctx, st, ReviewState(value))
            case ReviewState.FIELD, Pick("back"):
                return self.advance(ctx, st)
        return self.not_understood(ctx, st)

    def take_channel(self, ctx: FlowContext, st: dict[str, Any], channel: Channel) -> Step:
        """Stores the channel; another channel asks for its name."""
        st["channel"] = channel
        if channel is Channel.OTHER:
            st.pop("channel_name", None)
        else:
            st["channel_name"] = None
        return self.advance(ctx, st)

    def take_text(self, ctx: FlowContext, st: dict[str, Any], question: ReviewState, text: str) -> Step:
        """Checks a typed answer (the guard, then its length) and stores it."""
        value = " ".join(text.split())
        if refusal := refuse_marked(ctx, value):
            return Step(st, [refusal])
        key, limit = TYPED[question]
        if not value or len(value) > limit:
            return Step(st, [Reply(ctx.t("review/too_long", limit=limit))])
        st[key] = value
        return self.advance(ctx, st)

    def take_date(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Checks the typed date (today or later) and stores it."""
        if refusal := refuse_marked(ctx, text):
            return Step(st, [refusal])
        day = parse_planned_day(text, ctx.today)
        if day is None:
            return Step(st, [Reply(ctx.t("review/date_invalid"), self.ask(ctx, st).buttons)])
        st["planned_on"] = day.isoformat()
        return self.advance(ctx, st)

    def advance(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Asks the first question that applies and has no answer yet; with all answered, shows the preview."""
        for question, key in ORDER:
            if key not in st and applies(question, st):
                st["state"] = question
                return Step(st, [self.ask(ctx, st)])
        st["state"] = ReviewState.PREVIEW
        return Step(st, [self.ask(ctx, st)])

    def change(self, ctx: FlowContext, st: dict[str, Any], field: ReviewState) -> Step:
        """Asks one question again; its answer leads back to the preview."""
        st["state"] = field
        return Step(st, [self.ask(ctx, st)])

    async def submit(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Sends the request (or a returned one again) into its chain and tells the first reviewers."""
        draft = draft_of(st)
        tz = ctx.texts.timezone
        if "request" in st:
            request = await review.resubmit(ctx.session, ctx.now, ctx.policy, tz, ctx.person, int(st["request"]), draft)
            if request is None:
                return Step.done(Reply(ctx.t("review/gone"), replace=True))
        else:
            request = await review.submit(ctx.session, ctx.now, ctx.policy, tz, ctx.person, draft)
        outgoing = []
        if request.status is Status.REVIEWING:
            outgoing = await notices.to_reviewers(ctx.session, ctx.texts, ctx.policy, request)
        text = ctx.t(
            "review/submitted",
            request=request,
            resubmitted=request.round > 1,
            stage=notices.stage_label(ctx.texts, ctx.locale, request.stage) if request.stage else None,
            reviewers=len(outgoing),
        )
        return Step(None, [Reply(text, replace=True)], outgoing)

    def not_understood(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        question = self.ask(ctx, st)
        return Step(st, [Reply(ctx.t("review/not_understood") + "\n\n" + question.text, question.buttons)])

    # --- the questions --------------------------------------------------------------------------------
    def ask(self, ctx: FlowContext, st: dict[str, Any], opening: bool = False) -> Reply:
        current = ReviewState(st["state"])
        if current is ReviewState.CHANNEL:
            return Reply(ctx.t("review/ask_channel", opening=opening), self.choices(ctx, "channel", list(Channel), 2))
        if current in TYPED:
            return Reply(ctx.t(f"review/ask_{current}", limit=TYPED[current][1]))
        if current is ReviewState.KIND:
            policy = ctx.policy
            leader = [
                label(ctx.texts, ctx.locale, f"kind.{k}")
                for k in Kind
                if Stage.LEADER in chain_for(k, policy.review_chains, policy.review_default_chain)
            ]
            return Reply(ctx.t("review/ask_kind", leader=leader), self.choices(ctx, "kind", list(Kind), 2))
        if current is ReviewState.DATE:
            buttons = [[self.button(ctx, "btn.today", "day", "0"), self.button(ctx, "btn.tomorrow", "day", "1")]]
            return Reply(ctx.t("review/ask_date", today=ctx.today), buttons)
        if current is ReviewState.PREVIEW:
            draft = draft_of(st)
            policy = ctx.policy
            chain = chain_for(draft.kind, policy.review_chains, policy.review_default_chain)
            text = ctx.t(
                "review/preview",
                summary=notices.summary(ctx.texts, ctx.locale, draft),
                chain=notices.chain_text(ctx.texts, ctx.locale, chain),
                resubmitting="request" in st,
            )
            submit = "btn.resubmit" if "request" in st else "btn.submit"
            buttons = [
                [self.button(ctx, submit, "submit")],
                [self.button(ctx, "btn.change", "change"), self.button(ctx, "btn.cancel", "cancel")],
            ]
            return Reply(text, buttons)
        fields = [self.button(ctx, f"field.{f}", "field", f) for f in EDITABLE]
        buttons = [fields[i : i + 2] for i in range(0, len(fields), 2)]
        buttons.append([self.button(ctx, "btn.back", "back")])
        return Reply(ctx.t("review/ask_field"), buttons)

    def choices(self, ctx: FlowContext, action: str, options: list[StrEnum], per_row: int) -> list[list[Button]]:
        buttons = [self.button(ctx, f"{action}.{v}", action, v) for v in options]
        return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]

    def button(self, ctx: FlowContext, key: str, action: str, *args: str) -> Button:
        return Button(label(ctx.texts, ctx.locale, key), action, tuple(args))


def draft_of(st: dict[str, Any]) -> Draft:
    return Draft(
        channel=Channel(st["channel"]),
        channel_name=st["channel_name"],
        title=st["title"],
        kind=Kind(st["kind"]),
        planned_on=date.fromisoformat(st["planned_on"]),
        draft_ref=st["draft_ref"],
    )


def state_of(request: RequestInfo) -> dict[str, Any]:
    """A returned request's answers, ready to change and send again."""
    d = request.draft
    return {
        "state": ReviewState.PREVIEW,
        "request": request.id,
        "channel": d.channel,
        "channel_name": d.channel_name,
        "title": d.title,
        "kind": d.kind,
        "planned_on": d.planned_on.isoformat(),
        "draft_ref": d.draft_ref,
    }


class SubmitterAction:
    """修改后重新送审 / 撤回 on a returned request: only its submitter may press them."""

    prefix = notices.SUBMITTER_ACTION
    roles = EVERYONE

    def __init__(self, flow: ReviewFlow) -> None:
        self.flow = flow

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action not in ("edit", "withdraw") or len(args) != 1 or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        request = await review.get(ctx.session, int(args[0]))
        if request is None or request.submitter_id != ctx.person.id:
            return Step(None, toast=ctx.t("core/no_right"))
        if request.status is not Status.RETURNED:
            return Step(None, toast=ctx.t("review/gone"))
        if action == "withdraw":
            await review.withdraw(ctx.session, ctx.now, ctx.person, request.id)
            return Step.done(Reply(ctx.t("review/withdrawn", request=request), replace=True))
        state = state_of(request)
        return Step(state, [self.flow.ask(ctx, state)], flow=ReviewFlow.name)
