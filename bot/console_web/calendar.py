"""日历 and 脱密期: the working-day overrides and the declassification countdowns, editable as with /workday and
/countdowns in the chat, through the same services (each change is an entry of the audit chain; a reason passes
the content guard). The secrecy office's only."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.core.channel import Route
from bot.domain.guard import check_text
from bot.handlers.departures import service as countdowns
from bot.services import calendar

if TYPE_CHECKING:
    from bot.console_web import Console, Request

MAX_REASON = 50  # as /workday and /countdowns
SHOWN_SINCE = timedelta(days=30)


class Calendar:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [
            Route("GET", f"{ROOT}/calendar", page(self.page)),
            Route("POST", f"{ROOT}/calendar/workday", page(self.workday)),
            Route("POST", f"{ROOT}/calendar/countdown", page(self.countdown)),
        ]

    async def page(self, request: Request, status: int = 200, **extra: Any) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        today = self.console.today()
        work = await calendar.work_calendar(request.session)
        return self.console.html(
            request,
            "calendar.html",
            status=status,
            here="calendar",
            today=today,
            overrides=await calendar.overrides(request.session, since=today - SHOWN_SINCE),
            uncovered=calendar.uncovered_years(today, work),
            countdowns=await countdowns.running(request.session, today),
            max_reason=MAX_REASON,
            **extra,
        )

    def refused(self, request: Request, reason: str) -> str | None:
        verdict = check_text(reason, extra_terms=self.console.app.settings.policy.guard_extra_terms)
        if verdict.category is None:
            return None
        return self.console.app.texts.render("guard/refused", request.locale, category=verdict.category.value)

    async def workday(self, request: Request) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        form = await request.form()
        reason = form.get("reason", "").strip()
        try:
            day = date.fromisoformat(form.get("day", ""))
        except ValueError:
            return await self.page(request, status=400, problem="day")
        if form.get("working") not in ("yes", "no") or len(reason) > MAX_REASON:
            return await self.page(request, status=400, problem="workday")
        if refusal := self.refused(request, reason):
            return await self.page(request, status=400, refusal=refusal)
        now = self.console.app.clock.now()
        await calendar.set_override(request.session, now, request.person.id, day, form["working"] == "yes", reason)
        return await self.page(request, done="workday")

    async def countdown(self, request: Request) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        form = await request.form()
        reason = form.get("reason", "").strip()
        months = form.get("months", "")
        if not months.isdigit() or not reason or len(reason) > MAX_REASON:
            return await self.page(request, status=400, problem="countdown")
        if refusal := self.refused(request, reason):
            return await self.page(request, status=400, refusal=refusal)
        app = self.console.app
        try:
            changed = await countdowns.change_period(
                request.session,
                app.clock.now(),
                self.console.today(),
                request.person.id,
                form.get("employee_id", ""),
                int(months),
                reason,
            )
        except ValueError as exc:
            return await self.page(request, status=400, message=str(exc))
        if changed is None:
            return await self.page(request, status=400, problem="countdown")
        return await self.page(request, done="countdown")
