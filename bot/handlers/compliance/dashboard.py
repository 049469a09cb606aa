"""/dashboard and /export: the secrecy office's view of every department. /dashboard draws the chart (one bar
group per department) and lists the departments, lowest compliance first; /export sends the compliance
workbook. Heads see their own department in /team, never these."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from bot.core.events import FlowEvent
from bot.core.flow import OFFICERS, Chart, Document, ExportContext, FlowContext, Reply, Step
from bot.core.render import chunks
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.charts import chart_data, chart_labels
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import roster_rows, roster_workbook
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, lowest_first
from bot.handlers.duties import service as duties
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
        depts = lowest_first(await load_all(ctx, self.catalog, people=False))
        if not depts:
            return Step.done(Reply(ctx.t("dashboard/none")))
        parts = [ctx.t("dashboard/heading", day=day, count=len(depts))]
        if office := await duties.office_duties(ctx.session, day, ctx.policy.self_inspection_month):
            parts.append(ctx.t("dashboard/office", office=office))  # what the office itself owes, first
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

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Sends the compliance workbook (summary, who owes each duty, inventory, declassification periods), and
        the year's roster of core and important staff where the policy lets it travel by chat. The workbooks are
        made when they are sent (ComplianceExport, RosterExport): at bureau size that takes a while, in which
        everyone else's replies go on."""
        day = ctx.today
        compliance_file = ctx.export("compliance", day=day.isoformat())
        if not ctx.policy.roster_export_in_chat:
            # The 花名册 lists every core and important person by name and level: the command line gives it.
            roster_note = Reply(ctx.t("dashboard/roster_by_cli", year=day.year))
            return Step.done(Reply(ctx.t("dashboard/export_making")), compliance_file, roster_note)
        # The year's 花名册 of core and important staff goes with it (每年编列花名册): inspectors ask for both.
        roster_file = ctx.export("roster", day=day.isoformat())
        return Step.done(Reply(ctx.t("dashboard/export_making")), compliance_file, roster_file)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class ComplianceExport:
    """Makes /export's compliance workbook as of `day` (bot/core/exports.py: outside the engine, off its loop)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, ctx: ExportContext, params: Mapping[str, Any]) -> Document:
        day, locale = date.fromisoformat(params["day"]), params["locale"]
        calendar = await work_calendar(ctx.session)
        depts = await compliance.departments(ctx.session, day, ctx.policy, self.catalog, calendar)
        content = compliance_workbook(depts, ctx.policy.bureau_name, ctx.now, ctx.texts, locale, as_of=day)
        caption = ctx.texts.render(
            "dashboard/export_caption", locale, day=day, departments=len(depts), people=sum(d.headcount for d in depts)
        )
        return Document(f"compliance-{day.isoformat()}.xlsx", base64.b64encode(content).decode(), caption)


async def roster_export(ctx: ExportContext, params: Mapping[str, Any]) -> Document:
    """Makes /export's 花名册 of the year of `day`."""
    year, locale = date.fromisoformat(params["day"]).year, params["locale"]
    rows = await roster_rows(ctx.session, year, ctx.texts.timezone)
    content = roster_workbook(rows, year, ctx.policy.bureau_name, ctx.now, ctx.texts, locale)
    caption = ctx.texts.render("dashboard/roster_caption", locale, year=year, count=len(rows))
    return Document(f"roster-{year}.xlsx", base64.b64encode(content).decode(), caption)


async def review_backlog(ctx: FlowContext, day: date) -> str:
    """The pre-publication reviews waiting and overdue per unit."""
    calendar = await work_calendar(ctx.session)
    units = await review.backlog(ctx.session, day, ctx.texts.timezone, ctx.policy, calendar)
    return backlog_text(ctx.texts, ctx.locale, units)


async def load_all(ctx: FlowContext, catalog: Catalog, people: bool = True) -> list[DepartmentCompliance]:
    """Every department as of today; without `people`, their figures alone."""
    calendar = await work_calendar(ctx.session)
    return await compliance.departments(
        ctx.session, ctx.today, ctx.policy, catalog, calendar, people=people, write=True
    )


def department_lines(texts: Texts, locale: str, rank: int, dept: DepartmentCompliance) -> str:
    labels = {duty: texts.render("team/duty", locale, duty=duty.value) for duty in DUTIES}
    return texts.render("dashboard/department", locale, rank=rank, dept=dept, duties=DUTIES, labels=labels)


def compliance_chart_reply(texts: Texts, locale: str, departments: Sequence[DepartmentCompliance], day: date) -> Reply:
    """The chart of `departments` (in their order) with its caption; drawn when sent (compliance.charts)."""
    labels = chart_labels(texts, locale, departments=len(departments), day=day)
    caption = texts.render("dashboard/chart_caption", locale, day=day)
    chart = Chart(f"compliance-{day.isoformat()}.png", chart_data(departments, labels).to_json(), caption)
    return Reply(caption, chart=chart)
