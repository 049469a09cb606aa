"""/workday: an officer corrects the working-day calendar, e.g. for a year the official data does not cover
yet: 调整某一天, the date typed as one would say it ("2月8日", "下周一", "2027-02-08"), 上班 or 休息 as buttons, a
reason or 跳过. `/workday 2027-02-08 休息 春节` does it in one line."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import OFFICERS, Button, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.domain.dates import parse_day
from bot.domain.levels import Role
from bot.services import calendar

WORKING = {"上班": True, "工作日": True, "work": True, "休息": False, "放假": False, "off": False}
MAX_REASON = 50


class WorkdayState(StrEnum):
    OVERVIEW = "overview"  # the calendar's state, with 调整某一天
    DATE = "date"  # typing the day
    KIND = "kind"  # 上班 or 休息
    REASON = "reason"  # typing why, or 跳过


class WorkdayFlow:
    name = "workday"
    prefix = "wd"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Sets one day when given `DATE 上班|休息 [reason]`, else shows the calendar's state and the usage."""
        parts = args.split(maxsplit=2)
        today = ctx.today
        if not parts:
            cal = await calendar.work_calendar(ctx.session)
            upcoming = await calendar.overrides(ctx.session, since=today)
            missing = calendar.uncovered_years(today, cal)
            text = ctx.t("workday/overview", overrides=upcoming, uncovered=missing)
            return Step({"state": WorkdayState.OVERVIEW}, [Reply(text, [[Button(ctx.t("workday/btn_day"), "day")]])])
        typed = parse_day(parts[0], today)
        day = None if typed is None else typed.day
        working = WORKING.get(parts[1].lower()) if len(parts) > 1 else None
        reason = parts[2].strip() if len(parts) > 2 else ""
        if day is None or working is None or len(reason) > MAX_REASON:
            return Step.done(Reply(ctx.t("workday/usage", limit=MAX_REASON)))
        if reason and (refusal := refuse_marked(ctx, reason)):
            return Step.done(refusal)
        await calendar.set_override(ctx.session, ctx.now, ctx.person.id, day, working, reason)
        return Step.done(Reply(ctx.t("workday/set", day=day, working=working, reason=reason)))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        today = ctx.today
        match WorkdayState(state["state"]), event:
            case WorkdayState.OVERVIEW, Pick("day"):
                return Step({"state": WorkdayState.DATE}, [Reply(ctx.t("workday/ask_day"))])
            case WorkdayState.DATE, Text(text):
                typed = parse_day(text, today)
                if typed is None:
                    return Step(state, [Reply(ctx.t("workday/ask_day"))])
                buttons = [
                    [Button(ctx.t("workday/btn_kind", working=w), "kind", ("1" if w else "0",)) for w in (True, False)]
                ]
                new: dict[str, Any] = {"state": WorkdayState.KIND, "day": typed.day.isoformat()}
                return Step(new, [Reply(ctx.t("workday/ask_kind", day=typed.day), buttons)])
            case WorkdayState.KIND, Pick("kind", (value,)) if value in ("0", "1"):
                new = {**state, "state": WorkdayState.REASON, "working": value == "1"}
                skip = [[Button(ctx.t("workday/btn_skip"), "skip")]]
                return Step(new, [Reply(ctx.t("workday/ask_reason", limit=MAX_REASON), skip, replace=True)])
            case WorkdayState.REASON, Pick("skip"):
                return await self.set(ctx, state, "")
            case WorkdayState.REASON, Text(text):
                return await self.set(ctx, state, text.strip())
        return Step.done(Reply(ctx.t("workday/usage", limit=MAX_REASON)))

    async def set(self, ctx: FlowContext, state: dict[str, Any], reason: str) -> Step:
        """Stores the correction; the reminders follow the corrected calendar."""
        if len(reason) > MAX_REASON:
            return Step(state, [Reply(ctx.t("workday/ask_reason", limit=MAX_REASON))])
        if reason and (refusal := refuse_marked(ctx, reason)):
            return Step(state, [refusal])
        day, working = date.fromisoformat(state["day"]), bool(state["working"])
        await calendar.set_override(ctx.session, ctx.now, ctx.person.id, day, working, reason)
        return Step.done(Reply(ctx.t("workday/set", day=day, working=working, reason=reason)))


async def calendar_status(ctx: FlowContext) -> str | None:
    """/status of officers: say so when the official calendar does not cover this year or next."""
    if not ctx.person.has(Role.OFFICER):
        return None
    today = ctx.today
    missing = calendar.uncovered_years(today, await calendar.work_calendar(ctx.session))
    return ctx.t("workday/status", uncovered=missing) if missing else None
