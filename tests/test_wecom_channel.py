"""The WeCom channel's own rules, without a server: outbox rows into API calls, callbacks into events, and the
per-member windows."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.channels.wecom.channel import (
    BUTTON_CHARS,
    CARD_BUTTONS,
    TEXT_BYTES,
    TITLE_CHARS,
    button_key,
    card_labels,
    inbound_of,
    numbered,
    plan,
    split_text,
)
from bot.channels.wecom.quotas import (
    PER_HOUR,
    PER_MINUTE,
    PROACTIVE_PER_MINUTE,
    DailyTotal,
    Gate,
    MemberWindows,
    busy_minute,
    next_midnight,
)
from bot.core.channel import Operation
from bot.core.events import Attachment, AttachmentKind, Command, Press, Text
from bot.core.flow import Priority

T0 = datetime(2026, 3, 2, 1, 41, tzinfo=UTC)  # 09:41 in Beijing
TZ = ZoneInfo("Asia/Shanghai")


def op(kind: str = "send", priority: Priority = Priority.INTERACTIVE, **payload: Any) -> Operation:
    return Operation(7, "chenjing", kind, payload, priority, channel="wecom")


def buttons(*labels: str) -> list[list[dict[str, str]]]:
    return [[{"text": label, "data": f"pf:2:{label}"} for label in labels]]


# --- rows into calls --------------------------------------------------------------------------------------------
def test_plain_text_is_one_protected_text_message() -> None:
    (call,) = plan(op(text="您好"))
    assert call.api == "send" and call.counted
    assert call.body == {"touser": "chenjing", "msgtype": "text", "text": {"content": "您好"}, "safe": 1}


def test_proactive_messages_carry_the_duplicate_check_and_replies_do_not() -> None:
    (reply,) = plan(op(text="您好"))
    (reminder,) = plan(op(text="您好", priority=Priority.REMINDER))
    assert "enable_duplicate_check" not in reply.body  # the same words may rightly be said twice
    assert reminder.body["enable_duplicate_check"] == 1 and reminder.body["duplicate_check_interval"] == 600


def test_long_text_is_cut_between_lines_within_wecom_limit() -> None:
    line = "保密工作人人有责。" * 10  # 270 bytes
    text = "\n".join([line] * 20)
    parts = [c.body["text"]["content"] for c in plan(op(text=text))]
    assert len(parts) == 3
    assert all(len(p.encode()) <= TEXT_BYTES for p in parts)
    assert "\n".join(parts) == text


def test_a_line_longer_than_the_limit_is_cut_too() -> None:
    text = "密" * 1500  # 4,500 bytes on one line
    parts = split_text(text)
    assert "".join(parts) == text and all(len(p.encode()) <= TEXT_BYTES for p in parts)


def test_a_question_with_buttons_is_said_with_its_options_numbered_then_asked_on_a_card() -> None:
    text, call = plan(op(text="请选择语言", buttons=buttons("中文", "English")))
    # Clients without cards (the WeChat plugin, WeCom before 3.1.6) read the options in the text and type one.
    assert text.body["text"]["content"] == "请选择语言\n\n[1] 中文  [2] English" and text.body["safe"] == 1
    card = call.body["template_card"]
    assert call.body["msgtype"] == "template_card" and call.body["enable_duplicate_check"] == 1
    assert card["card_type"] == "button_interaction" and card["main_title"] == {"title": "请选择语言"}
    assert card["task_id"] == "baomi_7_0"
    assert [json.loads(b["key"]) for b in card["button_list"]] == [["pf:2:中文", "中文"], ["pf:2:English", "English"]]


def test_a_long_text_with_buttons_is_said_first_and_the_card_asks_its_last_line() -> None:
    text = "姓名：陈静\n部门：基础教育科\n以上信息是否正确？"
    first, card = plan(op(text=text, buttons=buttons("正确", "有误")))
    assert first.body["text"]["content"] == numbered(text, ["正确", "有误"]) and first.body["safe"] == 1
    assert card.body["template_card"]["main_title"]["title"] == "以上信息是否正确？"
    very_long = plan(op(text="问" * 80, buttons=buttons("是")))
    assert len(very_long[-1].body["template_card"]["main_title"]["title"]) == TITLE_CHARS


def test_many_buttons_make_several_cards_with_their_own_task_ids() -> None:
    labels = [f"部门{i}" for i in range(CARD_BUTTONS + 2)]
    text, *cards = plan(op(text="选择部门", buttons=buttons(*labels)))
    assert text.body["text"]["content"].endswith(f"[{CARD_BUTTONS + 2}] 部门{CARD_BUTTONS + 1}")
    assert [len(c.body["template_card"]["button_list"]) for c in cards] == [CARD_BUTTONS, 2]
    assert [c.body["template_card"]["task_id"] for c in cards] == ["baomi_7_0", "baomi_7_1"]


def test_task_ids_carry_the_installation_prefix_within_wecom_rules() -> None:
    big = Operation(2**63 - 1, "chenjing", "send", {"text": "?", "buttons": buttons("是")}, 0, channel="wecom")
    task_id = plan(big, "bm0123456789")[-1].body["template_card"]["task_id"]
    assert task_id == f"bm0123456789_{2**63 - 1}_0"
    assert re.fullmatch(r"[A-Za-z0-9_\-@]+", task_id) and len(task_id.encode()) <= 128


def test_long_quiz_options_show_their_letters_on_the_buttons() -> None:
    options = [
        {"text": "A. 国家秘密的密级分为绝密、机密、秘密三级", "data": "qz:3:a:0:0", "short": "A"},
        {"text": "B. 机密", "data": "qz:3:a:0:1", "short": "B"},
    ]
    assert len(options[0]["text"]) > BUTTON_CHARS
    text, call = plan(op(text="第 1/20 题\n…", buttons=[[b] for b in options]))
    card = call.body["template_card"]
    # All the letters, not a mix of letters and labels; the greyed button will say the letter too.
    assert [b["text"] for b in card["button_list"]] == ["A", "B"]
    assert [json.loads(b["key"]) for b in card["button_list"]] == [["qz:3:a:0:0", "A"], ["qz:3:a:0:1", "B"]]
    assert text.body["text"]["content"].endswith("[1] A  [2] B")
    # Short enough, they keep their labels; buttons without a short form always do.
    assert card_labels([options[1], {"text": "提交", "data": "qz:3:s:0"}]) == ["B. 机密", "提交"]
    assert card_labels([options[0], {"text": "提交", "data": "qz:3:s:0"}]) == ["A", "提交"]


def test_replacing_a_pressed_card_greys_it_with_the_choice_then_sends() -> None:
    pressed = json.dumps(["CODE", "English"])
    update, send = plan(op("edit", text="Language set", buttons=[], pressed=pressed, message_id="bm01_3_0"))
    assert update.api == "update" and not update.counted
    assert update.body == {"userids": ["chenjing"], "response_code": "CODE", "button": {"replace_name": "✓ English"}}
    assert send.body["text"]["content"] == "Language set"


def test_a_press_answered_only_by_a_notice_says_the_notice() -> None:
    (call,) = plan(op("answer", callback_id=json.dumps(["CODE", "x"]), text="该按钮已失效"))
    assert call.body["text"]["content"] == "该按钮已失效"
    assert plan(op("answer", callback_id=json.dumps(["CODE", "x"]), text="")) == []


def test_deleting_and_menus_need_no_call() -> None:
    assert plan(op("delete", message_id="123")) == []
    assert plan(op("menu", commands=[])) == []


def test_a_document_is_uploaded_and_sent_as_a_protected_file() -> None:
    doc = {"filename": "承诺书.pdf", "content_b64": "JVBERg==", "caption": "已签署"}
    caption, file = plan(op(text="", buttons=[], document=doc))
    assert caption.body["text"]["content"] == "已签署"
    assert file.api == "file" and file.body["safe"] == 1 and file.body["file"]["filename"] == "承诺书.pdf"


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operation"):
        plan(op("fly"))


# --- callbacks into events -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "event"),
    [
        ("/profile", Command("profile")),
        ("  /Invite E102 ", Command("invite", "E102")),
        ("／help", Command("help")),
        ("/ 不是命令", Text("/ 不是命令")),
        ("答题", Text("答题")),  # aliases are the engine's to resolve
        ("你好", Text("你好")),
    ],
)
def test_texts_and_commands(content: str, event: Any) -> None:
    inbound = inbound_of({"type": "text", "from_user": "u1", "create_time": 1, "msg_id": "9", "content": content})
    assert inbound.event == event and (inbound.user_id, inbound.chat_id, inbound.message_id) == ("u1", "u1", "9")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("image", AttachmentKind.PHOTO), ("file", AttachmentKind.DOCUMENT), ("shortvideo", AttachmentKind.OTHER)],
)
def test_media_are_attachments(kind: str, expected: AttachmentKind) -> None:
    inbound = inbound_of({"type": "media", "from_user": "u1", "create_time": 1, "msg_id": "9", "kind": kind})
    assert inbound.event == Attachment(expected)


def test_a_card_click_is_a_press_with_its_task_and_response_code() -> None:
    payload = {
        "type": "card",
        "from_user": "u1",
        "create_time": 1,
        "event_key": button_key("pf:2:wrong", "有误"),
        "task_id": "baomi_7_0",
        "response_code": "RC",
        "card_type": "button_interaction",
    }
    inbound = inbound_of(payload)
    assert inbound.event == Press("pf:2:wrong") and inbound.message_id == "baomi_7_0"
    assert inbound.callback_id is not None and json.loads(inbound.callback_id) == ["RC", "有误"]
    foreign = inbound_of({**payload, "event_key": "not-ours"})
    assert foreign.event == Press("not-ours")


def test_other_events_are_nothing_for_the_engine() -> None:
    inbound = inbound_of(
        {"type": "event", "from_user": "u1", "create_time": 1, "event": "enter_agent", "event_key": ""}
    )
    assert inbound.event is None


# --- the quotas ---------------------------------------------------------------------------------------------------
def test_replies_may_use_the_whole_minute_and_proactive_messages_leave_room() -> None:
    windows = MemberWindows()
    for _ in range(PROACTIVE_PER_MINUTE):
        assert windows.reserve("u1", 1, T0, proactive=True) == 0
    assert windows.reserve("u1", 1, T0, proactive=True) > 0
    for _ in range(PER_MINUTE - PROACTIVE_PER_MINUTE):
        assert windows.reserve("u1", 1, T0, proactive=False) == 0
    wait = windows.reserve("u1", 1, T0, proactive=False)
    assert 60 < wait <= 65  # the window is counted with some slack for network delays
    assert windows.reserve("u1", 1, T0 + timedelta(seconds=wait), proactive=False) == 0
    assert windows.reserve("u2", 1, T0, proactive=True) == 0  # members are counted apart


def test_the_hour_is_counted_too() -> None:
    windows = MemberWindows()
    start = T0
    for i in range(PER_HOUR):
        # 20 a minute stays under the minute's quota all along.
        assert windows.reserve("u1", 1, start + timedelta(seconds=3 * i), proactive=False) == 0
    last = start + timedelta(seconds=3 * (PER_HOUR - 1))
    wait = windows.reserve("u1", 1, last, proactive=False)
    assert wait == pytest.approx((start + timedelta(seconds=3605) - last).total_seconds())


def test_a_row_of_several_messages_waits_until_all_fit() -> None:
    windows = MemberWindows()
    for _ in range(PER_MINUTE - 1):
        windows.reserve("u1", 1, T0, proactive=False)
    assert windows.reserve("u1", 2, T0, proactive=False) > 0
    assert windows.reserve("u1", 1, T0, proactive=False) == 0


@pytest.mark.parametrize(
    ("hour", "minute", "second", "busy"),
    [(9, 30, 0, 60.0), (9, 30, 45, 15.0), (10, 0, 10, 50.0), (9, 31, 0, 0.0), (9, 59, 59, 0.0)],
)
def test_busy_minutes_are_on_the_hour_and_half_hour_in_beijing(
    hour: int, minute: int, second: int, busy: float
) -> None:
    beijing = datetime(2026, 3, 2, hour, minute, second, tzinfo=UTC) - timedelta(hours=8)
    assert busy_minute(beijing) == pytest.approx(busy)


def test_a_reservation_refused_by_wecom_is_given_back() -> None:
    windows = MemberWindows()
    for _ in range(PER_MINUTE):
        windows.reserve("u1", 1, T0, proactive=False)
    windows.release("u1", 2)
    assert windows.reserve("u1", 2, T0, proactive=False) == 0


def test_the_daily_total_is_beijings_day_and_keeps_a_tenth_for_answers_and_alerts() -> None:
    daily = DailyTotal()
    daily.limit = 1000  # 5 accounts
    daily.add(899, T0)
    assert daily.routine_room(1, T0) and not daily.routine_room(2, T0)
    assert not daily.reached(T0)
    daily.add(101, T0)
    assert daily.reached(T0)
    midnight = next_midnight(T0)
    assert midnight == datetime(2026, 3, 3, 0, 0, tzinfo=TZ)
    assert not daily.reached(midnight) and daily.sent == 0  # a new day in Beijing


def test_frequency_blocks_wait_a_minute_then_the_hour_then_the_day() -> None:
    gate = Gate()
    first = gate.block(T0, whole_day=False)
    assert first == T0 + timedelta(seconds=65) and gate.wait(T0) == 65
    # Calls already in flight are refused by the same block: it does not grow.
    assert gate.block(T0 + timedelta(seconds=1), whole_day=False) == first
    # The first call after the pause is refused again: a per-hour block, counted from its start.
    second = gate.block(first, whole_day=False)
    assert second == T0 + timedelta(hours=1, seconds=5)
    # And again: the rest of the day.
    assert gate.block(second, whole_day=False) == next_midnight(T0) + timedelta(seconds=5)
    # A call that goes through ends it: the next block is a minute again.
    gate.opened()
    later = next_midnight(T0) + timedelta(hours=2)
    assert gate.block(later, whole_day=False) == later + timedelta(seconds=65)
    # Past the daily total, a block is the rest of the day at once.
    assert Gate().block(T0, whole_day=True) == next_midnight(T0) + timedelta(seconds=5)
