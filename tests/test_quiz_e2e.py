"""The training quiz end to end: the real Application against the fake Bot API, on SQLite and PostgreSQL.

The tests know the answers (they read the bank through the stored paper); the bot's buttons must not."""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from bot.app import BaomiApp
from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.db.models import AuditLog, Staff
from bot.db.models_quiz import QuizAnswer, QuizAttempt
from bot.db.session import Database
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import Bank, Question, QuestionType, draw_paper, load_bank
from bot.handlers.quiz.flows import QuizFlow
from bot.services import people
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import TZ, import_example_roster
from tests.fakes import harness
from tests.fakes.harness import bind, running_bot
from tests.fakes.local import Chat, LocalBot, Message, local_bot

BANK = load_bank(quiz.BANK_PATH)
OFFICER, HEAD, STAFF, STAFF2 = "E001", "E101", "E102", "E103"
THINKING = 10  # seconds per question: well above the speed flag's minimum


@pytest.fixture
async def short_bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    """Five questions a paper, for the tests about what happens around a paper rather than in it."""
    await import_example_roster(db, clock)
    async with local_bot(db_url, clock, Policy(quiz_questions=5)) as bot:
        yield bot


# --- helpers --------------------------------------------------------------------------------------------
async def latest_attempt(app: BaomiApp, employee_id: str) -> QuizAttempt:
    async with app.db.sessions() as s:
        row = await s.scalar(
            select(QuizAttempt)
            .join(Staff, Staff.id == QuizAttempt.staff_id)
            .where(Staff.employee_id == employee_id)
            .order_by(QuizAttempt.id.desc())
            .limit(1)
        )
    assert row is not None
    return row


async def answers_of(app: BaomiApp, attempt_id: int) -> list[QuizAnswer]:
    async with app.db.sessions() as s:
        return list(
            (
                await s.scalars(
                    select(QuizAnswer).where(QuizAnswer.attempt_id == attempt_id).order_by(QuizAnswer.position)
                )
            ).all()
        )


def question_at(attempt: QuizAttempt, index: int) -> tuple[Question, list[int]]:
    """The question and the displayed positions of its right options (what the test knows, not the bot)."""
    item = attempt.paper[index]
    question = BANK.by_id(item["q"])
    return question, [p for p, original in enumerate(item["o"]) if original in question.answer]


def option_data(chat: Chat, message: Message) -> dict[tuple[str, int, int], str]:
    """(action, question index, displayed position) -> callback data, for the option buttons of a message."""
    found = {}
    for _, data in chat.buttons(message):
        prefix, _version, action, *args = data.split(":")
        if prefix == "qz" and action in ("a", "t"):
            found[(action, int(args[0]), int(args[1]))] = data
    return found


async def press_data(chat: Chat, data: str, message: Message | None = None) -> Message:
    await chat.tap(data, message)
    await chat.settle()
    return chat.last


async def answer(chat: Chat, attempt: QuizAttempt, index: int, *, right: bool) -> Message:
    """Answers the question on screen, rightly or wrongly, through its buttons."""
    question, right_positions = question_at(attempt, index)
    message = chat.last_with_buttons
    data = option_data(chat, message)
    if question.type is QuestionType.MULTIPLE:
        # Wrong: only one of the two or more right options.
        for position in right_positions if right else right_positions[:1]:
            message = await press_data(chat, data_for(chat, "t", index, position))
        submit = dict(chat.buttons(message))[chat.t("quiz/btn_submit")]
        return await press_data(chat, submit)
    positions = right_positions if right else [p for p in range(len(question.options)) if p not in right_positions]
    return await press_data(chat, data[("a", index, positions[0])])


def data_for(chat: Chat, action: str, index: int, position: int) -> str:
    return option_data(chat, chat.last_with_buttons)[(action, index, position)]


async def start_paper(chat: Chat, app: BaomiApp, employee_id: str) -> QuizAttempt:
    await chat.send("/quiz")
    await chat.press(chat.t("quiz/btn_start"))
    return await latest_attempt(app, employee_id)


def seed_where(first: QuestionType, bank: Bank = BANK, count: int = 20) -> int:
    """A seed whose draw puts a question of this type first."""
    return next(
        s for s in range(1000) if bank.by_id(draw_paper(bank, count, random.Random(s))[0].question_id).type is first
    )


def use_seed(app: BaomiApp, seed: int) -> None:
    flow = app.registry.flows["quiz"]
    assert isinstance(flow, QuizFlow)
    flow.rng = random.Random(seed)


# --- a whole paper --------------------------------------------------------------------------------------
async def test_full_passing_paper_certificate_status_team_and_verify(
    bot: LocalBot, clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> None:
    head = await bot.bind(HEAD)
    chat = await bot.bind(STAFF)
    intro = await chat.send("/quiz")
    assert intro["text"] == chat.t("quiz/intro", count=20, minutes=20, pass_mark=80, excellent_mark=95)
    await chat.press(chat.t("quiz/btn_start"))
    attempt = await latest_attempt(bot.app, STAFF)
    assert attempt.status == "open" and len(attempt.paper) == 20
    assert len({item["q"] for item in attempt.paper}) == 20
    assert len({BANK.by_id(item["q"]).topic for item in attempt.paper}) == len(BANK.topics)  # balanced over topics
    for index in range(20):
        question, _ = question_at(attempt, index)
        shown = chat.last_with_buttons
        assert shown["text"].startswith(f"第 {index + 1}/20 题") and question.text in shown["text"]
        # The payloads name the question's place and the displayed position only: the same for any answer key.
        action = "t" if question.type is QuestionType.MULTIPLE else "a"
        assert sorted(option_data(chat, shown)) == [(action, index, p) for p in range(len(question.options))]
        clock.advance(seconds=THINKING)
        await answer(chat, attempt, index, right=True)

    attempt = await latest_attempt(bot.app, STAFF)
    assert (attempt.status, attempt.correct, attempt.score, attempt.passed, attempt.review) == (
        "finished",
        20,
        100,
        True,
        None,
    )
    assert attempt.certificate_code and len(attempt.certificate_code) == 12
    stored = await answers_of(bot.app, attempt.id)
    assert [a.position for a in stored] == list(range(20)) and all(a.is_correct for a in stored)
    graded = await _attempt(bot.app, attempt.id)
    result, certificate = chat.bot_messages[-2:]
    assert result["text"] == chat.t(
        "quiz/result",
        attempt=graded,
        outcome="excellent",
        seconds=200,
        pass_mark=80,
        retake_at=clock.now() + timedelta(minutes=10),
    )
    assert certificate["text"] == chat.t(
        "quiz/certificate", bureau="教育局", holder="陈静", department="基础教育科", attempt=graded, outcome="excellent"
    )
    assert attempt.certificate_code in certificate["text"] and "陈静" in certificate["text"]

    status = (await chat.send("/status"))["text"]
    assert f"✅ 已通过：100 分（优秀），2026年3月2日，证书验证码 {attempt.certificate_code}" in status
    # /quiz after a pass says so, even within the retake cooldown.
    again = (await chat.send("/quiz"))["text"]
    assert again == chat.t("quiz/already_passed", attempt=graded, outcome="excellent")
    team = (await head.send("/team"))["text"]
    assert "答卷：1/3（33%）" in team and "未通过答卷（2）：刘洋、杨帆*" in team

    settings = bot.app.settings
    assert await run_command(settings, ["quiz", "verify", attempt.certificate_code.lower()]) == 0
    assert "证书有效: 陈静（工号 E102，基础教育科）" in capsys.readouterr().out
    assert await run_command(settings, ["quiz", "verify", "ZZZZZZZZZZZZ"]) == 1
    assert "无效" in capsys.readouterr().out


async def _attempt(app: BaomiApp, attempt_id: int) -> quiz.Attempt:
    async with app.db.sessions() as s:
        found = await quiz.get(s, attempt_id)
    assert found is not None
    return found


async def test_failing_paper_explains_only_the_missed_then_stats_export_cooldown_and_fresh_draw(
    bot: LocalBot, clock: SettableClock, tmp_path: Path
) -> None:
    officer = await bot.bind(OFFICER)
    chat = await bot.bind(STAFF)
    attempt = await start_paper(chat, bot.app, STAFF)
    wrong = {0, 3, 7, 11, 19}
    for index in range(20):
        clock.advance(seconds=THINKING)
        await answer(chat, attempt, index, right=index not in wrong)
    attempt = await latest_attempt(bot.app, STAFF)
    assert (attempt.correct, attempt.score, attempt.passed, attempt.certificate_code) == (15, 75, False, None)
    assert [a.position for a in await answers_of(bot.app, attempt.id) if not a.is_correct] == sorted(wrong)

    graded = await _attempt(bot.app, attempt.id)
    retake = clock.now() + timedelta(minutes=10)
    texts = [m["text"] for m in chat.bot_messages]
    result_at = texts.index(
        chat.t("quiz/result", attempt=graded, outcome="failed", seconds=200, pass_mark=80, retake_at=retake)
    )
    # One message, one line per missed question: what was chosen and what was right, as lettered on the paper.
    [explained] = texts[result_at + 1 :]
    assert explained.startswith(chat.t("quiz/missed_header", count=5, page=1, pages=1, items=[]).splitlines()[0])
    assert len(explained.splitlines()) <= 10
    for index in range(20):
        question, _ = question_at(attempt, index)
        line = [ln for ln in explained.splitlines() if ln.startswith(f"第 {index + 1} 题 ")]
        assert bool(line) == (index in wrong)
        if line:
            drawn = attempt.paper[index]["o"]
            right = "".join(chr(65 + p) for p, o in enumerate(drawn) if o in question.answer)
            assert line[0].endswith(f"，正确 {right}") if question.type.value != "truefalse" else "正确" in line[0]

    # The office sees the missed questions and gets the year's workbook.
    stats = await officer.send("/quizstats")
    assert stats.file is not None and stats["text"] == officer.t("quiz/export_caption", year=2026)
    text = officer.bot_messages[-2]["text"]
    assert text.startswith("【保密知识答卷统计 · 2026 年度】共 1 份答卷，待审核 0 份")
    first_missed, _ = question_at(attempt, 0)
    assert f"【{first_missed.topic}】错误率 100%（1/1）{first_missed.text}" in text
    assert text.count("错误率 100%") == 5
    book = load_workbook(io.BytesIO(stats.file[1]))
    papers, missed = book.worksheets
    assert [c.value for c in papers[2]][:3] == ["E102", "陈静", "基础教育科"] and papers[2][8].value == 75
    assert missed.max_row == 6

    # The same from the command line, as a workbook and as CSV.
    settings = Settings(database_url=bot.app.settings.database_url, timezone=TZ)
    assert await run_command(settings, ["export", "quiz", "--year", "2026", "--out", str(tmp_path / "q.xlsx")]) == 0
    assert await run_command(settings, ["export", "quiz", "--year", "2026", "--out", str(tmp_path / "q.csv")]) == 0
    papers, missed = load_workbook(tmp_path / "q.xlsx").worksheets
    assert [c.value for c in papers[1]] == chat.t("quiz/export_columns", sheet="papers").split("|")
    assert [c.value for c in papers[2]][:3] + [c.value for c in papers[2]][6:10] == [
        "E102",
        "陈静",
        "基础教育科",
        15,
        20,
        75,
        "不合格",
    ]
    rows = {row[0].value: [c.value for c in row] for row in missed.iter_rows(min_row=2)}
    assert rows[first_missed.id] == [first_missed.id, first_missed.topic, first_missed.text, 1, 1, 100]
    assert (await run_command(settings, ["export", "quiz", "--year", "2025", "--out", str(tmp_path / "none.csv")])) == 0
    lines = (tmp_path / "q.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 2 and lines[1].startswith("E102,陈静,基础教育科,")
    assert len((tmp_path / "none.csv").read_text(encoding="utf-8-sig").splitlines()) == 1

    # A retake waits for the cooldown, then draws questions not seen before.
    assert (await chat.send("/quiz"))["text"] == chat.t("quiz/cooldown", at=retake)
    clock.advance(minutes=10)
    second = await start_paper(chat, bot.app, STAFF)
    assert second.id != attempt.id
    assert not {i["q"] for i in second.paper} & {i["q"] for i in attempt.paper}


# --- buttons --------------------------------------------------------------------------------------------
async def test_multiple_choice_toggles_and_submits(bot: LocalBot, clock: SettableClock) -> None:
    use_seed(bot.app, seed_where(QuestionType.MULTIPLE))
    chat = await bot.bind(STAFF)
    attempt = await start_paper(chat, bot.app, STAFF)
    question, right = question_at(attempt, 0)
    wrong = next(p for p in range(len(question.options)) if p not in right)

    # Submitting nothing is refused with a notice and records nothing.
    submit = dict(chat.buttons(chat.last_with_buttons))[chat.t("quiz/btn_submit")]
    query = await chat.tap(submit)
    await bot.settle()
    assert chat.answer(query) == chat.t("quiz/pick_first")
    assert await answers_of(bot.app, attempt.id) == []

    # Tick a wrong one, untick it, tick the right ones: the message shows the ticks in place.
    message_id = chat.last_with_buttons["message_id"]
    await press_data(chat, data_for(chat, "t", 0, wrong))
    ticked = [label for label in chat.labels(chat.last_with_buttons) if label.startswith("✓ ")]
    assert ticked == [f"✓ {chr(65 + wrong)}. {question.options[attempt.paper[0]['o'][wrong]]}"]
    await press_data(chat, data_for(chat, "t", 0, wrong))
    assert not [label for label in chat.labels(chat.last_with_buttons) if label.startswith("✓ ")]
    for position in right:
        await press_data(chat, data_for(chat, "t", 0, position))
    assert chat.last_with_buttons["message_id"] == message_id
    assert f"已选：{'、'.join(chr(65 + p) for p in right)}" in chat.last_with_buttons["text"]
    await press_data(chat, dict(chat.buttons(chat.last_with_buttons))[chat.t("quiz/btn_submit")])
    stored = await answers_of(bot.app, attempt.id)
    assert [(a.position, a.chosen, a.is_correct) for a in stored] == [(0, right, True)]
    assert chat.last_with_buttons["text"].startswith("第 2/20 题")


async def test_stale_and_double_presses_never_corrupt_the_paper(bot: LocalBot, clock: SettableClock) -> None:
    use_seed(bot.app, seed_where(QuestionType.SINGLE))
    chat = await bot.bind(STAFF)
    intro = await chat.send("/quiz")
    start = dict(chat.buttons(intro))[chat.t("quiz/btn_start")]
    # A double tap on 开始答题 starts one paper.
    await chat.tap(start, intro)
    second_start = await chat.tap(start, intro)
    await bot.settle()
    assert chat.answer(second_start) == chat.t("core/stale_button")
    async with bot.app.db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(QuizAttempt)) == 1
    attempt = await latest_attempt(bot.app, STAFF)
    question, right = question_at(attempt, 0)
    wrong = next(p for p in range(len(question.options)) if p not in right)

    # A double tap (right, then wrong before the first is answered) records only the first.
    shown = chat.last_with_buttons
    data = option_data(chat, shown)
    await chat.tap(data[("a", 0, right[0])], shown)
    late = await chat.tap(data[("a", 0, wrong)], shown)
    await bot.settle()
    assert chat.answer(late) == chat.t("core/stale_button")
    assert [(a.position, a.chosen, a.is_correct) for a in await answers_of(bot.app, attempt.id)] == [(0, right, True)]

    # Typed text repeats the question as a new message; the buttons of the old one are then dead.
    old = chat.last_with_buttons
    assert old["text"].startswith("第 2/20 题")
    await chat.send("B")
    assert chat.bot_messages[-2]["text"] == chat.t("quiz/use_buttons")
    assert chat.last_with_buttons["message_id"] != old["message_id"]
    old_data = next(iter(option_data(chat, old).values()))
    query = await chat.tap(old_data, old)
    await bot.settle()
    assert chat.answer(query) == chat.t("core/stale_button")
    assert len(await answers_of(bot.app, attempt.id)) == 1
    # /quiz in the middle of a paper resumes it (the same paper, the same clock), never draws a new one.
    resumed = await chat.send("/quiz")
    assert resumed["text"].startswith("第 2/20 题") and (await latest_attempt(bot.app, STAFF)).id == attempt.id


# --- time -----------------------------------------------------------------------------------------------
async def test_expiry_refuses_late_answers_and_the_sweep_closes_abandoned_papers(
    short_bot: LocalBot, clock: SettableClock
) -> None:
    app = short_bot.app
    chat = await short_bot.bind(STAFF)
    walker = await short_bot.bind(STAFF2)
    attempt = await start_paper(chat, app, STAFF)
    abandoned = await start_paper(walker, app, STAFF2)
    for index in range(2):
        clock.advance(seconds=THINKING)
        await answer(chat, attempt, index, right=True)
    clock.advance(minutes=20)
    shown = chat.last_with_buttons
    await press_data(chat, next(iter(option_data(chat, shown).values())))  # any option: the time is up
    late = chat.message(shown["message_id"])
    retake = attempt.deadline_at + timedelta(minutes=10)
    closed = await _attempt(app, attempt.id)
    assert late is not None and late["text"] == chat.t("quiz/expired", attempt=closed, minutes=20, retake_at=retake)
    assert (closed.status, closed.correct, closed.passed, closed.finished_at) == (
        "expired",
        2,
        False,
        attempt.deadline_at,
    )
    assert len(await answers_of(app, attempt.id)) == 2  # the late answer is not recorded

    # Nobody came back for the other paper: the sweep closes it, and /status says so.
    assert (await _attempt(app, abandoned.id)).status == "open"
    question_message = walker.last_with_buttons
    done = await app.jobs.run_all(sweeps=[s for s in app.jobs.sweeps if s.name == "quiz_expiry"])
    await short_bot.settle()
    assert done == {"quiz_expiry": 1}
    assert (await _attempt(app, abandoned.id)).status == "expired"
    status = (await walker.send("/status"))["text"]
    assert "最近一次：0 分（超时未完成）。请发送 /quiz 重新答题。" in status
    await press_data(walker, next(iter(option_data(walker, question_message).values())), question_message)
    closed_message = walker.message(question_message["message_id"])
    assert closed_message is not None and closed_message["text"] == walker.t("quiz/closed")
    assert len(await answers_of(app, abandoned.id)) == 0


async def test_a_paper_in_progress_survives_a_restart(
    api: FakeBotApi, db_url: str, db: Database, clock: SettableClock
) -> None:
    """On the fake Bot API: the chat outlives the process."""
    await import_example_roster(db, clock)
    async with running_bot(api, db_url, clock) as app:
        chat = await bind(api, app, STAFF, 751)
        attempt = await start_paper(chat, app, STAFF)
        for index in range(3):
            clock.advance(seconds=THINKING)
            await answer(chat, attempt, index, right=True)
    async with running_bot(api, db_url, clock) as app:
        chat = harness.Chat(api, app, 751)
        clock.advance(seconds=THINKING)
        after = await answer(chat, attempt, 3, right=False)
        assert after["text"].startswith("第 5/20 题")
        stored = await answers_of(app, attempt.id)
        assert [(a.position, a.is_correct) for a in stored] == [(0, True), (1, True), (2, True), (3, False)]


# --- resistance to gaming -------------------------------------------------------------------------------
async def test_a_too_fast_paper_waits_for_an_officer(
    short_bot: LocalBot, clock: SettableClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = short_bot.app
    officer = await short_bot.bind(OFFICER)
    fast = await short_bot.bind(STAFF)
    faster = await short_bot.bind(STAFF2)
    papers = {}
    for chat, employee_id in ((fast, STAFF), (faster, STAFF2)):
        attempt = await start_paper(chat, app, employee_id)
        for index in range(5):
            clock.advance(seconds=1)  # an auto-clicker: under 3 s a question
            await answer(chat, attempt, index, right=True)
        papers[chat.user] = attempt
        flagged = await _attempt(app, attempt.id)
        assert (flagged.review, flagged.passed, flagged.certificate_code) == ("pending", True, None)
        retake = clock.now() + timedelta(minutes=10)
        assert chat.last["text"] == chat.t(
            "quiz/result", attempt=flagged, outcome="pending", seconds=5, pass_mark=80, retake_at=retake
        )
    status = (await fast.send("/status"))["text"]
    assert "最近一次：100 分（待保密办审核）。等待保密办审核。" in status and "已通过" not in status

    requests = [m for m in officer.bot_messages if m["text"].startswith("【答卷用时异常，待审核】")]
    assert len(requests) == 2 and all(officer.labels(m) == ["接受", "驳回"] for m in requests)
    assert "陈静" in requests[0]["text"] and "杨帆" in requests[1]["text"]
    stats = await officer.send("/quizstats")
    assert "待审核 2 份" in officer.bot_messages[-2]["text"] and stats.file is not None

    await officer.press("接受", requests[0])
    done = officer.message(requests[0]["message_id"])
    assert done is not None
    async with app.db.sessions() as s:
        person = await people.by_employee_id(s, STAFF)
    accepted = await _attempt(app, papers[fast.user].id)
    assert done["text"] == officer.t("quiz/review_done", person=person, attempt=accepted, accepted=True)
    assert officer.labels(done) == []  # the notice loses its buttons once decided
    await officer.press("驳回", requests[1])
    accepted = await _attempt(app, papers[fast.user].id)
    rejected = await _attempt(app, papers[faster.user].id)
    assert (accepted.review, accepted.counts) == ("accepted", True) and accepted.certificate_code
    assert (rejected.review, rejected.counts, rejected.certificate_code) == ("rejected", False, None)
    assert fast.bot_messages[-2]["text"] == fast.t("quiz/reviewed", attempt=accepted, accepted=True)
    assert accepted.certificate_code in fast.last["text"]
    assert faster.last["text"] == faster.t("quiz/reviewed", attempt=rejected, accepted=False)
    async with app.db.sessions() as s:
        actions = (await s.scalars(select(AuditLog.action).where(AuditLog.action.like("quiz.%")))).all()
    assert sorted(actions) == ["quiz.accept", "quiz.reject"]
    assert await run_command(app.settings, ["quiz", "verify", accepted.certificate_code]) == 0
    assert "100 分" in capsys.readouterr().out


async def test_cancel_during_a_paper_warns_that_its_clock_keeps_running(bot: LocalBot, clock: SettableClock) -> None:
    chat = await bot.bind(STAFF)
    attempt = await start_paper(chat, bot.app, STAFF)
    clock.advance(seconds=THINKING)
    await answer(chat, attempt, 0, right=True)
    clock.advance(minutes=5)
    said = (await chat.send("/cancel"))["text"]
    open_paper = await _attempt(bot.app, attempt.id)
    note = chat.t("quiz/cancel_note", attempt=open_paper, answered=1, minutes_left=15)
    assert said == chat.t("core/cancelled", note=note) and "15" in said
    # The paper is still open and /quiz goes on with it.
    assert open_paper.status == "open"
    resumed = await chat.send("/quiz")
    assert resumed["text"].startswith("第 2/") or "2/20" in resumed["text"]
    # Leaving another conversation says nothing of the quiz.
    await chat.send("/profile")
    assert (await chat.send("/cancel"))["text"] == chat.t("core/cancelled")


async def test_true_false_buttons_follow_the_persons_language(bot: LocalBot) -> None:
    use_seed(bot.app, seed_where(QuestionType.TRUEFALSE))
    chat = await bot.bind(STAFF, locale="en")
    await chat.send("/language")
    await chat.press("English")
    await chat.send("/quiz")
    await chat.press(chat.t("quiz/btn_start"))
    assert chat.labels(chat.last_with_buttons) == ["True", "False"]
