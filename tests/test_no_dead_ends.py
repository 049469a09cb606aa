"""No dead ends for what people type: Chinese aliases for every command, a bare invitation code, the fallback with
the person's to-dos as buttons, the welcome that says what is owed, Telegram's persistent keyboard, and a typed
answer to a question the office relayed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.config import Policy
from bot.core.todo import KEYBOARD
from bot.db.models import Binding, Conversation
from bot.db.models_leak import LeakCaseEvent
from bot.db.session import Database
from bot.services.invitations import issue_for
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import import_example_roster
from tests.fakes.harness import Chat as TelegramChat
from tests.fakes.harness import bind, running_bot
from tests.fakes.local import Chat, LocalBot, local_bot

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, policy=Policy()) as found:
        found.app.jobs.sweeps = []
        yield found


def word(chat: Chat, key: str) -> str:
    return chat.t("core/word", key=key)


async def test_every_command_has_a_chinese_alias(bot: LocalBot) -> None:
    for entry in bot.app.registry.entries:
        assert any(CJK.search(alias) for alias in entry.aliases), entry.command


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("帮助", "help"),
        ("菜单", "help"),
        ("Help!", "help"),
        ("ｈｅｌｐ", "help"),
        ("帮助。", "help"),
        ("待办", "status"),
    ],
)
async def test_typed_words_run_their_command(bot: LocalBot, typed: str, command: str) -> None:
    chat = await bot.bind("E102")
    expected = (await chat.send(f"/{command}"))["text"]
    assert (await chat.send(typed))["text"] == expected


async def test_cancel_typed_in_chinese_leaves_the_conversation(bot: LocalBot) -> None:
    chat = await bot.bind("E103")
    await chat.send("/profile")
    assert (await chat.send("取消"))["text"] == chat.t("core/cancelled")
    async with bot.app.db.sessions() as s:
        assert await s.get(Conversation, await bot.staff_id("E103")) is None


async def test_a_bare_invitation_code_binds(bot: LocalBot) -> None:
    async with bot.app.db.transaction() as s:
        code = (await issue_for(s, await bot.staff_id("E103"), bot.clock.now(), 14)).code
    chat = bot.chat()
    await chat.send(f" {code[:5].lower()}-{code[5:]} ")  # as read from paper, with a dash and in small letters
    assert chat.bot_messages[0]["text"].startswith("绑定成功！杨帆")
    async with bot.app.db.sessions() as s:
        bound = await s.scalar(select(Binding.staff_id).where(Binding.channel_user_id == chat.user))
    assert bound == await bot.staff_id("E103")
    # Anything else a stranger types still gets the explanation.
    assert (await bot.chat().send("你好"))["text"] == chat.t("core/stranger")


async def test_the_welcome_says_what_is_owed_with_buttons_in_at_most_20_lines(bot: LocalBot) -> None:
    chat = await bot.bind("E102")  # classified: the onboarding pledge, the annual pledge, the quiz
    welcome = chat.bot_messages[0]
    text = welcome["text"]
    count = int(re.search(r"您有 (\d+) 项待办", text).group(1))  # type: ignore[union-attr]
    assert count >= 2 and len(text.splitlines()) <= 20
    # Each to-do's line, rendered where the welcome shows it.
    cycle = bot.clock.now().astimezone(bot.texts.timezone).year
    assert "• " + chat.t("quiz/todo", cycle=cycle, open=False, minutes_left=0) in text.splitlines()
    assert "/profile" not in text  # the full list of commands is under /help
    labels = chat.labels(welcome)
    assert word(chat, "pledge") in labels and word(chat, "quiz") in labels and word(chat, "help") in labels
    # The button starts the pledge, as /pledge would.
    await chat.press(word(chat, "pledge"), welcome)
    assert chat.t("pledge/word", key="next") in chat.labels()


async def test_not_understood_offers_the_to_dos_as_buttons(bot: LocalBot) -> None:
    chat = await bot.bind("E102")
    reply = await chat.send("你好")
    assert reply["text"].startswith("没有理解您的意思。")
    labels = chat.labels(reply)
    for key in ("my_todos", "pledge", "quiz", "report"):
        assert word(chat, key) in labels
    assert (await chat.press(word(chat, "my_todos"), reply))["text"] == (await chat.send("/status"))["text"]
    # Someone owing nothing still has somewhere to go.
    officer = await bot.bind("E001")
    reply = await officer.send("嗯")
    assert word(officer, "my_todos") in officer.labels(reply) and word(officer, "report") in officer.labels(reply)


async def test_a_typed_answer_to_the_office_within_48_hours_is_relayed(bot: LocalBot, clock: SettableClock) -> None:
    from tests.test_leak_e2e import case_info, file_report, lb

    officer, reporter = await bot.bind("E001"), await bot.bind("E003")
    await file_report(reporter, kind="others", place="会议室", carrier="talk", name="hide")
    case = await case_info(bot.app, "BM-2026-0001")
    await officer.send("/cases")
    await officer.press(officer.labels()[0])
    await officer.press(lb(officer, "btn.contact"))
    await officer.send("请问当时是否已经制止？")
    clock.advance(hours=47)
    # No 回复 pressed: the text typed under the question is the answer.
    assert (await reporter.send("已当场制止"))["text"] == reporter.t("report/reply_sent", case=case)
    assert officer.last["text"] == officer.t("cases/reporter_message", case=case, message="已当场制止")
    clock.advance(hours=49)
    assert (await reporter.send("还有一件事"))["text"].startswith("没有理解您的意思。")
    async with bot.app.db.sessions() as s:
        kinds = (await s.scalars(select(LeakCaseEvent.kind).order_by(LeakCaseEvent.id))).all()
    assert kinds.count("relay_from_reporter") == 1


# --- Telegram: the persistent keyboard -----------------------------------------------------------------------------
async def test_telegram_keeps_the_main_actions_on_a_persistent_keyboard(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    await import_example_roster(db, clock)
    async with running_bot(api, db_url, clock) as app:
        app.jobs.sweeps = []
        chat = await bind(api, app, "E103", 4401)
        keyboard = api.reply_keyboard(4401)
        assert keyboard is not None and keyboard.get("is_persistent") is True
        labels = [
            button["text"] if isinstance(button, dict) else button for row in keyboard["keyboard"] for button in row
        ]
        assert labels == [chat.t("core/word", key=key) for key in KEYBOARD]
        for label, command in zip(labels, ("status", "pledge", "quiz", "report", "help"), strict=True):
            typed = (await chat.send(label))["text"]
            await chat.send("/cancel")
            assert typed == (await chat.send(f"/{command}"))["text"], label
            await chat.send("/cancel")
        await _english_labels_are_typed_too(app)


async def _english_labels_are_typed_too(app: BaomiApp) -> None:
    for key, command in zip(KEYBOARD, ("status", "pledge", "quiz", "report", "help"), strict=True):
        for locale in ("zh", "en"):
            entry = app.registry.typed(app.texts.render("core/word", locale, key=key))
            assert entry is not None and entry.command == command, (key, locale)


# --- officer tools: /invite ---------------------------------------------------------------------------------------
async def test_invite_finds_by_name_or_id_in_any_case_and_warns_before_moving_an_account(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    staff = await bot.bind("E102")  # 陈静, bound
    # A lower-case id is the same id; someone not bound gets the code at once.
    issued = await officer.send("/invite e103")
    assert issued["text"].startswith("已为 杨帆（E103") and "t.me" not in issued["text"]
    # A part of a name that only one person has: the code at once; a name nobody has is said so.
    await officer.send("/invite")
    assert (await officer.send("帆"))["text"].startswith("已为 杨帆（E103")
    assert (await officer.send("/invite 不存在"))["text"] == officer.t("invite/unknown", employee_id="不存在")
    # 陈静 is bound: a warning first, and 取消 issues nothing.
    await officer.send("/invite E102")
    warned = officer.last
    assert "已在" in warned["text"] and officer.t("invite/btn_yes") in officer.labels(warned)
    assert (await officer.press(officer.t("invite/btn_no"), warned))["text"] == officer.t("invite/not_issued")
    await officer.send("/invite E102")
    done = await officer.press(officer.t("invite/btn_yes"))
    code = done["text"].splitlines()[1]
    # The new phone redeems it: the old account is told.
    new_phone = bot.chat()
    await new_phone.send(f"/start {code}")
    assert staff.last["text"] == staff.t("core/moved")


async def test_invite_on_telegram_gives_the_t_me_link_that_binds(api: FakeBotApi, app: BaomiApp) -> None:
    # Without Telegram (the local channel above) the code has no link; with it, getMe's username makes one.
    officer = await bind(api, app, "E001", 9101)
    issued = await officer.send("/invite E103")
    code = issued["text"].splitlines()[1]
    link = f"https://t.me/baomi_test_bot?start={code}"
    assert link in issued["text"]
    # Opening the link on a phone sends /start CODE: the person is bound.
    newcomer = TelegramChat(api, app, 9102)
    await newcomer.send(f"/start {code}")
    assert newcomer.bot_messages[0]["text"].startswith("绑定成功！杨帆")
