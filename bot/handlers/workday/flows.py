"""/workday: an officer corrects the working-day calendar, e.g. for a year the official data does not cover
yet (`/workday 2027-02-08 休息 春节`)."""

from __future__ import annotations

from typing import Any

from bot.core.events import FlowEvent
from bot.core.flow import OFFICERS, FlowContext, Reply, Step
from bot.core.guarding import refuse_marked
from bot.domain.dates import parse_day
from bot.domain.levels import Role
from bot.services import calendar

WORKING = {"上班": True, "工作日": True, "work": True, "休息": False, "放假": False, "off": False}
MAX_REASON = 50


class WorkdayFlow:
    name = "workday"
    prefix = "wd"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Sets one day when given `DATE 上班|休息 [reason]`, else shows the calendar's state and the usage."""
        parts = args.split(maxsplit=2)
        today = ctx.now.astimezone(ctx.texts.timezone).date()
        if not parts:
            cal = await calendar.work_calendar(ctx.session)
            upcoming = await calendar.overrides(ctx.session, since=today)
            missing = calendar.uncovered_years(today, cal)
            return Step.done(Reply(ctx.t("workday/overview", overrides=upcoming, uncovered=missing)))
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
        return Step.done()


async def calendar_status(ctx: FlowContext) -> str | None:
    """/status of officers: say so when the official calendar does not cover this year or next."""
    if not ctx.person.has(Role.OFFICER):
        return None
    today = ctx.now.astimezone(ctx.texts.timezone).date()
    missing = calendar.uncovered_years(today, await calendar.work_calendar(ctx.session))
    return ctx.t("workday/status", uncovered=missing) if missing else None
