"""/selfcheck: the individual yearly self-check (每年10月开展保密自查自评), one duty at a time; /unitcheck: the
unit's own October self-assessment by the secrecy office. Every 否 becomes a 整改 item with an owner and a due date
(保密工作常态化工作制度 第十五条: 发现问题及时整改), followed up in /rectify."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import Button, FlowContext, Outgoing, Priority, Reply, Step, ToDo
from bot.core.guarding import refuse_marked
from bot.domain.levels import Role
from bot.handlers.duties import service as duties
from bot.services import people, staff_queries
from bot.texts import MESSAGES

CHECKLIST = MESSAGES / "selfcheck" / "checklist.yaml"
UNIT_CHECKLIST = MESSAGES / "selfcheck" / "unit_checklist.yaml"
ANSWERS = ("yes", "no", "na")
MAX_NOTE = 100


@dataclass(frozen=True)
class Item:
    id: str
    text: str


@functools.lru_cache(maxsize=4)
def load_checklist(path: Path = CHECKLIST) -> tuple[Item, ...]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(Item(str(i["id"]), str(i["text"])) for i in raw["items"])


def checklist_labels() -> dict[str, str]:
    """Each item's text by its id, of the individual and the unit's checklists (a 整改 item names its item)."""
    return {i.id: i.text for i in (*load_checklist(), *load_checklist(UNIT_CHECKLIST))}


class SelfCheckState(StrEnum):
    ANSWERING = "answering"  # 是 / 否 / 不适用 for the current item
    NOTING = "noting"  # a 否 needs a short note
    CONFIRMING = "confirm"  # submit


class SelfCheckFlow:
    name = "selfcheck"
    prefix = "sc"
    roles = frozenset({Role.STAFF})

    def __init__(self, items: tuple[Item, ...]) -> None:
        self.items = items

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the first item, unless the person has no classified level or has done this year's."""
        if not ctx.person.level.is_classified:
            return Step.done(Reply(ctx.t("selfcheck/not_needed")))
        year = self._year(ctx)
        if await duties.has_self_check(ctx.session, ctx.person.id, year):
            return Step.done(Reply(ctx.t("selfcheck/already", year=year)))
        state = {"state": SelfCheckState.ANSWERING, "index": 0, "answers": {}, "year": year}
        return Step(state, [self._item(ctx, state)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        current = SelfCheckState(state["state"])
        match current, event:
            case SelfCheckState.ANSWERING, Pick("a", (answer,)) if answer in ANSWERS:
                return self.answer(ctx, state, answer)
            case SelfCheckState.NOTING, Text(text):
                return self.take_note(ctx, state, text)
            case SelfCheckState.CONFIRMING, Pick("submit"):
                return await self.submit(ctx, state)
        return self.not_understood(ctx, state)

    def answer(self, ctx: FlowContext, state: dict[str, Any], answer: str) -> Step:
        """Records the answer; a 否 asks for a note, else the next item follows."""
        item = self.items[state["index"]]
        state = {**state, "answers": {**state["answers"], item.id: {"answer": answer, "note": ""}}}
        if answer == "no":
            state["state"] = SelfCheckState.NOTING
            return Step(state, [Reply(ctx.t("selfcheck/ask_note", item=item, limit=MAX_NOTE), replace=True)])
        return self.advance(ctx, state)

    def take_note(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Takes the (guarded) note for a 否 and moves on."""
        note = text.strip()
        if not note or len(note) > MAX_NOTE:
            return Step(state, [Reply(ctx.t("selfcheck/note_length", limit=MAX_NOTE))])
        if refusal := refuse_marked(ctx, note):
            return Step(state, [refusal])
        item = self.items[state["index"]]
        answers = {**state["answers"], item.id: {"answer": "no", "note": note}}
        return self.advance(ctx, {**state, "answers": answers, "state": SelfCheckState.ANSWERING}, replace=False)

    def advance(self, ctx: FlowContext, state: dict[str, Any], replace: bool = True) -> Step:
        """The next item, or the summary after the last one."""
        index = state["index"] + 1
        if index < len(self.items):
            state = {**state, "index": index, "state": SelfCheckState.ANSWERING}
            return Step(state, [self._item(ctx, state, replace)])
        state = {**state, "state": SelfCheckState.CONFIRMING}
        return Step(state, [self._summary(ctx, state, replace)])

    async def submit(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Stores the self-check; each 否 becomes a 整改 item of the person's head, who and the office are told."""
        check_id, no_count = await duties.record_self_check(
            ctx.session, ctx.now, ctx.person.id, state["year"], state["answers"]
        )
        reply = Reply(ctx.t("selfcheck/submitted", year=state["year"], no_count=no_count), replace=True)
        if not no_count:
            return Step.done(reply)
        heads = [h for h in await staff_queries.head_ids(ctx.session, ctx.person.department_id) if h != ctx.person.id]
        owner = heads[0] if heads else None
        due = ctx.today + timedelta(days=ctx.policy.rectification_days)
        await duties.open_rectifications(
            ctx.session,
            ctx.now,
            f"self_check:{check_id}",
            duties.noes(state["answers"]),
            due,
            ctx.person.id,
            ctx.person.department_id,
            owner,
        )
        told = [*heads, *(o for o in await staff_queries.officer_ids(ctx.session) if o not in heads)]
        notices = await rectification_notices(ctx, told, ctx.person.name, ctx.person.department, no_count, due)
        return Step(None, [reply], notices)

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = SelfCheckState(state["state"])
        if current is SelfCheckState.ANSWERING:
            return Step(state, [self._item(ctx, state)])
        if current is SelfCheckState.NOTING:
            item = self.items[state["index"]]
            return Step(state, [Reply(ctx.t("selfcheck/ask_note", item=item, limit=MAX_NOTE))])
        return Step(state, [self._summary(ctx, state)])

    def _item(self, ctx: FlowContext, state: dict[str, Any], replace: bool = False) -> Reply:
        item = self.items[state["index"]]
        buttons = [[Button(ctx.t(f"selfcheck/answer_{a}"), "a", (a,)) for a in ANSWERS]]
        text = ctx.t("selfcheck/item", item=item, number=state["index"] + 1, total=len(self.items))
        return Reply(text, buttons, replace=replace)

    def _summary(self, ctx: FlowContext, state: dict[str, Any], replace: bool = False) -> Reply:
        answers = state["answers"]
        noes = [(item, answers[item.id]["note"]) for item in self.items if answers[item.id]["answer"] == "no"]
        buttons = [[Button(ctx.t("selfcheck/btn_submit"), "submit")]]
        return Reply(ctx.t("selfcheck/summary", noes=noes, total=len(self.items)), buttons, replace=replace)

    def _year(self, ctx: FlowContext) -> int:
        return ctx.now.astimezone(ctx.texts.timezone).year


class UnitCheckFlow(SelfCheckFlow):
    """/unitcheck: the unit's October self-assessment (第七条 3.), answered by the secrecy office item by item; each
    否 is a 整改 item of the office."""

    name = "unitcheck"
    prefix = "uc"
    roles = frozenset({Role.OFFICER})

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the first item, unless this year's is done."""
        year = self._year(ctx)
        if await duties.unit_check_done(ctx.session, year):
            return Step.done(Reply(ctx.t("selfcheck/unit_already", year=year)))
        state = {"state": SelfCheckState.ANSWERING, "index": 0, "answers": {}, "year": year}
        return Step(state, [self._item(ctx, state)])

    async def submit(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Stores the assessment; each 否 becomes a 整改 item of the office."""
        year = state["year"]
        no_count = await duties.record_unit_check(ctx.session, ctx.now, ctx.person.id, year, state["answers"])
        due = ctx.today + timedelta(days=ctx.policy.rectification_days)
        await duties.open_rectifications(
            ctx.session, ctx.now, f"unit_check:{year}", duties.noes(state["answers"]), due, None, None, None
        )
        return Step.done(Reply(ctx.t("selfcheck/unit_submitted", year=year, no_count=no_count, due=due), replace=True))


async def rectification_notices(
    ctx: FlowContext, recipients: list[int], name: str, department: str, count: int, due: date
) -> list[Outgoing]:
    locales = await people.locales(ctx.session, recipients)
    return [
        Outgoing(
            staff_id,
            Reply(
                ctx.texts.render(
                    "selfcheck/rectification_notice",
                    locales.get(staff_id, "zh"),
                    name=name,
                    department=department,
                    count=count,
                    due=due,
                )
            ),
            Priority.REMINDER,
            "selfcheck",
        )
        for staff_id in recipients
    ]


async def self_check_status(ctx: FlowContext) -> str | None:
    """/status: this year's self-check, for people with a classified level."""
    if not ctx.person.level.is_classified:
        return None
    year = ctx.now.astimezone(ctx.texts.timezone).year
    done = await _has_self_check(ctx, year)
    return ctx.t("selfcheck/status", year=year, done=done, month=ctx.policy.self_inspection_month)


async def self_check_todo(ctx: FlowContext) -> list[ToDo]:
    """This year's self-check, from the month it opens, for people with a classified level, until it is done."""
    local = ctx.now.astimezone(ctx.texts.timezone)
    if not ctx.person.level.is_classified or local.month < ctx.policy.self_inspection_month:
        return []
    if await _has_self_check(ctx, local.year):
        return []
    return [ToDo(ctx.later("selfcheck/todo", year=local.year), "selfcheck", ctx.t("core/word", key="selfcheck"))]


async def _has_self_check(ctx: FlowContext, year: int) -> bool:
    return await ctx.once(("self_check", year), lambda people: duties.self_checked(ctx.session, people, year))


async def unit_check_status(ctx: FlowContext) -> str | None:
    """/status of officers: this year's unit self-assessment and the 整改 items still open."""
    if not ctx.person.has(Role.OFFICER):
        return None
    year = ctx.now.astimezone(ctx.texts.timezone).year
    done = await duties.unit_check_done(ctx.session, year)
    open_items = sum((await duties.open_item_counts(ctx.session)).values())
    return ctx.t("selfcheck/unit_status", year=year, done=done, month=ctx.policy.self_inspection_month, open=open_items)
