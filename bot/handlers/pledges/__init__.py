"""保密承诺书: the yearly, onboarding, departure and special-task pledges — read page by page, signed with the
roster name, kept as a hash chain with a receipt and a printable PDF; the office's view and exports."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.pledges import cli
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.flows import OnboardingHook, PledgeFlow, PledgeStatus, PledgeToDo
from bot.handlers.pledges.office import PledgeOfficeFlow, PledgesExport


def register(bot: Wiring) -> None:
    book = load_catalog()  # checked at start: a broken catalogue stops the bot, not a signature half-way
    bot.command(
        "pledge", PledgeFlow(book), aliases=("承诺", "承诺书", "签承诺书", "签署承诺书", "pledge", "sign the pledge")
    )
    bot.command("pledges", PledgeOfficeFlow(book), aliases=("承诺书管理",))
    bot.export("pledges", PledgesExport(book))
    bot.status(PledgeStatus(book.catalog))
    bot.todo(PledgeToDo(book.catalog))
    bot.on_bind(OnboardingHook())  # a classified newcomer is asked for the onboarding pledge at once
    bot.cli_group("pledge", "confidentiality pledges (保密承诺书)")
    bot.cli("pledge pdf", cli.pledge_pdf, "the printable copy (A4 PDF) of a person's signed pledge", cli.pdf_arguments)
    bot.cli_group("audit", "inspection checks")
    bot.cli("audit verify", cli.audit_verify, "check the audit log and pledge record chains")
    bot.cli(
        "export pledges", cli.export_pledges, "everyone's pledges of a year: kind, state, version", cli.export_arguments
    )
