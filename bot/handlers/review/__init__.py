"""信息发布保密审查: the secrecy review of everything published on the website, a 微信公众号, a 视频号 or another
public channel — requested with metadata only (/review), decided stage by stage by the unit's head, the secrecy
office and, for the kinds the policy names, the 分管领导; reminded and escalated on the working-day clock; a
numbered 审查单 on approval; the ledger in /reviews and on the command line."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.review import cli
from bot.handlers.review.flows import ReviewFlow, SubmitterAction
from bot.handlers.review.ledger import ReviewerAction, ReviewsFlow, ledger_export, reviews_todo
from bot.handlers.review.sweeps import ReviewClockSweep


def register(bot: Wiring) -> None:
    request, ledger = ReviewFlow(), ReviewsFlow()
    bot.command("review", request, aliases=("送审", "信息审查"))
    # The reviewers' desk: heads (their unit), the office (all), 分管领导.
    bot.command("reviews", ledger, aliases=("审查", "审查登记"))
    bot.export("reviews", ledger_export)  # the 登记表, made when it is sent
    bot.todo(reviews_todo)
    # The decisions on a reviewer's notice, and 修改后重新送审 / 撤回 on a returned request, work outside any
    # conversation.
    bot.action(ReviewerAction(ledger))
    bot.action(SubmitterAction(request))
    bot.sweep(ReviewClockSweep())  # a stage waiting too long: its reviewers reminded, then escalated
    bot.cli(
        "export reviews",
        cli.export_reviews,
        "the register of pre-publication secrecy reviews (信息发布保密审查登记表)",
        cli.export_arguments,
    )
    bot.cli_group("review", "pre-publication secrecy reviews (信息发布保密审查)")
    bot.cli("review pdf", cli.review_pdf, "the printable 审查单 (A4 PDF) of an approved request", cli.pdf_arguments)
