"""The WeCom channel end to end: the real bot behind `baomi serve`'s HTTP server, WeCom's callbacks posted to it
encrypted as WeCom does, its replies sent to the fake WeCom API — the same flows as on Telegram."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.channels.wecom.channel import TITLE_CHARS, numbered
from bot.clock import SettableClock
from bot.config import Settings
from bot.db.models import AuditLog, Binding, Conversation, InboxEvent, OutboxMessage, Staff
from bot.db.session import Database
from bot.server import Server
from bot.testing.fake_wecom import FakeWeCom, WeComChat, serving, settle
from tests.conftest import TZ, import_example_roster
from tests.fakes.harness import bind, fake_api

# Who has a WeCom account in the roster: the officer, a head, a member of staff (E103 has none).
WECOM_IDS = {"E001": "WangJianGuo", "E101": "liuyang", "E102": "chenjing"}


@pytest.fixture
def wecom_ids() -> dict[str, str]:
    return WECOM_IDS


async def _staff_id(db: Database, employee_id: str) -> int:
    async with db.sessions() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert staff_id is not None
    return staff_id


async def test_roster_accounts_are_bound_before_they_write_and_reached(
    fake: FakeWeCom, server: Server, db: Database
) -> None:
    app = server.app
    assert (await app.jobs.run_all())["roster-bindings"] == 3  # first in every tick, before the duties
    async with db.sessions() as s:
        bound = {row[0]: row[1] for row in (await s.execute(select(Binding.chat_id, Binding.staff_id))).all()}
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "binding.roster"))
    assert bound == {user: await _staff_id(db, e) for e, user in WECOM_IDS.items()}
    assert audit is not None and audit.detail == {"count": 3}
    assert (await app.jobs.run_all())["roster-bindings"] == 0  # once

    # The same tick's renewals reached a member who has never opened the application.
    await settle(app)
    opening = [m.text for m in fake.messages("chenjing") if m.msgtype == "text"]
    assert len(opening) == 1 and opening[0].startswith("2026年度保密工作已开始")

    # WeCom writes the roster's WangJianGuo as wangjianguo: the binding takes WeCom's spelling, no second one.
    officer = WeComChat(fake, app, "wangjianguo")
    assert (await officer.send("/help")).text.startswith("王建国")
    async with db.sessions() as s:
        chats = (await s.scalars(select(Binding.chat_id).where(Binding.staff_id == await _staff_id(db, "E001")))).all()
    assert chats == ["wangjianguo"]


async def test_roster_member_is_bound_at_first_message_and_welcomed(
    fake: FakeWeCom, server: Server, db: Database
) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/help")
    # The welcome (and whatever the capabilities add to it) comes before the answer.
    assert chat.said[0].startswith("绑定成功！陈静（基础教育科）")
    assert chat.last.text.startswith("陈静")
    # No forwarding, a watermark (the welcome's to-dos are also a card of buttons, which cannot be forwarded).
    assert all(m.safe == 1 for m in chat.messages if m.msgtype == "text")
    async with db.sessions() as s:
        binding = await s.scalar(select(Binding).where(Binding.channel == "wecom"))
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "binding.create"))
    assert binding is not None and (binding.channel_user_id, binding.chat_id) == ("chenjing", "chenjing")
    assert binding.staff_id == await _staff_id(db, "E102")
    assert audit is not None and audit.detail == {"channel": "wecom", "via": "roster"}
    # WeCom treats userids case-insensitively: the roster's WangJianGuo writes as wangjianguo.
    officer = WeComChat(fake, server.app, "wangjianguo")
    await officer.send("/help")
    assert officer.said[0].startswith("绑定成功！王建国")
    # Bound once: the next message is simply answered.
    before = len(chat.messages)
    assert (await chat.send("/cancel")).text == chat.t("core/nothing_to_cancel")
    assert len(chat.messages) == before + 1


async def test_unknown_and_departed_accounts_are_strangers(fake: FakeWeCom, server: Server, db: Database) -> None:
    async with db.transaction() as s:
        await s.execute(update(Staff).where(Staff.employee_id == "E101").values(active=False))
    for user in ("nobody", "liuyang"):
        chat = WeComChat(fake, server.app, user)
        assert (await chat.send("/profile")).text == chat.t("core/stranger")
        assert len(chat.messages) == 1
    async with db.sessions() as s:
        assert (await s.scalars(select(Binding))).all() == []


async def test_profile_flow_with_cards_text_and_replaced_card(fake: FakeWeCom, server: Server, db: Database) -> None:
    officer = WeComChat(fake, server.app, "WangJianGuo")
    await officer.send("/cancel")  # bound now
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/profile")
    review = chat.last_card
    # The record is in a protected text message; the card asks the question in a short title.
    assert chat.messages[-2].msgtype == "text" and chat.messages[-2].safe == 1
    assert "陈静" in chat.messages[-2].text and len(review.text) <= TITLE_CHARS
    assert review.labels == [chat.t("profile/btn_correct"), chat.t("profile/btn_wrong")]

    assert (await chat.press(chat.t("profile/btn_wrong"))).text == chat.t("profile/ask_note", limit=200)
    await chat.send("部门应为考试院")
    confirm = chat.last_card
    assert chat.messages[-2].text == numbered(chat.t("profile/confirm_note", note="部门应为考试院"), confirm.labels)
    submitted = await chat.press(chat.t("profile/btn_submit"))
    # Replacing the pressed message: its buttons are greyed with the choice, the answer is a new message.
    assert confirm.disabled == "✓ " + chat.t("profile/btn_submit")
    assert review.disabled is None  # that card was answered by new messages, not replaced
    assert submitted.text == chat.t("profile/submitted") and submitted.msgtype == "text"
    with pytest.raises(AssertionError, match="greyed"):
        await fake.click("chenjing", chat.t("profile/btn_submit"), confirm)

    assert "部门应为考试院" in officer.last.text and "陈静" in officer.last.text
    async with db.sessions() as s:
        entry = await s.scalar(select(AuditLog).where(AuditLog.action == "profile.correction"))
        conv = await s.get(Conversation, await _staff_id(db, "E102"))
    assert entry is not None and entry.detail == {"note": "部门应为考试院"}
    assert conv is None


async def test_a_stale_card_button_says_so(fake: FakeWeCom, server: Server) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/profile")
    first = chat.last_card
    await chat.send("/profile")  # a new conversation: the first card's buttons are out of date
    stale = await chat.press(chat.t("profile/btn_wrong"), first)
    assert stale.text == chat.t("core/stale_button") and stale.msgtype == "text"


async def test_language_card_is_replaced_and_answers_in_english(fake: FakeWeCom, server: Server) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/language")
    card = chat.last_card
    assert card.labels == ["中文", "English"]
    answer = await chat.press("English")
    assert card.disabled == "✓ English"
    assert answer.text == chat.texts.render("core/language_set", "en", language="English")


async def test_commands_typed_with_a_wide_slash_or_as_an_alias(fake: FakeWeCom, server: Server) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("hello")
    assert chat.last.text.startswith(chat.t("core/not_understood", count=0).split("。")[0])
    assert (await chat.send("／cancel")).text == chat.t("core/nothing_to_cancel")
    person = WeComChat(fake, server.app, "liuyang")
    await person.send("/cancel")
    aliased = [e for e in server.app.registry.entries if e.aliases]
    assert {a for e in aliased for a in e.aliases} >= {"承诺", "答题", "报告"}
    # A few of them: WeCom holds back more than 30 messages a minute to one member, and the clock stands still here.
    for entry in [e for e in aliased if e.command in ("pledge", "quiz", "report", "help")]:
        before = len(person.said)
        await person.send(entry.aliases[0])
        by_alias = person.said[before:]
        await person.send("/cancel")
        before = len(person.said)
        await person.send(f"/{entry.command}")
        assert person.said[before:] == by_alias and by_alias, entry.command
        await person.send("/cancel")


async def test_attachments_are_refused(fake: FakeWeCom, server: Server, db: Database) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/cancel")
    kinds = ["image", "voice", "video", "file", "location", "link"]
    for kind in kinds:
        before = len(chat.messages)
        assert await fake.send_media("chenjing", kind) == 200
        await settle(server.app)
        assert len(chat.messages) == before + 1 and chat.last.text == chat.t("core/attachment_refused")
    # WeCom cannot delete a member's message: the person is told it was not accepted, and asked to delete it,
    # not that it was deleted (as on Telegram).
    assert chat.last.text != chat.texts.render("core/attachment_refused", "zh", channel="telegram")
    async with db.sessions() as s:
        deletes = (await s.scalars(select(OutboxMessage.status).where(OutboxMessage.op == "delete"))).all()
    assert deletes == ["sent"] * len(kinds)  # WeCom cannot delete them; nothing is kept of them either


async def test_a_retried_callback_is_processed_once(fake: FakeWeCom, server: Server, db: Database) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    assert await fake.send_text("chenjing", "/help") == 200
    assert await fake.repost() == 200  # WeCom did not see our 200 in time and sends it again
    await settle(server.app)
    assert await fake.repost() == 200  # even after it was processed
    await settle(server.app)
    assert chat.said.count(chat.last.text) == 1 and chat.last.text.startswith("陈静")
    assert sum(text.startswith("绑定成功") for text in chat.said) == 1
    async with db.sessions() as s:
        assert len((await s.scalars(select(InboxEvent))).all()) == 1


async def test_a_person_bound_on_both_channels_sees_one_conversation(
    fake: FakeWeCom, db_url: str, db: Database, clock: SettableClock
) -> None:
    await import_example_roster(db, clock, WECOM_IDS)
    async with fake_api() as api:
        settings = Settings(
            database_url=db_url,
            timezone=TZ,
            telegram_token=api.token,
            telegram_api_url=api.base_url,
            wecom=fake.settings(),
        )
        async with serving(settings, clock, fake) as server:
            telegram = await bind(api, server.app, "E102", 901)
            wecom = WeComChat(fake, server.app, "chenjing")
            await telegram.send("/profile")
            await telegram.press(telegram.t("profile/btn_wrong"))
            # The note is typed in WeCom: the same conversation goes on there.
            await wecom.send("姓名有误")
            confirm = wecom.t("profile/confirm_note", note="姓名有误")
            assert wecom.messages[-2].text == numbered(confirm, wecom.last_card.labels)
            await wecom.press(wecom.t("profile/btn_submit"))
            assert wecom.last.text == wecom.t("profile/submitted")
            # Telegram has the conversation over, too.
            assert (await telegram.send("/cancel"))["text"] == telegram.t("core/nothing_to_cancel")
    async with db.sessions() as s:
        bindings = (await s.scalars(select(Binding.channel).order_by(Binding.channel))).all()
    assert bindings == ["telegram", "wecom"]


async def test_the_custom_menu_is_set_by_the_command_line_and_a_click_is_its_word_typed(
    fake: FakeWeCom, server: Server, db_url: str, clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import run_command

    settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
    assert await run_command(settings, ["wecom", "menu"], clock) == 0
    assert fake.menu is not None and len(fake.menu) <= 3
    assert "办理" in capsys.readouterr().out
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/cancel")
    keys = [b.get("key") or s["key"] for b in fake.menu for s in (b.get("sub_button") or [b])]
    for key in keys:
        entry = server.app.registry.typed(key)
        assert entry is not None, key
        before = len(chat.said)
        await fake.send_event("chenjing", "click", key)
        await settle(server.app)
        clicked = chat.said[before:]
        await chat.send("/cancel")
        before = len(chat.said)
        await chat.send(f"/{entry.command}")
        assert clicked and chat.said[before:] == clicked, key
        await chat.send("/cancel")
        clock.advance(minutes=1)  # WeCom takes 30 messages a minute to one member


async def test_the_menu_command_says_what_wecom_refused(
    fake: FakeWeCom, db_url: str, clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import run_command

    fake.fail_next("menu/create", errcode=40054)
    settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
    assert await run_command(settings, ["wecom", "menu"], clock) == 1
    assert "40054" in capsys.readouterr().err
