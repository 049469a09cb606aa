""" "已拒收，未保存" is true: a refused text, a caption, a file id, an edit, a group's or a channel's post never reaches
the database in any form; a processed inbox row keeps no content and no channel user id; what passed through the
bot is purged after the retention period, the records themselves kept.

The search is over everything the database holds: on SQLite the bytes of the database file and its write-ahead
log, on PostgreSQL every row of every table as text; each text in its UTF-8 bytes and its JSON-escaped forms
(\\uXXXX, in either case)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import func, select, text

from bot.app import BaomiApp
from bot.channels.telegram.channel import TelegramChannel
from bot.clock import SettableClock
from bot.db.models import AuditLog, InboxEvent, OutboxMessage
from bot.db.session import Database
from bot.testing.fake_bot_api import FakeBotApi
from tests.fakes.harness import bind, settle
from tests.test_leak_e2e import lb

# Texts the guard refuses, typed where the bot takes text.
REFUSED = {
    "机密★10年 考场安排表在档案柜": "marking",
    "教发〔2026〕3号 那份文件": "doc_number",
    "【秘密】关于期末考试的通知": "marking",
    "绝密★启用前 第3题答案是C": "marking",
}
# What never comes in at all: what is attached, forwarded, edited, or said in a group or a channel.
NEVER = [
    "照片说明：秘密试卷第二页",  # a caption
    "转发的通知全文：关于调整考点",  # a forwarded text
    "改过的话：名单在这里",  # an edit
    "群里说的：明天考试改时间",  # a group chat
    "频道发的：内部通报",  # a channel post
    "/report 机密★5年 命令后面的字",  # a command whose arguments are marked
]


def forms(value: str) -> set[bytes]:
    """A text as a database may hold it: UTF-8, and JSON-escaped with lower- and upper-case hex digits."""
    escaped = json.dumps(value)[1:-1]
    upper = re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), escaped)
    return {value.encode(), escaped.encode(), upper.encode()}


async def everything_stored(db_url: str, db: Database) -> bytes:
    """All the bytes the database keeps: the SQLite file and its WAL, or every PostgreSQL row as JSON text."""
    if db.is_sqlite:
        path = Path(db_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    out: list[str] = []
    async with db.sessions() as s:
        tables = (
            await s.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
        ).scalars()
        for table in list(tables):
            rows = await s.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t'))
            out += [row for (row,) in rows]
    return "\n".join(out).encode()


def telegram(app: BaomiApp) -> TelegramChannel:
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    return channel


async def test_nothing_refused_or_unasked_for_reaches_the_database(
    api: FakeBotApi, app: BaomiApp, db_url: str, db: Database, clock: SettableClock
) -> None:
    officer = await bind(api, app, "E001", 901)
    reporter = await bind(api, app, "E102", 902)
    await reporter.send("/report")
    await reporter.press(lb(reporter, "kind.lost"))
    await reporter.press(lb(reporter, "whose.mine"))
    await reporter.press(lb(reporter, "when.now"))
    for refused, category in REFUSED.items():
        assert (await reporter.send(refused))["text"] == reporter.t("guard/refused", category=category)
    photo = await api.send_photo(902, caption=NEVER[0])
    await api.send_forwarded(902, NEVER[1])
    await api.send_text(902, NEVER[5])
    await settle(api, app)
    # What the Bot API would send if asked for more than the bot asks for: dropped before anything is written.
    chat = {"id": 902, "type": "private", "first_name": "陈"}
    sender = {"id": 902, "is_bot": False, "first_name": "陈"}
    group = {"id": -100123, "type": "supergroup", "title": "科室群"}
    base = {"from": sender, "date": 1, "message_id": 77}
    stored = await telegram(app).store(
        [
            {"update_id": 900001, "edited_message": {**base, "chat": chat, "text": NEVER[2], "edit_date": 2}},
            {"update_id": 900002, "message": {**base, "chat": group, "text": NEVER[3]}},
            {"update_id": 900003, "channel_post": {**base, "chat": {**group, "type": "channel"}, "text": NEVER[4]}},
        ]
    )
    assert stored == 0
    await reporter.send("档案室")  # an answer that is kept: the place of the case
    await settle(api, app)

    async with db.sessions() as s:
        # A processed row keeps neither what was said nor who said it.
        rows = (await s.execute(select(InboxEvent.status, InboxEvent.channel_user_id, InboxEvent.payload))).all()
        assert rows and all(status != "pending" for status, _, _ in rows)
        assert {(user, json.dumps(payload)) for _, user, payload in rows} == {("", "{}")}

    everything = await everything_stored(db_url, db)
    file_id = photo["photo"][-1]["file_id"]
    for value in [*REFUSED, *NEVER, file_id, photo["photo"][-1]["file_unique_id"]]:
        for form in forms(value):
            assert form not in everything, (value, form)
    assert "档案室".encode() in everything or json.dumps("档案室")[1:-1].encode() in everything  # the search sees
    assert officer.user_id == 901


async def test_retention_purges_what_passed_through_and_keeps_the_records(
    api: FakeBotApi, app: BaomiApp, db: Database, clock: SettableClock
) -> None:
    officer = await bind(api, app, "E001", 911)
    await officer.send("/pledges")
    await officer.press(officer.t("pledge/word", key="export"))
    assert officer.last.get("document")
    async with db.sessions() as s:
        sent = dict((await s.execute(select(OutboxMessage.id, OutboxMessage.payload))).all())
        inbox_rows = await s.scalar(select(func.count()).select_from(InboxEvent))
    # The row says what to make; the workbook itself is made when sent and never stored.
    assert any("export" in p for p in sent.values()) and not any("document" in p for p in sent.values())
    assert inbox_rows

    # Six days on: nothing is old enough yet.
    clock.advance(days=6)
    await app.jobs.run_all()
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboxEvent)) == inbox_rows
    # A day later (the next day's sweep): processed rows are gone, sent payloads emptied.
    clock.advance(days=1, hours=1)
    async with db.sessions() as s:
        audit_rows = await s.scalar(select(func.count()).select_from(AuditLog))
    done = await app.jobs.run_all()
    assert done["retention"] > 0
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(InboxEvent)) == 0
        old = (
            await s.execute(select(OutboxMessage.payload, OutboxMessage.status).where(OutboxMessage.id.in_(list(sent))))
        ).all()
        assert await s.scalar(select(func.count()).select_from(AuditLog)) == audit_rows  # the records stay
    assert len(old) == len(sent) and all(payload == {} and status == "sent" for payload, status in old)
    # Once a day: a second run the same day touches nothing.
    assert (await app.jobs.run_all())["retention"] == 0
    # The bot still answers, and answers buttons typed as numbers only where it still knows them.
    assert (await officer.send("/status"))["text"]


def test_forms_cover_json_escapes() -> None:
    assert forms("机密") == {"机密".encode(), b"\\u673a\\u5bc6", b"\\u673A\\u5BC6"}
