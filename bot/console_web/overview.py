"""总览: each duty's completion by unit, lowest first, with the chart; the figures as of a past day (as the
compliance export's --at); what falls due in the next 30 days. Heads see their own unit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.core.channel import Route
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, lowest_first
from bot.handlers.compliance.sweeps import HORIZON, upcoming_deadlines
from bot.handlers.departures import service as countdowns
from bot.handlers.pledges.catalog import load_catalog
from bot.services.calendar import work_calendar
from bot.services.launch import launch_day

if TYPE_CHECKING:
    from bot.console_web import Console, Request


@dataclass(frozen=True)
class Figures:
    day: date
    today: date
    departments: list[DepartmentCompliance]
    deadlines: list[Any]
    countdowns: list[Any]


class Overview:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.catalog = load_catalog().catalog

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [Route("GET", f"{ROOT}/", page(self.page)), Route("GET", f"{ROOT}/api/overview", page(self.api))]

    async def figures(self, request: Request) -> Figures:
        app = self.console.app
        zone = app.settings.timezone
        today = self.console.today()
        day = past_day(request.http.query.get("at", ""), today)
        until = datetime.combine(day + timedelta(days=1), time(), zone) if day < today else None
        calendar = await work_calendar(request.session)
        policy = app.settings.policy
        depts = await compliance.departments(
            request.session,
            day,
            policy,
            self.catalog,
            calendar,
            department_id=request.unit,
            until=until,
            people=False,
            write=True,
        )
        ending = [c for c in await countdowns.running(request.session, today) if c.ends_on <= today + HORIZON]
        if request.unit is not None:
            unit = {d.name for d in depts}
            ending = [c for c in ending if c.department in unit]
        launch = await launch_day(request.session, policy)
        deadlines = upcoming_deadlines(policy, self.catalog, calendar, today, launch)
        return Figures(day, today, lowest_first(depts), deadlines, ending)

    async def page(self, request: Request) -> web.StreamResponse:
        """The units a page at a time, lowest first (a bureau of 500 units is ten pages), with their chart."""
        figures = await self.figures(request)
        pages = max(1, -(-len(figures.departments) // UNITS_SHOWN))
        asked = request.http.query.get("page", "")
        number = min(int(asked), pages) if asked.isdigit() and int(asked) > 0 else 1
        start = (number - 1) * UNITS_SHOWN
        shown = figures.departments[start : start + UNITS_SHOWN]
        return self.console.html(
            request,
            "overview.html",
            figures=figures,
            shown=shown,
            first=start + 1,
            number=number,
            pages=pages,
            at=figures.day.isoformat() if figures.day < figures.today else "",
            duties=DUTIES,
            chart=chart(shown),
        )

    async def api(self, request: Request) -> web.StreamResponse:
        figures = await self.figures(request)
        return web.json_response(
            {
                "day": figures.day.isoformat(),
                "departments": [
                    {
                        "id": d.department_id,
                        "name": d.name,
                        "headcount": d.headcount,
                        "overall": d.overall.percent,
                        "duties": {
                            duty.value: {"done": tally.done, "owed": tally.owed}
                            for duty in DUTIES
                            for tally in (d.tally(duty),)
                        },
                        "open_cases": d.open_cases,
                        "inventory": d.inventory.value,
                    }
                    for d in figures.departments
                ],
                "deadlines": [{"what": x.what, "day": x.day.isoformat()} for x in figures.deadlines],
                "countdowns": [{"staff_id": c.staff_id, "ends_on": c.ends_on.isoformat()} for c in figures.countdowns],
            }
        )


def past_day(text: str, today: date) -> date:
    """The day asked for (YYYY-MM-DD), never after today; today when none or not a date."""
    try:
        return min(date.fromisoformat(text), today) if text else today
    except ValueError:
        return today


UNITS_SHOWN = 50  # units on a page of 总览, lowest first
BAR_HEIGHT = 7
ROW_HEIGHT = 4 * BAR_HEIGHT + 10
CHART_WIDTH = 300  # the bars' full width, at 100 %


def chart(departments: list[DepartmentCompliance]) -> dict[str, Any]:
    """The chart as SVG geometry (drawn by the template, no script): a group of four bars per unit."""
    rows = []
    for index, dept in enumerate(departments):
        bars = []
        for n, duty in enumerate(DUTIES):
            percent = dept.tally(duty).percent
            bars.append(
                {
                    "duty": duty.value,
                    "y": index * ROW_HEIGHT + n * BAR_HEIGHT + 4,
                    "width": 0 if percent is None else round(CHART_WIDTH * percent / 100),
                    "percent": percent,
                }
            )
        rows.append({"name": dept.name, "y": index * ROW_HEIGHT + ROW_HEIGHT // 2 + 2, "bars": bars})
    return {"rows": rows, "height": max(1, len(rows)) * ROW_HEIGHT + 8, "bar": BAR_HEIGHT - 1, "full": CHART_WIDTH}
