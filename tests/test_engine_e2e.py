"""The engine and the Telegram channel end to end: the real Application against the fake Bot API."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event, select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.db.models import AuditLog, Binding, Conversation, InboxEvent, OutboxMessage, Staff
from bot.db.session import Database
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import import_example_roster
from tests.fakes.harness import Chat, bind, running_bot, settle
from tests.fakes.local import LocalBot

OFFICER, HEAD, STAFF = "E001", "E101", "E102"


async def test_binding_with_good_used_expired_and_unknown_codes(
    api: FakeBotApi, app: BaomiApp, clock: SettableClock
) -> None:
    codes = await _codes(app)
    chat = Chat(api, app, 501)
    await chat.send(f"/start {codes[STAFF]}")
    # The welcome comes first; capabilities may follow it with their own requests (the onboarding pledge).
    assert chat.bot_messages[0]["text"].startswith("绑定成功！陈静（基础教育科）")
    async with app.db.sessions() as s:
        binding = await s.scalar(select(Binding).where(Binding.channel_user_id == "501"))
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == STAFF))
    assert binding is not None and binding.staff_id == staff_id

    other = Chat(api, app, 502)
    assert (await other.send(f"/start {codes[STAFF]}"))["text"] == other.t("core/code_used")
    assert (await other.send("/start ZZZZZZZZZZ"))["text"] == other.t("core/code_unknown")
    # One account binds one staff record: a second code does not rebind it.
    assert (await chat.send(f"/start {codes['E103']}"))["text"] == chat.t("core/code_already_bound")
    clock.advance(days=15)
    assert (await other.send(f"/start {codes['E103']}"))["text"] == other.t("core/code_expired")
    async with app.db.sessions() as s:
        assert len((await s.scalars(select(Binding))).all()) == 1


async def _codes(app: BaomiApp) -> dict[str, str]:
    from bot.services.invitations import issue_for_unbound

    async with app.db.transaction() as s:
        return {i.employee_id: i.code for i in await issue_for_unbound(s, app.clock.now(), 14)}


@pytest.mark.parametrize("text", ["/help", "/status", "/pledge", "/start", "hello", "/cancel", "/start BADCODE"])
async def test_stranger_gets_only_the_explanation(api: FakeBotApi, app: BaomiApp, text: str) -> None:
    chat = Chat(api, app, 777)
    reply = await chat.send(text)
    expected = chat.t("core/code_unknown") if text == "/start BADCODE" else chat.t("core/stranger")
    assert reply["text"] == expected
    assert len(chat.bot_messages) == 1


async def test_stranger_photo_is_deleted_and_explained(api: FakeBotApi, app: BaomiApp) -> None:
    photo = await api.send_photo(778)
    await settle(api, app)
    assert api.message(778, photo["message_id"]) is None
    assert Chat(api, app, 778).last["text"] == Chat(api, app, 778).t("core/stranger")


async def test_help_lists_only_the_commands_of_the_roles(bot: LocalBot) -> None:
    staff = await bot.bind(STAFF)
    officer = await bot.bind(OFFICER)
    staff_help = (await staff.send("/help"))["text"]
    officer_help = (await officer.send("/help"))["text"]
    for command in bot.app.registry.menu(frozenset({"staff"})):  # type: ignore[arg-type]
        assert f"/{command.command}" in staff_help
    assert staff_help.startswith("陈静") and officer_help.startswith("王建国")


async def test_language_switch_answers_in_english(bot: LocalBot) -> None:
    chat = await bot.bind(STAFF)
    await chat.send("/language")
    assert chat.labels() == ["中文", "English"]
    edited = await chat.press("English")
    assert edited["text"] == chat.texts.render("core/language_set", "en", language="English")
    chat.locale = "en"
    assert (await chat.send("/cancel"))["text"] == chat.t("core/nothing_to_cancel")


async def test_double_pressed_button_applies_once(api: FakeBotApi, app: BaomiApp) -> None:
    chat = await bind(api, app, STAFF, 621)
    review = await chat.send("/profile")
    data = dict(api.buttons(review))[chat.t("profile/btn_wrong")]
    first = await api.press(621, review["message_id"], data)
    second = await api.press(621, review["message_id"], data)
    await settle(api, app)
    assert api.callback_answer(first) is not None and api.callback_answer(second) is not None
    assert (api.callback_answer(second) or {}).get("text") == chat.t("core/stale_button")
    asks = [m for m in chat.bot_messages if m["text"] == chat.t("profile/ask_note", limit=200)]
    assert len(asks) == 1
    async with app.db.sessions() as s:
        conv = await s.get(Conversation, (await _staff_id(app, STAFF)))
    assert conv is not None and conv.state == {"state": "describing"} and conv.version == 2


async def _staff_id(app: BaomiApp, employee_id: str) -> int:
    async with app.db.sessions() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert staff_id is not None
    return staff_id


async def test_profile_correction_reaches_officers_and_audit(bot: LocalBot) -> None:
    officer = await bot.bind(OFFICER)
    chat = await bot.bind(STAFF)
    await chat.send("/profile")
    await chat.press(chat.t("profile/btn_wrong"))
    reply = await chat.send("部门应为考试院")
    assert reply["text"] == chat.t("profile/confirm_note", note="部门应为考试院")
    assert (await chat.press(chat.t("profile/btn_submit")))["text"] == chat.t("profile/submitted")
    assert "部门应为考试院" in officer.last["text"] and "陈静" in officer.last["text"]
    async with bot.app.db.sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "profile.correction"))
        conv = await s.get(Conversation, await _staff_id(bot.app, STAFF))
    assert entry is not None and entry.detail == {"note": "部门应为考试院"}
    assert conv is None


async def test_marked_text_is_refused_and_not_stored(bot: LocalBot) -> None:
    chat = await bot.bind(STAFF)
    await chat.send("/profile")
    await chat.press(chat.t("profile/btn_wrong"))
    reply = await chat.send("机密★10年 的文件")
    assert reply["text"] == chat.t("guard/refused", category="marking")
    async with bot.app.db.sessions() as s:
        conv = await s.get(Conversation, await _staff_id(bot.app, STAFF))
        outbox = (await s.scalars(select(OutboxMessage.payload))).all()
    assert conv is not None and "机密★" not in str(conv.state)
    assert not any("机密★" in str(p) for p in outbox)


async def test_attachment_mid_conversation_is_deleted_and_state_kept(api: FakeBotApi, app: BaomiApp) -> None:
    chat = await bind(api, app, STAFF, 651)
    await chat.send("/profile")
    await chat.press(chat.t("profile/btn_wrong"))
    doc = await api.send_document(651, file_name="a.pdf")
    forwarded = await api.send_forwarded(651, "转发的内容")
    await settle(api, app)
    assert api.message(651, doc["message_id"]) is None
    assert api.message(651, forwarded["message_id"]) is None
    assert chat.last["text"] == chat.t("profile/ask_note", limit=200)
    refusals = [m for m in chat.bot_messages if m["text"] == chat.t("core/attachment_refused")]
    assert refusals == []  # inside a flow the flow answers; the material itself is gone


async def test_roles_gate_commands(api: FakeBotApi, app: BaomiApp) -> None:
    from bot.domain.levels import Role

    head_roles = frozenset({Role.STAFF, Role.HEAD})
    staff = await bind(api, app, STAFF, 691)
    head = await bind(api, app, HEAD, 692)
    officer = await bind(api, app, OFFICER, 693)
    # Staff: neither the head's nor the officer's commands, and nothing revealed about them.
    assert (await staff.send("/team"))["text"] == staff.t("core/no_right")
    assert (await staff.send("/invite E201"))["text"] == staff.t("core/no_right")
    assert "/team" not in (await staff.send("/help"))["text"]
    # A head sees their own department only and cannot issue codes.
    team_text = (await head.send("/team"))["text"]
    assert team_text.startswith("【基础教育科】共 3 人，已绑定 2 人")
    assert "未签承诺书（3）：刘洋、陈静、杨帆*" in team_text
    assert "赵磊" not in team_text  # 考试院
    assert (await head.send("/invite E201"))["text"] == head.t("core/no_right")
    help_text = (await head.send("/help"))["text"]
    assert "/team" in help_text and "/invite" not in help_text
    # Command menus follow the roles: the default menu is staff's, heads and officers get their own.
    default_menu = [c["command"] for c in api.commands()]
    assert "team" not in default_menu and "status" in default_menu
    assert [c["command"] for c in api.commands(f"chat:{692}")] == [e.command for e in app.registry.menu(head_roles)]
    assert "invite" in [c["command"] for c in api.commands(f"chat:{693}")]
    # An officer picks any department, and issues codes.
    await officer.send("/team")
    assert "考试院" in officer.labels()
    assert (await officer.press("考试院"))["text"].startswith("【考试院】共 4 人，已绑定 0 人")
    issued = (await officer.send("/invite E201"))["text"]
    assert issued.startswith("已为 赵磊（E201，考试院）生成新的邀请码")
    code = issued.splitlines()[1]
    newcomer = Chat(api, app, 694)
    await newcomer.send(f"/start {code}")
    assert newcomer.bot_messages[0]["text"].startswith("绑定成功！赵磊")


async def test_every_message_is_protected(api: FakeBotApi, app: BaomiApp) -> None:
    chat = await bind(api, app, STAFF, 661)
    await chat.send("/help")
    await chat.send("/status")
    await chat.send("/language")
    sends = api.calls("sendMessage")
    assert sends and all(c.params.get("protect_content") in (True, "true", "True") for c in sends)
    assert {m["message_id"] for m in chat.bot_messages} <= api.protected_message_ids(661)


async def test_departed_person_is_refused(bot: LocalBot) -> None:
    chat = await bot.bind(STAFF)
    async with bot.app.db.transaction() as s:
        staff = await s.scalar(select(Staff).where(Staff.employee_id == STAFF))
        assert staff is not None
        staff.active = False
    assert (await chat.send("/help"))["text"] == chat.t("core/departed")


async def test_restart_mid_conversation_resumes(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    await import_example_roster(db, clock)
    async with running_bot(api, db_url, clock) as app:
        chat = await bind(api, app, STAFF, 681)
        await chat.send("/profile")
        await chat.press(chat.t("profile/btn_wrong"))
    async with running_bot(api, db_url, clock) as app:
        chat = Chat(api, app, 681)
        reply = await chat.send("姓名有误")
        assert reply["text"] == chat.t("profile/confirm_note", note="姓名有误")
        async with app.db.sessions() as s:
            pending = (await s.scalars(select(InboxEvent).where(InboxEvent.status != "done"))).all()
        assert pending == []


async def test_a_batchs_reports_come_last_and_read_each_duty_once_for_all(bot: LocalBot) -> None:
    """A /status that is its sender's last event of a batch is handled after the batch's other events, together with
    the others: each duty's rows are read once for all of them, and each shows what the events before it changed.
    A /status followed by another event of its sender keeps its place, and reads for that person alone."""
    alone, switching, before_help = [await bot.bind(e) for e in ("E102", "E202", "E203")]
    await switching.send("/language")
    prompt = switching.last
    papers: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM quiz_attempt" in statement:
            papers.append(statement)

    engine = bot.app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await bot.channel.type(alone.user, "/status")
        await switching.tap(dict(switching.buttons(prompt))["English"], prompt)
        await bot.channel.type(switching.user, "/status")
        await bot.channel.type(before_help.user, "/status")
        await bot.channel.type(before_help.user, "/help")
        await bot.settle()  # one batch
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(papers) == 2  # the two last reports together, the one before /help alone
    batched = [alone.last.text, switching.last.text, before_help.bot_messages[-2].text, before_help.last.text]
    assert switching.last.text.startswith("[Your record]")  # after the press that chose English
    # The same texts as each asked alone, one event at a time.
    switching.locale = "en"
    assert batched == [
        (await alone.send("/status")).text,
        (await switching.send("/status")).text,
        (await before_help.send("/status")).text,
        (await before_help.send("/help")).text,
    ]
