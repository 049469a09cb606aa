"""Confidentiality pledges end to end: the real bot through the fake Bot API, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import re
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot.app import BaomiApp
from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Settings
from bot.db.models import Conversation, Staff
from bot.db.models_pledge import PledgeRecord, PledgeRequest
from bot.db.session import Database
from bot.handlers.pledges import catalog as pledge_catalog
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.flows import PAGE_CHARS
from bot.handlers.pledges.rules import PledgeKind, PledgeState, fingerprint, pages
from bot.texts import MESSAGES
from tests.conftest import TZ, import_example_roster
from tests.fakes.local import Chat, LocalBot, local_bot

OFFICER, HEAD, STAFF, UNCLASSIFIED = "E001", "E101", "E102", "E103"
ONBOARDING_DUE = date(2026, 5, 1)  # bound on 2 March 2026, plus the policy's 60 days
ANNUAL_DUE = date(2026, 3, 2)  # the cycle opens on 1 January, plus 60 days


def w(chat: Chat, key: str) -> str:
    return chat.t("pledge/word", key=key)


async def read_to_the_end(chat: Chat) -> list[str]:
    """Opens /pledge and pages to the last page; returns the pages' bodies as shown."""
    shown = [(await chat.send("/pledge"))["text"]]
    while w(chat, "next") in chat.labels():
        shown.append((await chat.press(w(chat, "next")))["text"])
    assert w(chat, "agree") in chat.labels() and w(chat, "decline") in chat.labels()
    return shown


async def staff_id(app: BaomiApp, employee_id: str) -> int:
    async with app.db.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


async def records(app: BaomiApp, employee_id: str) -> list[PledgeRecord]:
    sid = await staff_id(app, employee_id)
    async with app.db.sessions() as s:
        return list((await s.scalars(select(PledgeRecord).where(PledgeRecord.staff_id == sid))).all())


async def test_onboarding_pledge_signed_with_the_roster_name(bot: LocalBot) -> None:
    chat = await bot.bind(STAFF)
    assert chat.last["text"] == chat.t("pledge/onboarding_prompt", due=ONBOARDING_DUE)
    shown = await read_to_the_end(chat)
    assert len(shown) > 1  # longer than a screen: paged
    last_page = chat.last_with_buttons
    assert (await chat.press(w(chat, "agree")))["text"] == chat.t("pledge/ask_name")
    reply = await chat.send("陈 静")  # spaces a phone keyboard adds do not make another name

    [row] = await records(bot.app, STAFF)
    assert reply["text"] == chat.t("pledge/receipt", receipt=pledges.receipt_of(row), fresh=True)
    assert (row.kind, row.outcome, row.version, row.cycle, row.channel) == ("onboarding", "signed", 2, 2026, "local")
    assert row.signed_name == "陈静" and "陈静" in row.text
    assert row.text_hash == hashlib.sha256(row.text.encode()).hexdigest()
    assert fingerprint(row.text_hash) in reply["text"]
    assert_shown(chat, shown, row.text)
    async with bot.app.db.sessions() as s:
        request = await s.get(PledgeRequest, row.request_id)
        conv = await s.get(Conversation, row.staff_id)
    assert request is not None and request.kind == "onboarding" and conv is None

    # Again: nothing to sign (the onboarding pledge covers the year), so the receipt.
    again = await chat.send("/pledge")
    assert again["text"] == chat.t("pledge/receipt", receipt=pledges.receipt_of(row), fresh=False)
    # A button of the finished conversation is answered as stale and changes nothing.
    await chat.press(w(chat, "agree"), last_page)
    assert len(await records(bot.app, STAFF)) == 1
    status = (await chat.send("/status"))["text"]
    signed = pledges.receipt_of(row)
    annual = pledges.Standing(row.staff_id, PledgeKind.ANNUAL, None, PledgeState.SIGNED, ANNUAL_DUE, signed)
    onboarding = pledges.Standing(
        row.staff_id, PledgeKind.ONBOARDING, row.request_id, PledgeState.SIGNED, ONBOARDING_DUE, signed
    )
    expected = chat.t("pledge/status", cycle=2026, annual=annual, requests=[onboarding], today=date(2026, 3, 2))
    assert expected in status


async def test_a_wrong_name_three_times_signs_nothing(bot: LocalBot) -> None:
    chat = await bot.bind(UNCLASSIFIED)
    await read_to_the_end(chat)  # not classified: no onboarding pledge, the pledge of the year
    await chat.press(w(chat, "agree"))
    assert (await chat.send("杨凡"))["text"] == chat.t("pledge/name_mismatch", left=2)
    assert (await chat.send("扬帆"))["text"] == chat.t("pledge/name_mismatch", left=1)
    assert (await chat.send("Yang Fan"))["text"] == chat.t("pledge/name_failed", tries=3)
    assert await records(bot.app, UNCLASSIFIED) == []
    async with bot.app.db.sessions() as s:
        assert await s.get(Conversation, await staff_id(bot.app, UNCLASSIFIED)) is None
    # A marked text is refused, not taken as a try and not stored.
    await read_to_the_end(chat)
    await chat.press(w(chat, "agree"))
    assert (await chat.send("机密★1年"))["text"] == chat.t("guard/refused", category="marking")
    reply = await chat.send("杨帆")
    [row] = await records(bot.app, UNCLASSIFIED)
    assert reply["text"] == chat.t("pledge/receipt", receipt=pledges.receipt_of(row), fresh=True)
    assert (row.kind, row.request_id, row.outcome) == ("annual", None, "signed")


async def test_sign_later_records_nothing(bot: LocalBot) -> None:
    chat = await bot.bind(UNCLASSIFIED)
    await read_to_the_end(chat)
    reply = await chat.press(w(chat, "later"))
    assert reply["text"] == chat.t("pledge/later", kind="annual")
    assert await records(bot.app, UNCLASSIFIED) == []
    async with bot.app.db.sessions() as s:
        assert await s.get(Conversation, await staff_id(bot.app, UNCLASSIFIED)) is None


async def test_a_refusal_is_confirmed_first_and_going_back_records_nothing(bot: LocalBot) -> None:
    chat = await bot.bind(UNCLASSIFIED)
    await read_to_the_end(chat)
    asked = await chat.press(w(chat, "decline"))
    assert asked["text"] == chat.t("pledge/confirm_decline", kind="annual")
    assert await records(bot.app, UNCLASSIFIED) == []
    back = await chat.press(w(chat, "back"))
    assert w(chat, "agree") in chat.labels() and w(chat, "later") in chat.labels()
    assert "第" in back["text"] and await records(bot.app, UNCLASSIFIED) == []


async def test_decline_is_recorded_and_the_head_sees_it(bot: LocalBot) -> None:
    head = await bot.bind(HEAD)
    chat = await bot.bind(UNCLASSIFIED)
    await read_to_the_end(chat)
    await chat.press(w(chat, "decline"))
    reply = await chat.press(w(chat, "confirm_decline"))
    [row] = await records(bot.app, UNCLASSIFIED)
    assert (row.kind, row.outcome, row.signed_name) == ("annual", "declined", None)
    assert reply["text"] == chat.t("pledge/declined", receipt=pledges.receipt_of(row))
    team = (await head.send("/team"))["text"]
    # 陈静 has not bound (*): a reminder cannot reach her.
    assert "承诺书：0/3（0%）" in team and "未签承诺书（3）：刘洋、陈静*、杨帆（拒签）" in team
    # Declining is not final: /pledge offers the same text again.
    bodies = pages(row.text, PAGE_CHARS)
    expected = chat.t("pledge/page", page=1, pages=len(bodies), body=bodies[0], last=False)
    assert (await chat.send("/pledge"))["text"] == expected


async def test_strangers_and_departed_people_cannot_sign(bot: LocalBot) -> None:
    stranger = bot.chat()
    assert (await stranger.send("/pledge"))["text"] == stranger.t("core/stranger")
    chat = await bot.bind(UNCLASSIFIED)
    async with bot.app.db.transaction() as s:
        await s.execute(update(Staff).where(Staff.employee_id == UNCLASSIFIED).values(active=False))
    assert (await chat.send("/pledge"))["text"] == chat.t("core/departed")
    assert await records(bot.app, UNCLASSIFIED) == []


async def test_material_change_requires_a_new_signature_and_a_minor_edit_does_not(
    db_url: str, db: Database, clock: SettableClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "messages"
    shutil.copytree(MESSAGES / "pledges", root / "pledges")
    annual = (root / "pledges" / "annual_v2.j2").read_text(encoding="utf-8")
    (root / "pledges" / "annual_v1.j2").write_text(annual, encoding="utf-8")
    (root / "pledges" / "annual_v2.j2").write_text(annual.replace("现郑重承诺", "特此郑重承诺"), encoding="utf-8")
    (root / "pledges" / "annual_v3.j2").write_text(annual + "\n七、新增的义务（v3）。\n", encoding="utf-8")
    catalog = (root / "pledges" / "catalog.yaml").read_text(encoding="utf-8")
    # This test's own versions of the yearly pledge stand in for the shipped ones: a minor edit, then a material one.
    catalog = re.sub(
        r"\nannual:\n.*?\n(?=departure:)",
        "\nannual:\n"
        "  - version: 1\n    material: true\n    template: pledges/annual_v1\n    effective: 2026-01-01\n"
        "  - version: 2\n    material: false\n    template: pledges/annual_v2\n    effective: 2026-04-01\n"
        "  - version: 3\n    material: true\n    template: pledges/annual_v3\n    effective: 2026-05-01\n",
        catalog,
        flags=re.S,
    )
    (root / "pledges" / "catalog.yaml").write_text(catalog, encoding="utf-8")
    monkeypatch.setattr(pledge_catalog, "ROOT", root)
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock) as bot:
        chat = await bot.bind(UNCLASSIFIED)
        await read_to_the_end(chat)
        await chat.press(w(chat, "agree"))
        await chat.send("杨帆")
        [v1] = await records(bot.app, UNCLASSIFIED)
        assert v1.version == 1

        clock.set(datetime(2026, 4, 7, 10, 0, tzinfo=TZ))  # the minor edit is in force: still signed
        assert (await chat.send("/pledge"))["text"] == chat.t(
            "pledge/receipt", receipt=pledges.receipt_of(v1), fresh=False
        )

        clock.set(datetime(2026, 5, 12, 10, 0, tzinfo=TZ))  # the material change is in force: sign again
        sid = await staff_id(bot.app, UNCLASSIFIED)
        resign = pledges.Standing(
            sid, PledgeKind.ANNUAL, None, PledgeState.RESIGN, date(2026, 6, 30), pledges.receipt_of(v1)
        )
        status = (await chat.send("/status"))["text"]
        assert chat.t("pledge/status", cycle=2026, annual=resign, requests=[], today=date(2026, 5, 12)) in status
        assert (await bot.app.jobs.run_all())["renewals"] == 2  # the material change, and the quiz overdue since March
        await bot.settle()
        reminder = chat.t("renewal/open", cycle=2026, items=[("pledge", date(2026, 6, 30))], resign=True)
        assert reminder in chat.last["text"]  # with the quiz's, as one 今日待办
        clock.advance(minutes=1)
        assert (await bot.app.jobs.run_all())["renewals"] == 0  # claimed once

        shown = await read_to_the_end(chat)
        assert "v3" in shown[-1]
        await chat.press(w(chat, "agree"))
        await chat.send("杨帆")
        rows = await records(bot.app, UNCLASSIFIED)
        assert [(r.version, r.outcome) for r in rows] == [(1, "signed"), (3, "signed")]
        assert "v3" in rows[1].text and rows[1].text_hash != rows[0].text_hash


async def test_audit_verify_passes_then_pinpoints_a_tampered_record(
    bot: LocalBot, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for employee_id, name in ((UNCLASSIFIED, "杨帆"), (STAFF, "陈静")):
        chat = await bot.bind(employee_id)
        await read_to_the_end(chat)
        await chat.press(w(chat, "agree"))
        await chat.send(name)
    settings = Settings(database_url=db_url, timezone=TZ)
    capsys.readouterr()
    assert await run_command(settings, ["audit", "verify"]) == 0
    assert "pledge_record" in capsys.readouterr().out

    [first] = await records(bot.app, UNCLASSIFIED)
    [second] = await records(bot.app, STAFF)
    async with bot.app.db.transaction() as s:
        await s.execute(update(PledgeRecord).where(PledgeRecord.id == second.id).values(signed_name="李四"))
    assert await run_command(settings, ["audit", "verify"]) == 1
    broken = [line for line in capsys.readouterr().out.splitlines() if line.startswith("pledge_record")]
    assert len(broken) == 1 and str(second.id) in broken[0]
    async with bot.app.db.sessions() as s:
        report = await pledges.verify(s)
    assert (report.broken_at, report.checked) == (second.id, 1) and first.id < second.id


async def test_pdf_and_export_hold_the_signed_rows(
    bot: LocalBot, db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    officer = await bot.bind(OFFICER)
    chat = await bot.bind(STAFF)
    await read_to_the_end(chat)
    await chat.press(w(chat, "agree"))
    await chat.send("陈静")
    [row] = await records(bot.app, STAFF)

    # In the bot: the workbook of the year.
    await officer.send("/pledges")
    sent = await officer.press(w(officer, "export"))
    lines = workbook_lines(sent.file[1])
    assert lines[0][0] == w(officer, "col_employee_id")
    mine = [line for line in lines if line[0] == STAFF]
    assert [line[4] for line in mine] == [w(officer, "annual"), w(officer, "onboarding")]
    assert all(line[6] == w(officer, "signed") and line[10] == fingerprint(row.text_hash) for line in mine)
    assert all(line[9] == 2 and line[11] == row.id for line in mine)
    unsigned = [line for line in lines if line[0] == UNCLASSIFIED]
    assert [(line[4], line[6]) for line in unsigned] == [(w(officer, "annual"), w(officer, "pending"))]

    # In the bot: the printable copy.
    await officer.send("/pledges")
    await officer.press(w(officer, "pdf"))
    assert (await officer.send("E103"))["text"] == officer.t("pledge/office_no_record", employee_id="E103")
    sent = await officer.send("陈静")  # by name as well as by employee id
    pdf = sent.file[1]
    assert pdf.startswith(b"%PDF") and row.hash.encode() in pdf and row.text_hash.encode() in pdf
    assert row.hash in pdf_text(pdf)

    # On the command line: the same documents.
    settings = Settings(database_url=db_url, timezone=TZ)
    out = tmp_path / "p.pdf"
    assert await run_command(settings, ["pledge", "pdf", STAFF, "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF") and row.hash in pdf_text(out.read_bytes())
    assert await run_command(settings, ["pledge", "pdf", "E103", "--out", str(out)]) == 1
    csv_out = tmp_path / "p.csv"
    assert await run_command(settings, ["export", "pledges", "--year", "2026", "--out", str(csv_out)]) == 0
    csv_lines = [line.split(",") for line in csv_out.read_text(encoding="utf-8-sig").splitlines()]
    assert [line[:2] for line in csv_lines if line[0] == STAFF] == [[STAFF, "陈静"], [STAFF, "陈静"]]
    assert len(csv_lines) == len(lines)


# --- helpers -------------------------------------------------------------------------------------------
def assert_shown(chat: Chat, shown: list[str], stored: str) -> None:
    """The stored text is exactly the text that was shown, page by page."""
    bodies = pages(stored, PAGE_CHARS)
    assert shown == [
        chat.t("pledge/page", page=i + 1, pages=len(bodies), body=b, last=i == len(bodies) - 1)
        for i, b in enumerate(bodies)
    ]


def workbook_lines(data: bytes) -> list[list[Any]]:
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    return [list(line) for line in sheet.iter_rows(values_only=True)]


def pdf_text(data: bytes) -> str:
    """The strings drawn in standard fonts (uncompressed content streams): enough to find the hashes."""
    return " ".join(m.decode("latin-1") for m in re.findall(rb"\(([^()]*)\)\s*Tj", data))


async def test_special_pledge_for_a_department(bot: LocalBot) -> None:
    officer = await bot.bind(OFFICER)
    chat = await bot.bind(UNCLASSIFIED)
    await officer.send("/pledges")
    await officer.press(w(officer, "special_task"))
    assert (await officer.send("机密★1年"))["text"] == officer.t("guard/refused", category="marking")
    await officer.send("2026年中考考务")
    # Everyone first: it says how many would be asked, and 取消 asks nobody.
    confirm = await officer.press(w(officer, "all"))
    assert confirm["text"] == officer.t("pledge/office_confirm_special", title="2026年中考考务", count=12, group=None)
    await officer.press(w(officer, "cancel"))
    assert chat.last["text"] != chat.t(
        "pledge/requested", kind="special", task="2026年中考考务", due=ONBOARDING_DUE, departure=None
    )
    await officer.press("基础教育科")
    started = await officer.press(w(officer, "confirm"))
    assert started["text"] == officer.t("pledge/office_special", title="2026年中考考务", count=3, due=ONBOARDING_DUE)
    asked = chat.t("pledge/requested", kind="special", task="2026年中考考务", due=ONBOARDING_DUE, departure=None)
    assert chat.last["text"] == asked
    async with bot.app.db.sessions() as s:
        requests = (await s.scalars(select(PledgeRequest).where(PledgeRequest.kind == "special"))).all()
    assert len(requests) == 3 and len({r.task_id for r in requests}) == 1

    first = (await chat.send("/pledge"))["text"]
    assert (await chat.send("随便说点什么"))["text"] == first  # not understood: the page again
    shown = await read_to_the_end(chat)
    await chat.press(w(chat, "agree"))
    await chat.send("杨帆")
    [row] = await records(bot.app, UNCLASSIFIED)
    assert row.kind == "special" and "2026年中考考务" in row.text
    assert_shown(chat, shown, row.text)
    # The special pledge does not stand for the pledge of the year, which comes next.
    await chat.send("/pledge")
    async with bot.app.db.sessions() as s:
        conv = await s.get(Conversation, row.staff_id)
    assert conv is not None and conv.state["kind"] == "annual" and conv.state["request"] is None


async def test_the_english_pledge_has_about_as_many_pages_as_the_chinese(bot: LocalBot) -> None:
    chinese = await bot.bind(STAFF)  # both classified: the onboarding pledge
    english = await bot.bind("E003", locale="en")
    await english.send("/language")
    await english.press("English")
    await english.send("/cancel")
    zh_pages, en_pages = len(await read_to_the_end(chinese)), len(await read_to_the_end(english))
    assert en_pages <= zh_pages + 1
