"""The case workbook (泄密事件报告登记): every leak case and its event chain, for the secrecy office.

A withheld reporter stays withheld here too: the workbook says so instead of naming them."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from bot.handlers.leak.notices import label
from bot.handlers.leak.service import CaseInfo, EventInfo
from bot.services.sheets import append_row
from bot.texts import Texts

LOCALE = "zh"


def workbook_bytes(texts: Texts, cases: list[CaseInfo], events: list[EventInfo]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = texts.render("cases/export_sheet", LOCALE, sheet="cases")
    append_row(sheet, texts.render("cases/export_columns", LOCALE, sheet="cases").split("|"))
    for case in cases:
        append_row(sheet, case_cells(texts, case))
    log = book.create_sheet(texts.render("cases/export_sheet", LOCALE, sheet="events"))
    append_row(log, texts.render("cases/export_columns", LOCALE, sheet="events").split("|"))
    for event in events:
        append_row(
            log,
            [
                event.case_number,
                _cell(texts, event.at),
                label(texts, LOCALE, f"event.{event.kind}"),
                event.actor_name or "",
                label(texts, LOCALE, f"status.{event.detail['status']}") if event.detail.get("status") else "",
                event.detail.get("note") or event.detail.get("text") or "",
                event.hash,
            ],
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def case_cells(texts: Texts, case: CaseInfo) -> list[Any]:
    r = case.report

    def lb(key: str) -> str:
        return label(texts, LOCALE, key)

    withheld = lb("reporter.withheld")
    return [
        case.number,
        lb(f"status.{case.status}"),
        lb(f"kind.{r.kind}"),
        lb(f"whose.{r.whose}"),
        _cell(texts, r.discovered_on),
        r.place,
        lb(f"carrier.{r.carrier}"),
        r.carrier_count if r.carrier_count is not None else "",
        lb(f"level.{r.level}"),
        lb("sep").join(lb(f"measure.{m}") for m in r.measures),
        r.measures_note or "",
        case.reporter_name or withheld,
        case.reporter_department or withheld,
        _cell(texts, case.reported_at),
        _cell(texts, case.acknowledged_at),
        _cell(texts, case.written_report_due),
        _cell(texts, case.written_report_sent_at),
        _cell(texts, case.conclusion_due),
        _cell(texts, case.concluded_at),
        _cell(texts, case.carrier_deadline),
        _cell(texts, case.carrier_found_at),
        _cell(texts, case.carrier_deemed_at),
    ]


def _cell(texts: Texts, value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(texts.timezone).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()
