"""The review's documents for the office and inspections (保密工作制度 四、(一): 《网站信息发布审批单》 and its ledger):

- the 信息发布保密审查登记表, one line per request — number, unit, title, channel, dates, each stage's reviewer,
  opinion and date, the result and the whole history — a print-ready workbook;
- the 审查单 of an approved request, an A4 PDF with every decision and the record hash as text and QR code (the
  audit log entry of the approval, which `baomi audit verify` checks with the chain before it).

Words come from messages/review/word (zh, en), so no text lives here."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable
from datetime import date, datetime
from xml.sax.saxutils import escape

import qrcode
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from bot.handlers.review import notices
from bot.handlers.review.rules import Stage
from bot.handlers.review.service import DecisionInfo, RequestInfo
from bot.services.sheets import append_row
from bot.texts import Texts

CJK_FONT = "STSong-Light"  # a CID font every PDF reader has: nothing to embed or ship
HASH_FONT = "Courier"  # a standard font, so the hash stays plain text in the file and can be searched for
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
MAX_WIDTH = 50  # a long title wraps in print rather than pushing the other columns off the page
DATE_FORMAT = "yyyy-mm-dd"

Word = Callable[[str], str]
Cell = str | int | date | None


def words(texts: Texts, locale: str) -> Word:
    return lambda key: texts.render("review/word", locale, key=key)


# --- the 登记表 ---------------------------------------------------------------------------------------------------
def ledger_rows(requests: list[RequestInfo], texts: Texts, locale: str) -> list[list[Cell]]:
    """One line per request, oldest first: for each stage its last reviewer, opinion and date."""
    rows: list[list[Cell]] = []
    for seq, r in enumerate(requests, 1):
        d = r.draft
        cells: list[Cell] = [
            seq,
            r.number or "",
            r.department,
            r.submitter_name,
            d.title,
            notices.label(texts, locale, f"kind.{d.kind}"),
            channel_name(texts, locale, r),
            d.planned_on,
            d.draft_ref,
            _day(texts, r.submitted_at),
        ]
        for stage in Stage:
            last = _last(r, stage)
            if last is None:
                cells += ["", "", None]
            else:
                cells += [last.reviewer_name or "", opinion(texts, locale, last), _day(texts, last.at)]
        cells += [
            notices.label(texts, locale, f"status.{r.status}"),
            _day(texts, r.decided_at) if r.decided_at else None,
            r.round - 1,
            "\n".join(_history_line(texts, locale, d) for d in r.decisions),
        ]
        rows.append(cells)
    return rows


def ledger_workbook(
    requests: list[RequestInfo], bureau: str, exported_at: datetime, texts: Texts, locale: str = "zh"
) -> bytes:
    """The 登记表 as an xlsx ready to print: a bold heading row repeated on each page, landscape A4 fitted to the
    width, the title, the bureau and the export time in the page header, page numbers in the footer."""
    word = words(texts, locale)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = word("sheet")
    header = word("columns").split("|")
    append_row(sheet, header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    widths = [_width(h) for h in header]
    # The row number is counted here: openpyxl's max_row walks every cell, which made a large sheet quadratic.
    for row, values in enumerate(ledger_rows(requests, texts, locale), start=sheet.max_row + 1):
        append_row(sheet, values)
        for column, value in enumerate(values):
            if isinstance(value, date):
                sheet.cell(row, column + 1).number_format = DATE_FORMAT
            widths[column] = max(widths[column], _width(value))
    for column, width in enumerate(widths):
        sheet.column_dimensions[get_column_letter(column + 1)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    stamp = texts.render("review/stamp", locale, at=exported_at)
    sheet.oddHeader.left.text = word("title").replace("&", "&&")
    sheet.oddHeader.center.text = bureau.replace("&", "&&")
    sheet.oddHeader.right.text = stamp.replace("&", "&&")
    sheet.oddFooter.center.text = word("footer")  # its &P and &N are page codes
    sheet.print_title_rows = "1:1"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- the 审查单 ---------------------------------------------------------------------------------------------------
def form_pdf(request: RequestInfo, bureau: str, texts: Texts, locale: str = "zh") -> bytes:
    """The completed 审查单 of an approved request: its metadata, each stage's opinion in the final round, the
    earlier rounds, the record hash and its QR code."""
    assert request.number is not None and request.record_hash is not None
    word = words(texts, locale)
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=10.5, leading=16, wordWrap="CJK")
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=24, alignment=1, spaceAfter=4)
    number = ParagraphStyle("number", parent=body, alignment=2, spaceAfter=6)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)

    def para(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(text).replace("\n", "<br/>"), style)

    d = request.draft
    final = request.round_decisions()
    details = [
        (word("f_department"), request.department),
        (word("f_submitter"), request.submitter_name),
        (word("f_title"), d.title),
        (word("f_kind"), notices.label(texts, locale, f"kind.{d.kind}")),
        (word("f_channel"), channel_name(texts, locale, request)),
        (word("f_planned"), d.planned_on.isoformat()),
        (word("f_draft"), d.draft_ref),
        (word("f_submitted"), _moment(texts, request.submitted_at)),
    ]
    for stage in request.chain:
        decided = next((x for x in final if x.stage is stage), None)
        text = "" if decided is None else f"{opinion(texts, locale, decided)}\n{_signed(texts, locale, decided)}"
        details.append((word(f"f_{stage}"), text))
    details += [
        (word("f_result"), word("approved")),
        (word("f_decided"), _moment(texts, request.decided_at) if request.decided_at else ""),
    ]
    table = Table([[para(k), para(v)] for k, v in details], colWidths=[34 * mm, 140 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.3, "#999999")]))
    heading = texts.render("review/form_title", locale, bureau=bureau)
    story: list[Flowable] = [
        para(heading, title),
        para(texts.render("review/form_number", locale, number=request.number), number),
        table,
        Spacer(1, 4 * mm),
    ]
    earlier = [x for x in request.decisions if x.round < request.round]
    if earlier:
        story.append(para(word("f_earlier")))
        story += [para(_history_line(texts, locale, x), small) for x in earlier]
        story.append(Spacer(1, 4 * mm))
    side = 32 * mm
    hashes = ParagraphStyle("hash", parent=body, fontSize=9, leading=14, wordWrap=None)
    line = Paragraph(f'{escape(word("f_hash"))}: <font name="{HASH_FONT}">{request.record_hash}</font>', hashes)
    layout = Table(
        [[line, Image(_qr_png(request.record_hash), width=side, height=side)]], colWidths=[138 * mm, 36 * mm]
    )
    layout.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE")]))
    story += [layout, Spacer(1, 3 * mm), para(word("f_note"), small)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{heading} {request.number}",
        subject=request.record_hash,
        keywords=request.number,
        pageCompression=0,  # keeps the printed hash searchable in the file, as the metadata is
    )
    doc.build(story)
    return out.getvalue()


# --- shared -------------------------------------------------------------------------------------------------------
def channel_name(texts: Texts, locale: str, request: RequestInfo) -> str:
    return notices.channel_label(texts, locale, request.draft)


def opinion(texts: Texts, locale: str, decision: DecisionInfo) -> str:
    """同意, or 退回修改：理由."""
    said = notices.decision_label(texts, locale, decision)
    return texts.render("review/opinion", locale, said=said, reason=decision.reason)


def _signed(texts: Texts, locale: str, decision: DecisionInfo) -> str:
    who = decision.reviewer_name or texts.render("review/word", locale, key="nobody")
    return texts.render("review/signed", locale, who=who, at=_moment(texts, decision.at))


def _history_line(texts: Texts, locale: str, decision: DecisionInfo) -> str:
    return texts.render(
        "review/history",
        locale,
        d=decision,
        stage=notices.stage_label(texts, locale, decision.stage),
        opinion=opinion(texts, locale, decision),
        who=decision.reviewer_name or texts.render("review/word", locale, key="nobody"),
        at=_moment(texts, decision.at),
    )


def _last(request: RequestInfo, stage: Stage) -> DecisionInfo | None:
    found = [d for d in request.decisions if d.stage is stage]
    return found[-1] if found else None


def _day(texts: Texts, value: datetime) -> date:
    return value.astimezone(texts.timezone).date()


def _moment(texts: Texts, value: datetime) -> str:
    return f"{value.astimezone(texts.timezone):%Y-%m-%d %H:%M}"


def _width(value: Cell) -> int:
    """Columns as Excel measures them: a CJK character takes two."""
    if value is None:
        return 0
    if isinstance(value, date):
        return len(DATE_FORMAT)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in str(value))


def _qr_png(value: str) -> io.BytesIO:
    out = io.BytesIO()
    qrcode.make(value).save(out)
    out.seek(0)
    return out
