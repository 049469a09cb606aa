"""Every outgoing text within its channel's limit, in one place for every flow (bot/core/outbox_rows.py, `fitted`):
Telegram 4,096 characters a message (UTF-16 units), 1,024 a caption, 200 a button's notice; WeCom 2,048 bytes."""

from __future__ import annotations

import base64

from sqlalchemy import select

from bot.app import BaomiApp
from bot.core.flow import Button, Document, Priority, Reply
from bot.core.outbox_rows import fitted, message_payload, send_to_staff
from bot.core.render import TEXT_LIMITS, split, utf8_bytes, utf16_units
from bot.db.models import OutboxMessage, Staff
from bot.testing.fake_bot_api import FakeBotApi
from tests.fakes.harness import bind, settle

LONG = "\n".join(f"第{i}行：王建国 李秀英 张伟 刘洋 🙂" for i in range(600))  # about 14,000 UTF-16 units


def test_split_cuts_at_line_breaks_and_within_a_line_only_if_it_must() -> None:
    parts = split(LONG, 4096, utf16_units)
    assert len(parts) > 3 and all(utf16_units(p) <= 4096 for p in parts)
    assert "\n".join(parts) == LONG  # nothing lost, cut where lines end
    one_line = "密" * 5000  # 3 bytes each: 682 to a WeCom text
    assert [len(p) for p in split(one_line, 2048, utf8_bytes)] == [682] * 7 + [226]


def test_a_long_reply_becomes_messages_in_order_with_the_buttons_last() -> None:
    reply = Reply(LONG, buttons=[[Button("确认", "ok", target="x")]])
    payload = {**message_payload(reply), "answer": {"callback_id": "q1", "text": ""}}
    rows = fitted("telegram", "send", payload)
    assert len(rows) > 3 and {op for op, _ in rows} == {"send"}
    assert all(utf16_units(p["text"]) <= 4096 for _, p in rows)
    assert rows[0][1]["answer"] == {"callback_id": "q1", "text": ""} and all("answer" not in p for _, p in rows[1:])
    assert [p["buttons"] for _, p in rows[:-1]] == [[]] * (len(rows) - 1) and rows[-1][1]["buttons"]
    assert "\n".join(p["text"] for _, p in rows) == LONG
    # WeCom counts bytes.
    wecom = fitted("wecom", "send", payload)
    assert len(wecom) > len(rows) and all(utf8_bytes(p["text"]) <= 2048 for _, p in wecom)
    # An edit edits with the first part and sends the rest.
    edit = fitted("telegram", "edit", {**payload, "message_id": "7"})
    assert [op for op, _ in edit] == ["edit"] + ["send"] * (len(edit) - 1)
    assert edit[0][1]["message_id"] == "7" and all("message_id" not in p for _, p in edit[1:])
    # What fits is left alone.
    assert fitted("telegram", "send", message_payload(Reply("短"))) == [("send", message_payload(Reply("短")))]


def test_a_long_caption_goes_before_the_file_and_a_notice_is_cut_short() -> None:
    document = Document("a.xlsx", base64.b64encode(b"x").decode())
    rows = fitted("telegram", "send", message_payload(Reply("说明" * 700, document=document)))
    assert [bool(p.get("document")) for _, p in rows] == [False, True]
    assert rows[0][1]["text"] == "说明" * 700 and rows[1][1]["text"] == "" and rows[1][1]["document"]["caption"] == ""
    [(op, notice)] = fitted("telegram", "answer", {"callback_id": "q", "text": "提示" * 150})
    assert op == "answer" and len(notice["text"]) == 200
    assert TEXT_LIMITS["wecom"].message == 2048


async def test_telegram_takes_every_part_of_an_over_long_message(api: FakeBotApi, app: BaomiApp) -> None:
    """Through the real stack: the fake Bot API refuses what Telegram refuses ("message is too long")."""
    chat = await bind(api, app, "E102", 701)
    async with app.db.transaction() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == "E102"))
        assert staff_id is not None
        await send_to_staff(s, app.clock.now(), staff_id, Reply(LONG), Priority.ALERT)
    app.dispatcher.wake()
    await settle(api, app)
    async with app.db.sessions() as s:
        statuses = list((await s.scalars(select(OutboxMessage.status))).all())
    assert set(statuses) == {"sent"}
    said = [m["text"] for m in chat.bot_messages if m["text"].startswith("第") or "行：" in m["text"]]
    assert "\n".join(said) == LONG
