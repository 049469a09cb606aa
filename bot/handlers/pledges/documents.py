"""Documents for the office and inspections: the export of who signed (xlsx or csv) and the printable copy of
a signed pledge (an A4 PDF in Chinese with the record hash as text and as a QR code).

Labels come from the caller (`word(key)`, rendered from messages/pledge/word), so no text lives here."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import qrcode
from openpyxl import Workbook
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.rules import Catalog
from bot.handlers.pledges.service import OverviewRow, Receipt
from bot.services import people
from bot.services.sheets import append_row, csv_bytes

Word = Callable[[str], str]
CJK_FONT = "STSong-Light"  # a CID font every PDF reader has: nothing to embed or ship
HASH_FONT = "Courier"  # a standard font, so the hashes stay plain text in the file and can be searched for
pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))

COLUMNS = (
    "col_employee_id",
    "col_name",
    "col_department",
    "col_active",
    "col_kind",
    "col_task",
    "col_state",
    "col_due",
    "col_at",
    "col_version",
    "col_fingerprint",
    "col_record",
)


def export_table(rows: list[OverviewRow], word: Word, timezone: ZoneInfo) -> list[list[str | int]]:
    """The header and one line per person and pledge."""
    table: list[list[str | int]] = [[word(c) for c in COLUMNS]]
    for row in rows:
        p, s, record = row.person, row.standing, row.standing.record
        table.append(
            [
                p.employee_id,
                p.name,
                p.department,
                word("yes" if p.active else "no"),
                word(s.kind.value),
                s.task_title or "",
                word(s.state.value),
                s.due_on.isoformat(),
                f"{record.at.astimezone(timezone):%Y-%m-%d %H:%M}" if record else "",
                record.version if record else "",
                record.fingerprint if record else "",
                record.record_id if record else "",
            ]
        )
    return table


def workbook_bytes(table: list[list[str | int]], sheet: str) -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for line in table:
        append_row(ws, line)
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def export(
    session: AsyncSession,
    cycle: int,
    as_of: date,
    timezone: ZoneInfo,
    policy: Policy,
    catalog: Catalog,
    word: Word,
    fmt: str,
) -> tuple[bytes, int]:
    """The export of a cycle as xlsx or csv, and how many lines it holds."""
    rows = await pledges.overview(session, cycle, as_of, timezone, policy, catalog)
    table = export_table(rows, word, timezone)
    data = csv_bytes(table) if fmt == "csv" else workbook_bytes(table, word("sheet"))
    return data, len(rows)


async def pledge_pdf(
    session: AsyncSession, staff_id: int, word: Word, timezone: ZoneInfo, record_id: int | None = None
) -> tuple[bytes, Receipt] | None:
    """The printable copy of a person's signed pledge (default: the latest); None when there is none."""
    found = await pledges.signed_record(session, staff_id, record_id)
    person = await people.by_id(session, staff_id)
    if found is None or person is None:
        return None
    receipt, text = found
    return render_pdf(text, receipt, person, word, timezone), receipt


def render_pdf(text: str, receipt: Receipt, person: people.Person, word: Word, timezone: ZoneInfo) -> bytes:
    body = ParagraphStyle("body", fontName=CJK_FONT, fontSize=11, leading=18, wordWrap="CJK", spaceAfter=6)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=24, alignment=1, spaceAfter=12)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=11)
    blocks = [b.strip() for b in text.split("\n\n") if b.strip()]
    story: list[Flowable] = [Paragraph(escape(blocks[0]), title)]
    story += [Paragraph(escape(b).replace("\n", "<br/>"), body) for b in blocks[1:]]
    story.append(Spacer(1, 8 * mm))

    details = [
        (word("pdf_signer"), receipt.signed_name or person.name),
        (word("pdf_employee_id"), person.employee_id),
        (word("pdf_department"), person.department),
        (word("pdf_at"), f"{receipt.at.astimezone(timezone):%Y-%m-%d %H:%M:%S}"),
        (word("pdf_kind"), word(receipt.kind.value)),
        (word("pdf_version"), str(receipt.version)),
        (word("pdf_record"), str(receipt.record_id)),
        (word("pdf_channel"), receipt.channel),
    ]
    table = Table(
        [[Paragraph(escape(label), body), Paragraph(escape(value), body)] for label, value in details],
        colWidths=[32 * mm, 100 * mm],
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("GRID", (0, 0), (-1, -1), 0.3, "#999999")]))
    side = 36 * mm
    layout = Table([[table, Image(_qr_png(receipt.hash), width=side, height=side)]], colWidths=[134 * mm, 40 * mm])
    layout.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [layout, Spacer(1, 4 * mm)]
    # Full width and unwrapped, so each hash stays one line that can be read off the paper and found in the file.
    hashes = ParagraphStyle("hash", parent=body, fontSize=9, leading=14, wordWrap=None)
    for label, value in ((word("pdf_text_hash"), receipt.text_hash), (word("pdf_hash"), receipt.hash)):
        story.append(Paragraph(f'{escape(label)}: <font name="{HASH_FONT}">{value}</font>', hashes))
    story += [Spacer(1, 4 * mm), Paragraph(escape(word("pdf_note")), small)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=blocks[0],
        author=person.name,
        subject=receipt.hash,
        keywords=f"{receipt.record_id} {receipt.text_hash}",
        pageCompression=0,  # keeps the printed hashes searchable in the file, as the metadata is
    )
    doc.build(story)
    return out.getvalue()


def _qr_png(value: str) -> io.BytesIO:
    out = io.BytesIO()
    qrcode.make(value).save(out)
    out.seek(0)
    return out
