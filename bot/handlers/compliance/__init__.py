"""Compliance at a glance: /team for a head (催办 at most once a day per person), /dashboard and /export for the
office, the officers' weekly digest, and the compliance workbook and 花名册 on the command line."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.compliance import charts, cli
from bot.handlers.compliance.dashboard import ComplianceExport, DashboardFlow, ExportFlow, roster_export
from bot.handlers.compliance.sweeps import WeeklyDigestSweep
from bot.handlers.compliance.team import NamesAction, NudgeAction, TeamFlow
from bot.handlers.pledges.catalog import load_catalog


def register(bot: Wiring) -> None:
    catalog = load_catalog().catalog
    bot.command("team", TeamFlow(catalog), aliases=("本部门",))  # a head's department; officers pick one
    bot.action(NudgeAction(catalog))  # 催办 under /team: at most once a day per person
    bot.action(NamesAction(catalog))  # 查看名单 under /team: the names due, a page at a time
    # The office's views: answered at once, no conversation to keep.
    bot.command("dashboard", DashboardFlow(catalog), aliases=("总览", "全局"), instant=True)
    bot.command("export", ExportFlow(), aliases=("导出",), instant=True)
    bot.export("compliance", ComplianceExport(catalog))  # /export's workbooks, made when they are sent
    bot.export("roster", roster_export)
    bot.sweep(WeeklyDigestSweep(catalog))  # officers, the first working day of each week
    bot.draw_charts(charts.draw)  # charts travel as figures and are drawn when sent
    bot.cli(
        "export compliance",
        cli.export_compliance,
        "every department's standing on the duties, and who owes each (保密工作完成情况)",
        cli.compliance_arguments,
    )
    bot.cli(
        "export roster",
        cli.export_roster,
        "the year's roster of core and important staff (花名册)",
        cli.roster_arguments,
    )
