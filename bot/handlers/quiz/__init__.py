"""保密知识答卷: papers drawn from the question bank, timed, graded, with certificates; an officer reviews papers
answered too fast; the office's statistics and export."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.quiz import cli
from bot.handlers.quiz.bank import load_bank
from bot.handlers.quiz.flows import (
    QuizExport,
    QuizFlow,
    QuizReviewAction,
    QuizStatsFlow,
    quiz_status_section,
    quiz_todo,
)
from bot.handlers.quiz.service import BANK_PATH
from bot.handlers.quiz.sweeps import QuizExpirySweep


def register(bot: Wiring) -> None:
    bank = load_bank(BANK_PATH)  # checked at start: a broken bank stops the bot, not a paper half-way
    bot.command("quiz", QuizFlow(bank), aliases=("答题", "答卷", "考试", "quiz"))
    # An officer's view: no conversation to keep.
    bot.command("quizstats", QuizStatsFlow(bank), aliases=("答题统计",), instant=True)
    bot.export("quiz", QuizExport(bank))
    bot.status(quiz_status_section)
    bot.todo(quiz_todo)
    bot.action(QuizReviewAction())
    bot.sweep(QuizExpirySweep())  # closes papers whose time ran out, so /status and the compliance view are right
    bot.cli_group("quiz", "training quiz (保密知识答卷)")
    bot.cli("quiz check", cli.quiz_check, "validate a question bank (default: the shipped one)", cli.check_arguments)
    bot.cli("quiz verify", cli.quiz_verify, "confirm a quiz certificate by its verification code", cli.verify_arguments)
    bot.cli(
        "export quiz", cli.export_quiz, "every quiz paper of a year and the most-missed questions", cli.export_arguments
    )
