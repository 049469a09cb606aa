"""/dashboard and /export: the secrecy office's view of every department. /dashboard draws the chart (one bar
group per department) and lists the departments, lowest compliance first; /export sends the compliance
workbook. Heads see their own department in /team, never these."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import date
from typing import Any

from bot.core.events import FlowEvent
from bot.core.flow import OFFICERS, Chart, Document, FlowContext, Reply, Step
from bot.core.render import chunks
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.charts import chart_data, chart_labels
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import roster_rows, roster_workbook
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, lowest_first
from bot.handlers.pledges.rules import Catalog
from bot.handlers.review import service as review
from bot.handlers.review.notices import backlog_text
from bot.services.calendar import work_calendar
from bot.texts import Texts

SHOWN = 8  # departments listed in /dashboard (about four lines each): the lowest compliance first


class DashboardFlow:
    name = "dashboard"
    prefix = "db"
    roles = OFFICERS

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Sends the chart, then the departments from the lowest compliance up."""
        day = ctx.today
        depts = lowest_first(await load_all(ctx, self.catalog))
        if not depts:
            return Step.done(Reply(ctx.t("dashboard/none")))
        parts = [ctx.t("dashboard/heading", day=day, count=len(depts))]
        # The lowest first, as many as a phone shows on two screens; the rest are in the export.
        parts += [department_lines(ctx.texts, ctx.locale, rank, d) for rank, d in enumerate(depts[:SHOWN], 1)]
        if len(depts) > SHOWN:
            parts.append(ctx.t("dashboard/more", count=len(depts) - SHOWN))
        parts.append(await review_backlog(ctx, day))
        replies = [Reply(text) for text in chunks(parts)]
        chart = compliance_chart_reply(ctx.texts, ctx.locale, depts, day)
        return Step.done(chart, *replies)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class ExportFlow:
    name = "export"
    prefix = "ex"
    roles = OFFICERS

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Sends the compliance workbook (summary, who owes each duty, inventory, declassification periods), and
        the year's roster of core and important staff where the policy lets it travel by chat."""
        day = ctx.today
        depts = await load_all(ctx, self.catalog)
        content = compliance_workbook(depts, ctx.policy.bureau_name, ctx.now, ctx.texts, ctx.locale, as_of=day)
        caption = ctx.t(
            "dashboard/export_caption", day=day, departments=len(depts), people=sum(d.headcount for d in depts)
        )
        document = Document(f"compliance-{day.isoformat()}.xlsx", base64.b64encode(content).decode(), caption)
        if not ctx.policy.roster_export_in_chat:
            # The 花名册 lists every core and important person by name and level: the command line gives it.
            return Step.done(Reply(caption, document=document), Reply(ctx.t("dashboard/roster_by_cli", year=day.year)))
        # The year's 花名册 of core and important staff goes with it (每年编列花名册): inspectors ask for both.
        rows = await roster_rows(ctx.session, day.year, ctx.texts.timezone)
        roster = roster_workbook(rows, day.year, ctx.policy.bureau_name, ctx.now, ctx.texts, ctx.locale)
        roster_caption = ctx.t("dashboard/roster_caption", year=day.year, count=len(rows))
        roster_doc = Document(f"roster-{day.year}.xlsx", base64.b64encode(roster).decode(), roster_caption)
        return Step.done(Reply(caption, document=document), Reply(roster_caption, document=roster_doc))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


async def review_backlog(ctx: FlowContext, day: date) -> str:
    """The pre-publication reviews waiting and overdue per unit."""
    calendar = await work_calendar(ctx.session)
    units = await review.backlog(ctx.session, day, ctx.texts.timezone, ctx.policy, calendar)
    return backlog_text(ctx.texts, ctx.locale, units)


async def load_all(ctx: FlowContext, catalog: Catalog) -> list[DepartmentCompliance]:
    calendar = await work_calendar(ctx.session)
    return await compliance.departments(ctx.session, ctx.today, ctx.policy, catalog, calendar)


def department_lines(texts: Texts, locale: str, rank: int, dept: DepartmentCompliance) -> str:
    labels = {duty: texts.render("team/duty", locale, duty=duty.value) for duty in DUTIES}
    return texts.render("dashboard/department", locale, rank=rank, dept=dept, duties=DUTIES, labels=labels)


def compliance_chart_reply(texts: Texts, locale: str, departments: Sequence[DepartmentCompliance], day: date) -> Reply:
    """The chart of `departments` (in their order) with its caption; drawn when sent (compliance.charts)."""
    labels = chart_labels(texts, locale, departments=len(departments), day=day)
    caption = texts.render("dashboard/chart_caption", locale, day=day)
    chart = Chart(f"compliance-{day.isoformat()}.png", chart_data(departments, labels).to_json(), caption)
    return Reply(caption, chart=chart)
