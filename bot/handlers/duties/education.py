"""/education: a head records the half-yearly secrecy education of core and important staff (第十五条)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.core.paging import PAGE_SIZE, matching, nav_row, page_of
from bot.domain.dates import parse_day
from bot.domain.levels import Role
from bot.domain.schedule import half_year
from bot.handlers.duties import service as duties
from bot.services import team

FORMS = duties.EDUCATION_FORMS


class EducationState(StrEnum):
    CHOOSING_PEOPLE = "people"  # toggling who took part
    CHOOSING_DATE = "date"  # today, yesterday or a typed date
    CHOOSING_FORM = "form"  # meeting, talk or training
    CONFIRMING = "confirm"  # record or cancel


class EducationFlow:
    name = "education"
    prefix = "ed"
    roles = frozenset({Role.HEAD})

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the department's core and important staff, those still due this half-year ticked."""
        members = [
            m
            for m in await team.members(ctx.session, ctx.person.department_id)
            if m.level.value in duties.EDUCATED_LEVELS
        ]
        if not members:
            return Step.done(Reply(ctx.t("education/nobody")))
        due = {
            p.staff_id for p in await duties.education_due(ctx.session, half_year(ctx.today), ctx.person.department_id)
        }
        state = {
            "state": EducationState.CHOOSING_PEOPLE,
            "people": [[m.staff_id, m.name] for m in members],
            "chosen": [i for i, m in enumerate(members) if m.staff_id in due],
        }
        return Step(state, [self._people(ctx, state)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        current = EducationState(state["state"])
        match current, event:
            case EducationState.CHOOSING_PEOPLE, Pick("toggle", (index,)) if index.isdigit():
                return self.toggle(ctx, state, int(index))
            case EducationState.CHOOSING_PEOPLE, Pick("all"):
                return self.toggle_all(ctx, state)
            case EducationState.CHOOSING_PEOPLE, Pick("page", (number,)) if number.isdigit():
                return Step({**state, "page": int(number)}, [self._people(ctx, {**state, "page": int(number)}, True)])
            case EducationState.CHOOSING_PEOPLE, Text(text):
                return self.search(ctx, state, text)
            case EducationState.CHOOSING_PEOPLE, Pick("next") if state["chosen"]:
                return self.ask_date(ctx, state)
            case EducationState.CHOOSING_DATE, Pick("day", (offset,)) if offset in ("0", "1"):
                return self.take_date(ctx, state, ctx.today - timedelta(days=int(offset)))
            case EducationState.CHOOSING_DATE, Text(text):
                return self.take_typed_date(ctx, state, text)
            case EducationState.CHOOSING_FORM, Pick("form", (form,)) if form in FORMS:
                return self.confirm(ctx, {**state, "state": EducationState.CONFIRMING, "form": form})
            case EducationState.CONFIRMING, Pick("save"):
                return await self.save(ctx, state)
        return self.not_understood(ctx, state)

    def search(self, ctx: FlowContext, state: dict[str, Any], typed: str) -> Step:
        """Narrows the list to the names containing what was typed (全部 shows everyone again)."""
        if refusal := refuse_marked(ctx, typed):
            return Step(state, [refusal])
        word = typed.strip()
        new = {**state, "search": "" if word in ("全部", "all") else word[:20], "page": 0}
        return Step(new, [self._people(ctx, new)])

    def toggle(self, ctx: FlowContext, state: dict[str, Any], index: int) -> Step:
        """Ticks or unticks one person."""
        chosen = set(state["chosen"])
        if 0 <= index < len(state["people"]):
            chosen ^= {index}
        state = {**state, "chosen": sorted(chosen)}
        return Step(state, [self._people(ctx, state, replace=True)])

    def toggle_all(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Ticks everyone, or nobody when everyone was ticked."""
        everyone = list(range(len(state["people"])))
        state = {**state, "chosen": [] if state["chosen"] == everyone else everyone}
        return Step(state, [self._people(ctx, state, replace=True)])

    def ask_date(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Asks when it was held."""
        state = {**state, "state": EducationState.CHOOSING_DATE}
        buttons = [
            [
                Button(ctx.t("education/btn_today"), "day", ("0",)),
                Button(ctx.t("education/btn_yesterday"), "day", ("1",)),
            ]
        ]
        return Step(state, [Reply(ctx.t("education/ask_date"), buttons, replace=True)])

    def take_typed_date(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Reads a typed date such as 2026-03-02 or 3月2日."""
        typed = parse_day(text, ctx.today)
        if typed is None:
            return Step(state, [Reply(ctx.t("education/bad_date"))])
        return self.take_date(ctx, state, typed.day)

    def take_date(self, ctx: FlowContext, state: dict[str, Any], day: date) -> Step:
        """Accepts a date within the last half-year, not in the future, and asks for the form."""
        today = ctx.today
        if day > today or day < today - timedelta(days=183):
            return Step(state, [Reply(ctx.t("education/date_out_of_range"))])
        state = {**state, "state": EducationState.CHOOSING_FORM, "day": day.isoformat()}
        buttons = [[Button(ctx.t(f"education/form_{form}"), "form", (form,)) for form in FORMS]]
        return Step(state, [Reply(ctx.t("education/ask_form"), buttons)])

    def confirm(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Shows what will be recorded."""
        names = [state["people"][i][1] for i in state["chosen"]]
        buttons = [[Button(ctx.t("education/btn_save"), "save")]]
        text = ctx.t(
            "education/confirm",
            names=names,
            day=date.fromisoformat(state["day"]),
            form=ctx.t(f"education/form_{state['form']}"),
        )
        return Step(state, [Reply(text, buttons, replace=True)])

    async def save(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records one education per person."""
        staff_ids = [state["people"][i][0] for i in state["chosen"]]
        day = date.fromisoformat(state["day"])
        count = await duties.record_education(ctx.session, ctx.now, ctx.person.id, staff_ids, day, state["form"])
        return Step.done(Reply(ctx.t("education/saved", count=count, day=day), replace=True))

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = EducationState(state["state"])
        if current is EducationState.CHOOSING_PEOPLE:
            return Step(state, [self._people(ctx, state)])
        if current is EducationState.CHOOSING_DATE:
            return Step(state, [Reply(ctx.t("education/ask_date"))])
        if current is EducationState.CHOOSING_FORM:
            buttons = [[Button(ctx.t(f"education/form_{form}"), "form", (form,)) for form in FORMS]]
            return Step(state, [Reply(ctx.t("education/ask_form"), buttons)])
        return self.confirm(ctx, state)

    def _people(self, ctx: FlowContext, state: dict[str, Any], replace: bool = False) -> Reply:
        """PAGE_SIZE names a page, in natural order; a typed word narrows them."""
        chosen = set(state["chosen"])
        search = state.get("search") or ""
        shown = [(i, name) for i, (_, name) in enumerate(state["people"])]
        if search:
            shown = matching(shown, search, lambda item: item[1])
        page = page_of(len(shown), state.get("page", 0))
        buttons = [
            [Button(("✓ " if i in chosen else "") + name, "toggle", (str(i),))]
            for i, name in shown[page.start : page.start + PAGE_SIZE]
        ]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        buttons.append([Button(ctx.t("education/btn_all"), "all"), Button(ctx.t("education/btn_next"), "next")])
        text = ctx.t(
            "education/choose",
            count=len(chosen),
            total=len(state["people"]),
            search=search,
            found=len(shown),
            paged=page.count > 1,
        )
        return Reply(text, buttons, replace=replace)


async def education_status(ctx: FlowContext) -> str | None:
    """/status: the person's last education and whether this half-year's is done (core and important only)."""
    if ctx.person.level.value not in duties.EDUCATED_LEVELS:
        return None
    last = await duties.last_education(ctx.session, ctx.person.id)
    period = half_year(ctx.today)
    done = last is not None and period.start <= last.held_on <= period.end
    form = ctx.t(f"education/form_{last.form}") if last else ""
    return ctx.t("education/status", last=last, form=form, done=done, period=period)
