"""/report: anyone reports a suspected leak, buttons first and typing last, without ever sending the content.

The answers fill the conversation's state in a fixed order (`ORDER`); a question is asked when it applies and
has no answer yet, so 修改 only has to forget an answer (and what depends on it) to ask it again.
A reporter also lands here from 回复 on a message the office relayed to them (REPLYING)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from bot.core.events import Attachment, FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.handlers.leak import notices as leak_notices
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import label
from bot.handlers.leak.rules import (
    MAX_MESSAGE,
    MAX_NOTE,
    MAX_PLACE,
    Carrier,
    Discovered,
    Kind,
    Marked,
    Measure,
    Whose,
    discovery_moment,
    parse_count,
    parse_discovery,
)
from bot.handlers.leak.service import Report
from bot.services import staff_queries


class ReportState(StrEnum):
    KIND = "kind"  # what happened
    WHOSE = "whose"  # mine, someone else's, or found material
    WHEN = "when"  # just now, today, or earlier
    DAY = "day"  # typing the date of an earlier discovery
    PLACE = "place"  # typing a short place
    CARRIER = "carrier"  # the kind of carrier
    COUNT = "count"  # how many carriers
    LEVEL = "level"  # the level marked on it, as a category
    MEASURES = "measures"  # the remedial measures already taken (a checklist)
    NOTE = "note"  # an optional short note on the measures
    NAME = "name"  # with or without the reporter's name (one's own loss too)
    PREVIEW = "preview"  # submit, change or cancel
    FIELD = "field"  # choosing the answer to change
    REPLYING = "replying"  # typing a reply to a message the office relayed


# The questions in the order a reporter meets them, with the state key holding each answer.
ORDER: tuple[tuple[ReportState, str], ...] = (
    (ReportState.KIND, "kind"),
    (ReportState.WHOSE, "whose"),
    (ReportState.WHEN, "when"),
    (ReportState.DAY, "day"),
    (ReportState.PLACE, "place"),
    (ReportState.CARRIER, "carrier"),
    (ReportState.COUNT, "count"),
    (ReportState.LEVEL, "level"),
    (ReportState.MEASURES, "measures"),
    (ReportState.NOTE, "note"),
    (ReportState.NAME, "withheld"),
)
EDITABLE = (
    ReportState.KIND,
    ReportState.WHOSE,
    ReportState.WHEN,
    ReportState.PLACE,
    ReportState.CARRIER,
    ReportState.LEVEL,
    ReportState.MEASURES,
    ReportState.NOTE,
    ReportState.NAME,
)
COUNT_BUTTONS = ("1", "2", "3", "4", "5")


def values(enum: type[StrEnum]) -> frozenset[str]:
    return frozenset(m.value for m in enum)


def applies(question: ReportState, st: dict[str, Any]) -> bool:
    """Whether a question is asked at all, given the answers so far."""
    if question is ReportState.WHOSE:
        return st.get("kind") != Kind.OTHERS
    if question is ReportState.DAY:
        return st.get("when") in (Discovered.TODAY, Discovered.EARLIER)
    if question is ReportState.COUNT:
        return st.get("carrier") != Carrier.TALK
    return True


class ReportFlow:
    name = "report"
    prefix = "lk"
    roles = EVERYONE

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Opens with the notice (describe, never send the content), the person's own earlier reports (status
        only), and asks what happened."""
        st: dict[str, Any] = {"state": ReportState.KIND}
        mine = [
            {"number": number, "status": label(ctx.texts, ctx.locale, f"status.{status}")}
            for number, status in await leak.reported_by(ctx.session, ctx.person.id)
        ]
        first = self.ask(ctx, st, opening=True)
        return Step(
            st, [Reply(ctx.t("report/mine", mine=mine) + "\n\n" + first.text if mine else first.text, first.buttons)]
        )

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        st = dict(state)
        current = ReportState(st["state"])
        if isinstance(event, Attachment):
            return self.refuse_attachment(ctx, st)
        match current, event:
            case ReportState.KIND, Pick("kind", (value,)) if value in values(Kind):
                return self.take_kind(ctx, st, Kind(value))
            case ReportState.WHOSE, Pick("whose", (value,)) if value in values(Whose):
                return self.take_whose(ctx, st, Whose(value))
            case ReportState.WHEN, Pick("when", (value,)) if value in values(Discovered):
                return self.take_when(ctx, st, Discovered(value))
            case ReportState.DAY, Text(text):
                return self.take_day(ctx, st, text)
            case ReportState.PLACE, Text(text):
                return self.take_place(ctx, st, text)
            case ReportState.CARRIER, Pick("carrier", (value,)) if value in values(Carrier):
                return self.take_carrier(ctx, st, Carrier(value))
            case ReportState.COUNT, Pick("count", (value,)):
                return self.take_count(ctx, st, value)
            case ReportState.COUNT, Text(text):
                return self.take_count(ctx, st, text)
            case ReportState.LEVEL, Pick("level", (value,)) if value in values(Marked):
                return self.take_level(ctx, st, Marked(value))
            case ReportState.MEASURES, Pick("toggle", (value,)) if value in values(Measure):
                return self.toggle_measure(ctx, st, Measure(value))
            case ReportState.MEASURES, Pick("done"):
                return self.take_measures(ctx, st)
            case ReportState.NOTE, Pick("skip"):
                return self.take_note(ctx, st, None)
            case ReportState.NOTE, Text(text):
                return self.take_note(ctx, st, text)
            case ReportState.NAME, Pick("name", (value,)) if value in ("show", "hide"):
                return self.take_name(ctx, st, value == "hide")
            case ReportState.PREVIEW, Pick("submit"):
                return await self.submit(ctx, st)
            case ReportState.PREVIEW, Pick("change"):
                return self.choose_field(ctx, st)
            case ReportState.PREVIEW, Pick("cancel"):
                return self.cancel(ctx)
            case ReportState.FIELD, Pick("field", (value,)) if value in values(ReportState):
                return self.change(ctx, st, ReportState(value))
            case ReportState.FIELD, Pick("back"):
                return self.advance(ctx, st)
            case ReportState.REPLYING, Text(text):
                return await self.relay_reply(ctx, st, text)
        return self.not_understood(ctx, st)

    def take_kind(self, ctx: FlowContext, st: dict[str, Any], kind: Kind) -> Step:
        """Stores what happened; someone else's violation answers "whose" too."""
        st["kind"] = kind
        if kind is Kind.OTHERS:
            return self.take_whose(ctx, st, Whose.OTHERS)
        return self.advance(ctx, st)

    def take_whose(self, ctx: FlowContext, st: dict[str, Any], whose: Whose) -> Step:
        """Stores whose it was (whoever it was, the reporter may withhold their name at the end)."""
        st["whose"] = whose
        return self.advance(ctx, st)

    def take_when(self, ctx: FlowContext, st: dict[str, Any], when: Discovered) -> Step:
        """Stores when it was discovered; "today" asks for the time, "earlier" for the day (and time)."""
        st["when"] = when
        if when is Discovered.NOW:
            st["day"], st["at"] = ctx.today.isoformat(), ctx.now.isoformat()
        else:
            st.pop("day", None)
            st.pop("at", None)
        return self.advance(ctx, st)

    def take_day(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Reads when it was discovered (上周五, 3月1日, 昨天下午3点): the clocks start there."""
        if refusal := refuse_marked(ctx, text):
            return Step(st, [refusal])
        local = ctx.now.astimezone(ctx.texts.timezone)
        typed = parse_discovery(text, local.date(), local.time())
        if typed is None:
            return Step(st, [Reply(ctx.t("report/day_invalid")), self.ask(ctx, st)])
        st["day"] = typed.day.isoformat()
        st["at"] = discovery_moment(typed, ctx.now, ctx.texts.timezone).isoformat()
        return self.advance(ctx, st)

    def take_place(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Checks the place (short, no markings) and stores it."""
        place = text.strip()
        if refusal := refuse_marked(ctx, place):
            return Step(st, [refusal])
        if not place or len(place) > MAX_PLACE:
            return Step(st, [Reply(ctx.t("report/too_long", limit=MAX_PLACE))])
        st["place"] = place
        return self.advance(ctx, st)

    def take_carrier(self, ctx: FlowContext, st: dict[str, Any], carrier: Carrier) -> Step:
        """Stores the carrier type; a conversation has nothing to count."""
        st["carrier"] = carrier
        if carrier is Carrier.TALK:
            st["count"] = None
        else:
            st.pop("count", None)
        return self.advance(ctx, st)

    def take_count(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Stores how many carriers (a button or a typed number)."""
        if refusal := refuse_marked(ctx, text):
            return Step(st, [refusal])
        count = parse_count(text)
        if count is None:
            return Step(st, [Reply(ctx.t("report/count_invalid")), self.ask(ctx, st)])
        st["count"] = count
        return self.advance(ctx, st)

    def take_level(self, ctx: FlowContext, st: dict[str, Any], level: Marked) -> Step:
        """Stores the marked level as a category."""
        st["level"] = level
        return self.advance(ctx, st)

    def toggle_measure(self, ctx: FlowContext, st: dict[str, Any], measure: Measure) -> Step:
        """Ticks or unticks one measure on the checklist, in place."""
        picked = list(st.get("picked", []))
        picked = [m for m in picked if m != measure] if measure in picked else [*picked, measure]
        st["picked"] = [m for m in Measure if m in picked]
        reply = self.ask(ctx, st)
        return Step(st, [Reply(reply.text, reply.buttons, replace=True)])

    def take_measures(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Stores the ticked measures (none is an answer too)."""
        st["measures"] = st.pop("picked", [])
        return self.advance(ctx, st)

    def take_note(self, ctx: FlowContext, st: dict[str, Any], text: str | None) -> Step:
        """Stores the optional note on the measures (short, no markings)."""
        note = None if text is None else text.strip()
        if note is not None:
            if refusal := refuse_marked(ctx, note):
                return Step(st, [refusal])
            if not note or len(note) > MAX_NOTE:
                return Step(st, [Reply(ctx.t("report/too_long", limit=MAX_NOTE))])
        st["note"] = note
        return self.advance(ctx, st)

    def take_name(self, ctx: FlowContext, st: dict[str, Any], withheld: bool) -> Step:
        """Stores whether the reporter's name is withheld from the case."""
        st["withheld"] = withheld
        return self.advance(ctx, st)

    def advance(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Asks the first question that applies and has no answer yet; with all answered, shows the preview."""
        for question, key in ORDER:
            if key not in st and applies(question, st):
                st["state"] = question
                if question is ReportState.MEASURES:
                    st["picked"] = list(st.get("measures", []))
                return Step(st, [self.ask(ctx, st)])
        st["state"] = ReportState.PREVIEW
        return Step(st, [self.ask(ctx, st)])

    def choose_field(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Offers the answers that can be changed."""
        st["state"] = ReportState.FIELD
        return Step(st, [self.ask(ctx, st)])

    def change(self, ctx: FlowContext, st: dict[str, Any], field: ReportState) -> Step:
        """Asks one question again; its answer leads back to the preview."""
        if field not in EDITABLE or not applies(field, st):
            return self.not_understood(ctx, st)
        st["state"] = field
        if field is ReportState.MEASURES:
            st["picked"] = list(st.get("measures", []))
        return Step(st, [self.ask(ctx, st)])

    async def submit(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Opens the case, alerts every officer and the leadership at once, and tells the reporter what to do next."""
        case = await leak.open_case(ctx.session, ctx.now, ctx.policy, ctx.texts.timezone, ctx.person.id, report_of(st))
        officers = await staff_queries.officer_ids(ctx.session)
        outgoing = await leak_notices.alerts(ctx.session, ctx.texts, case, officers)
        outgoing += await leak_notices.to_leadership(ctx.session, ctx.texts, case)
        return Step(None, [Reply(ctx.t("report/submitted", case=case), replace=True)], outgoing)

    def cancel(self, ctx: FlowContext) -> Step:
        """Drops the draft: nothing was stored."""
        return Step.done(Reply(ctx.t("report/cancelled"), replace=True))

    async def relay_reply(self, ctx: FlowContext, st: dict[str, Any], text: str) -> Step:
        """Passes the reporter's (guarded) reply to the officers, without their name if it was withheld."""
        message = text.strip()
        if refusal := refuse_marked(ctx, message):
            return Step(st, [refusal])
        if not message or len(message) > MAX_MESSAGE:
            return Step(st, [Reply(ctx.t("report/too_long", limit=MAX_MESSAGE))])
        case = await leak.get_case(ctx.session, int(st["case"]))
        if case is None:
            return Step.done(Reply(ctx.t("cases/not_found")))
        await leak.record_relay(ctx.session, ctx.now, case.id, ctx.person.id, message, to_reporter=False)
        outgoing = await leak_notices.to_officers(
            ctx.session, ctx.texts, case, "cases/reporter_message", reply_button=True, message=message
        )
        return Step(None, [Reply(ctx.t("report/reply_sent", case=case))], outgoing)

    def refuse_attachment(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """The engine has deleted the material; says why and asks the current question again."""
        return Step(st, [Reply(ctx.t("core/attachment_refused")), self.ask(ctx, st)])

    def not_understood(self, ctx: FlowContext, st: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        question = self.ask(ctx, st)
        return Step(st, [Reply(ctx.t("report/not_understood") + "\n\n" + question.text, question.buttons)])

    # --- the questions --------------------------------------------------------------------------------
    def ask(self, ctx: FlowContext, st: dict[str, Any], opening: bool = False) -> Reply:
        current = ReportState(st["state"])
        if current is ReportState.KIND:
            return Reply(ctx.t("report/ask_kind", opening=opening), self.choices(ctx, "kind", list(Kind), 1))
        if current is ReportState.WHOSE:
            return Reply(ctx.t("report/ask_whose"), self.choices(ctx, "whose", list(Whose), 1))
        if current is ReportState.WHEN:
            return Reply(ctx.t("report/ask_when"), self.choices(ctx, "when", list(Discovered), 3))
        if current is ReportState.DAY:
            return Reply(ctx.t("report/ask_day", today=ctx.today, earlier=st.get("when") == Discovered.EARLIER))
        if current is ReportState.PLACE:
            return Reply(ctx.t("report/ask_place", limit=MAX_PLACE))
        if current is ReportState.CARRIER:
            return Reply(ctx.t("report/ask_carrier"), self.choices(ctx, "carrier", list(Carrier), 2))
        if current is ReportState.COUNT:
            return Reply(ctx.t("report/ask_count"), [[Button(n, "count", (n,)) for n in COUNT_BUTTONS]])
        if current is ReportState.LEVEL:
            return Reply(ctx.t("report/ask_level"), self.choices(ctx, "level", list(Marked), 3))
        if current is ReportState.MEASURES:
            picked = st.get("picked", [])
            rows = [
                [Button(("✅ " if m in picked else "") + label(ctx.texts, ctx.locale, f"measure.{m}"), "toggle", (m,))]
                for m in Measure
            ]
            rows.append([Button(label(ctx.texts, ctx.locale, "btn.next"), "done")])
            return Reply(ctx.t("report/ask_measures"), rows)
        if current is ReportState.NOTE:
            skip = [[Button(label(ctx.texts, ctx.locale, "btn.skip"), "skip")]]
            return Reply(ctx.t("report/ask_note", limit=MAX_NOTE), skip)
        if current is ReportState.NAME:
            buttons = [[self.button(ctx, "name.show", "name", "show"), self.button(ctx, "name.hide", "name", "hide")]]
            return Reply(ctx.t("report/ask_name"), buttons)
        if current is ReportState.PREVIEW:
            report = report_of(st)
            text = ctx.t("report/preview", summary=leak_notices.summary(ctx.texts, ctx.locale, report), r=report)
            buttons = [
                [self.button(ctx, "btn.submit", "submit")],
                [self.button(ctx, "btn.change", "change"), self.button(ctx, "btn.cancel", "cancel")],
            ]
            return Reply(text, buttons)
        if current is ReportState.FIELD:
            fields = [f for f in EDITABLE if applies(f, st)]
            buttons = [
                [self.button(ctx, f"field.{f}", "field", f) for f in fields[i : i + 2]]
                for i in range(0, len(fields), 2)
            ]
            buttons.append([self.button(ctx, "btn.back", "back")])
            return Reply(ctx.t("report/ask_field"), buttons)
        return Reply(ctx.t("report/ask_reply", number=st["number"]))

    def choices(self, ctx: FlowContext, action: str, options: Sequence[StrEnum], per_row: int) -> list[list[Button]]:
        buttons = [self.button(ctx, f"{action}.{v}", action, v) for v in options]
        return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]

    def button(self, ctx: FlowContext, key: str, action: str, *args: str) -> Button:
        return Button(label(ctx.texts, ctx.locale, key), action, tuple(args))


def report_of(st: dict[str, Any]) -> Report:
    return Report(
        kind=Kind(st["kind"]),
        whose=Whose(st["whose"]),
        discovered=Discovered(st["when"]),
        discovered_on=date.fromisoformat(st["day"]),
        discovered_at=datetime.fromisoformat(st["at"]) if "at" in st else None,
        place=st["place"],
        carrier=Carrier(st["carrier"]),
        carrier_count=st["count"],
        level=Marked(st["level"]),
        measures=tuple(Measure(m) for m in st["measures"]),
        measures_note=st["note"],
        name_withheld=bool(st["withheld"]),
    )


class ReporterAction:
    """回复 on a message the office relayed: only the case's reporter may answer it."""

    prefix = leak_notices.REPORTER_ACTION
    roles = EVERYONE
    # A reporter who simply types an answer under the office's message (within two days) is answering it.
    answers_typed_text = True

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action != "reply" or len(args) != 1 or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        case = await leak.get_case(ctx.session, int(args[0]))
        if case is None or await leak.reporter_of(ctx.session, case.id) != ctx.person.id:
            return Step(None, toast=ctx.t("core/no_right"))
        state = {"state": ReportState.REPLYING, "case": case.id, "number": case.number}
        return Step(state, [Reply(ctx.t("report/ask_reply", number=case.number))], flow=ReportFlow.name)
