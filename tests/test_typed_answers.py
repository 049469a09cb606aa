"""Typed answers (bot/core/typed.py): wherever buttons are offered, the option's number, its letter (the quiz's A–D)
or its label may be typed instead, on every channel — the only way to answer for WeCom members whose client shows
no cards (tests/test_wecom_members.py), a convenience on Telegram."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.config import Policy
from bot.core.typed import choose
from bot.db.models import Conversation, Staff
from bot.db.models_broadcast import BroadcastRecipient
from bot.db.models_quiz import QuizAttempt
from bot.db.session import Database
from bot.handlers.account.profile import MAX_NOTE
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import QuestionType, draw_paper, load_bank
from bot.handlers.quiz.flows import QuizFlow
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import import_example_roster
from tests.fakes.harness import bind
from tests.fakes.local import LocalBot, local_bot
from tests.test_leak_e2e import alerts, case_info, file_report, lb

BANK = load_bank(quiz.BANK_PATH)
LANGUAGES = [{"text": "中文", "data": "lg:1:set:zh"}, {"text": "English", "data": "lg:1:set:en"}]
QUIZ = [
    {"text": "A. 绝密、机密、秘密", "data": "qz:3:a:0:0", "short": "A"},
    {"text": "✓ B. 机密", "data": "qz:3:t:0:1", "short": "✓ B"},
    {"text": "提交", "data": "qz:3:s:0"},
]


# --- the rule ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("typed", "index"),
    [
        ("1", 0),
        ("2", 1),
        ("２", 1),  # a Chinese input method's full-width digit
        (" 2. ", 1),
        ("[2]", 1),
        ("english", 1),
        ("中文", 0),
        ("3", None),
        ("0", None),
        ("英文", None),
        ("", None),
    ],
)
def test_a_number_or_a_label_picks_a_button(typed: str, index: int | None) -> None:
    assert choose(typed, LANGUAGES) == index


@pytest.mark.parametrize(
    ("typed", "index"),
    [("A", 0), ("a", 0), ("Ａ", 0), ("A.", 0), ("B", 1), ("机密", 1), ("绝密、机密、秘密", 0), ("3", 2), ("提交", 2)],
)
def test_the_quiz_options_letter_or_text_picks_it_ticked_or_not(typed: str, index: int) -> None:
    assert choose(typed, QUIZ) == index


def test_a_label_is_typed_without_its_marks() -> None:
    pages = [{"text": "◀ 上一页", "data": "pl:4:prev"}, {"text": "下一页 ▶", "data": "pl:4:next"}]
    assert choose("下一页", pages) == 1 and choose("上一页", pages) == 0
    measures = [{"text": "✅ 已封存", "data": "lk:5:toggle:sealed"}, {"text": "下一步", "data": "lk:5:done"}]
    assert choose("已封存", measures) == 0


def test_labels_win_over_numbers_and_an_ambiguous_label_picks_nothing() -> None:
    counts = [{"text": n, "data": f"lk:4:count:{n}"} for n in ("3", "5", "10")]
    assert choose("3", counts) == 0 and choose("2", counts) == 1 and choose("10", counts) == 2
    twins = [{"text": "同意", "data": "x:1:a"}, {"text": "同意", "data": "x:1:b"}]
    assert choose("同意", twins) is None


# --- on the in-process channel: the engine's one path for every channel ------------------------------------------
@pytest.fixture
async def short_bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, Policy(quiz_questions=6)) as found:
        yield found


async def conversation(app: BaomiApp, employee_id: str) -> Conversation | None:
    async with app.db.sessions() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
        return await s.get(Conversation, staff_id)


async def test_the_offered_buttons_are_remembered_and_a_typed_number_presses_one(bot: LocalBot) -> None:
    chat = await bot.bind("E102")
    await chat.send("/profile")
    conv = await conversation(bot.app, "E102")
    assert conv is not None and conv.offered == [
        {"text": label, "data": data} for label, data in chat.buttons(chat.last_with_buttons)
    ]
    assert chat.labels(chat.last_with_buttons) == [chat.t("profile/btn_correct"), chat.t("profile/btn_wrong")]
    answer = await chat.send("2")
    assert answer.text == chat.t("profile/ask_note", limit=MAX_NOTE)


async def test_a_language_is_one_tap_with_no_conversation_and_typed_too(bot: LocalBot) -> None:
    """The language buttons are a standalone action: the prompt stores no conversation, and its number typed picks
    it from the latest message with buttons."""
    chat = await bot.bind("E102")
    await chat.send("/language")
    assert await conversation(bot.app, "E102") is None
    answer = await chat.send("2")
    assert answer.text == bot.texts.render("core/language_set", "en", language="English")
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(Staff.locale).where(Staff.employee_id == "E102")) == "en"


def every_type(count: int) -> int:
    """A seed whose paper of `count` questions has questions of every type."""
    return next(
        seed
        for seed in range(1000)
        if {BANK.by_id(d.question_id).type for d in draw_paper(BANK, count, random.Random(seed))} == set(QuestionType)
    )


async def test_a_whole_quiz_answered_by_typing_letters_and_labels(short_bot: LocalBot, clock: SettableClock) -> None:
    flow = short_bot.app.registry.flows["quiz"]
    assert isinstance(flow, QuizFlow)
    flow.rng = random.Random(every_type(6))
    chat = await short_bot.bind("E102")
    await chat.send("/quiz")
    await chat.send(chat.t("quiz/btn_start"))  # the start button's label, typed
    async with short_bot.app.db.sessions() as s:
        attempt = await s.scalar(select(QuizAttempt).order_by(QuizAttempt.id.desc()).limit(1))
    assert attempt is not None and attempt.status == "open"
    types = set()
    for index in range(len(attempt.paper)):
        item = attempt.paper[index]
        question = BANK.by_id(item["q"])
        types.add(question.type)
        right = [p for p, original in enumerate(item["o"]) if original in question.answer]
        clock.advance(seconds=10)
        if question.type is QuestionType.TRUEFALSE:
            await chat.send(question.options[item["o"][right[0]]])  # 正确 / 错误, as labelled
        elif question.type is QuestionType.SINGLE:
            await chat.send(chr(ord("a") + right[0]))  # the letter, in lower case
        else:
            for position in right:
                await chat.send(chr(ord("A") + position))
            await chat.send(str(len(question.options) + 1))  # 提交 is numbered after the options
    async with short_bot.app.db.sessions() as s:
        graded = await quiz.get(s, attempt.id)
    assert graded is not None and (graded.status, graded.score, graded.passed) == ("finished", 100, True)
    assert types == set(QuestionType)


async def test_a_conversation_waiting_for_text_gets_the_text(bot: LocalBot) -> None:
    chat = await bot.bind("E102")
    await chat.send("/profile")
    await chat.press(chat.t("profile/btn_wrong"))
    assert (await conversation(bot.app, "E102")) is not None
    # Asked for a note, with no buttons on offer: "1" is the note, not a button.
    await chat.send("1")
    assert chat.last["text"] == chat.t("profile/confirm_note", note="1")


async def test_a_standalone_button_outside_a_conversation_is_typed_too(bot: LocalBot, clock: SettableClock) -> None:
    officer = await bot.bind("E001")
    reader = await bot.bind("E102")
    await officer.send("/broadcast")
    await officer.send("请各科室于本周五前完成保密自查。")
    await officer.send("基础教育科")  # the audience button, typed
    await officer.send(officer.t("broadcast/btn_next"))
    await officer.send(officer.t("broadcast/btn_ack_days", days=1))
    await officer.send("1")  # 发送
    assert officer.t("broadcast/submitted", id=1, recipients=3) in [m["text"] for m in officer.bot_messages]
    # The reader says something else first: the notice is still among the latest messages, and 已阅 is typed.
    assert (await reader.send("你好"))["text"].startswith(reader.t("core/not_understood", count=0).split("。")[0])
    await reader.send(reader.t("broadcast/btn_ack"))
    async with bot.app.db.sessions() as s:
        staff_id = await s.scalar(select(Staff.id).where(Staff.employee_id == "E102"))
        acked = await s.scalar(select(BroadcastRecipient.acked_at).where(BroadcastRecipient.staff_id == staff_id))
    assert acked == clock.now()


# --- on Telegram ------------------------------------------------------------------------------------------------
async def test_typed_numbers_work_on_telegram_too(api: FakeBotApi, app: BaomiApp) -> None:
    chat = await bind(api, app, "E102", 902)
    await chat.send("/language")
    assert (await chat.send("2"))["text"] == app.texts.render("core/language_set", "en", language="English")


async def test_a_typed_answer_to_an_anonymous_action_keeps_the_person_out_of_the_log(
    bot: LocalBot, caplog: pytest.LogCaptureFixture
) -> None:
    officer, reporter = await bot.bind("E001"), await bot.bind("E003")
    await file_report(reporter, kind="others", place="会议室", carrier="talk", name="hide")
    case = await case_info(bot.app, "BM-2026-0001")
    await officer.press(lb(officer, "btn.view"), alerts(officer, case.number)[0])
    await officer.press(lb(officer, "btn.contact"))
    await officer.send("请问当时是否已经制止？")
    caplog.set_level(logging.INFO, logger="baomi")
    caplog.clear()
    await reporter.send(lb(reporter, "btn.reply"))  # 回复, typed: the reporter's client shows no buttons
    assert (await reporter.send("已当场制止"))["text"] == reporter.t("report/reply_sent", case=case)
    reporter_id = await bot.staff_id("E003")
    lines = [r.getMessage() for r in caplog.records]
    assert any("press lkr:reply in an anonymous flow" in line for line in lines)
    assert not [line for line in lines if re.search(rf"staff {reporter_id}\b", line)]
