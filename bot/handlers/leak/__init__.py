"""泄密事件报告: a suspected leak reported with metadata only (the name may be withheld), officers alerted until one
acknowledges, the statutory clocks, the relay between officer and reporter, the case list and its export."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.leak import cli
from bot.handlers.leak.cases import CasesFlow, OfficerCaseAction, cases_todo
from bot.handlers.leak.report import ReporterAction, ReportFlow
from bot.handlers.leak.sweeps import LeakAlertSweep, LeakClockSweep


def register(bot: Wiring) -> None:
    cases = CasesFlow()
    # A reporter may withhold their name: their steps, and their replies to a relayed message, are logged without them.
    bot.command("report", ReportFlow(), aliases=("报告", "泄密报告", "举报", "report"), anonymous=True)
    bot.command("cases", cases, aliases=("案件",))
    bot.todo(cases_todo)
    # 受理/查看 on officers' alerts and 回复 on relayed messages work outside any conversation.
    bot.action(OfficerCaseAction(cases))
    bot.action(ReporterAction(), anonymous=True)
    bot.sweep(LeakAlertSweep())  # alerts repeat until acknowledged
    bot.sweep(LeakClockSweep())  # the statutory clocks
    bot.cli(
        "export reports", cli.export_reports, "every leak case and its event chain (泄密事件报告)", cli.export_arguments
    )
