"""The quiz workbook for the office and inspections: every paper of a year, and the questions people miss.

Column headings and result words are templates (quiz/export_columns, quiz/outcome, quiz/review_word), so
the workbook speaks the reader's language like every other text.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from bot.handlers.quiz.bank import Question
from bot.handlers.quiz.rules import outcome
from bot.handlers.quiz.service import ExportRow, MissRate
from bot.services import sheets
from bot.services.sheets import append_row
from bot.texts import Texts


def columns(texts: Texts, locale: str, sheet: str) -> list[str]:
    return texts.render("quiz/export_columns", locale, sheet=sheet).split("|")


def paper_cells(texts: Texts, locale: str, row: ExportRow, excellent_mark: int) -> list[Any]:
    a = row.attempt
    result = outcome(status=a.status, score=a.score, passed=a.passed, review=a.review, excellent_mark=excellent_mark)
    finished = a.finished_at
    return [
        row.employee_id,
        row.name,
        row.department,
        a.started_at.astimezone(texts.timezone).strftime("%Y-%m-%d %H:%M:%S"),
        finished.astimezone(texts.timezone).strftime("%Y-%m-%d %H:%M:%S") if finished else "",
        int((finished - a.started_at).total_seconds()) if finished else "",
        a.correct if a.correct is not None else "",
        a.total,
        a.score if a.score is not None else "",
        texts.render("quiz/outcome", locale, outcome="open" if a.status == "open" else result.value),
        texts.render("quiz/review_word", locale, review=a.review) if a.review else "",
        a.certificate_code or "",
    ]


def miss_cells(miss: MissRate, question: Question) -> list[Any]:
    return [question.id, question.topic, question.text, miss.answered, miss.missed, miss.percent]


def workbook_bytes(
    texts: Texts,
    locale: str,
    rows: Sequence[ExportRow],
    missed: Sequence[tuple[MissRate, Question]],
    excellent_mark: int,
) -> bytes:
    book = Workbook()
    papers = book.active
    assert papers is not None
    papers.title = texts.render("quiz/export_sheet", locale, sheet="papers")
    append_row(papers, columns(texts, locale, "papers"))
    for row in rows:
        append_row(papers, paper_cells(texts, locale, row, excellent_mark))
    misses = book.create_sheet(texts.render("quiz/export_sheet", locale, sheet="missed"))
    append_row(misses, columns(texts, locale, "missed"))
    for miss, question in missed:
        append_row(misses, miss_cells(miss, question))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(texts: Texts, locale: str, rows: Sequence[ExportRow], excellent_mark: int) -> bytes:
    """The papers sheet alone (a CSV has one table), with a BOM so Excel opens it as UTF-8."""
    return sheets.csv_bytes(
        [columns(texts, locale, "papers"), *(paper_cells(texts, locale, row, excellent_mark) for row in rows)]
    )
