"""The duties' flows on WeCom, end to end: the pledge, the quiz, a leak report and a broadcast, each run by WeCom
members through encrypted callbacks to `baomi serve`'s endpoint, answered through the fake WeCom API — the same
flow code as on Telegram. Each test checks what WeCom delivered and what the database holds afterwards."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.app import BaomiApp
from bot.channels.wecom.channel import numbered, read_key
from bot.clock import SettableClock
from bot.db.models import Conversation, OutboxMessage, Staff
from bot.db.models_broadcast import Broadcast, BroadcastRecipient
from bot.db.models_leak import LeakCase, LeakCaseEvent, LeakReporter
from bot.db.models_pledge import PledgeRecord
from bot.db.models_quiz import QuizAnswer, QuizAttempt
from bot.db.session import Database
from bot.handlers.broadcasts.flows import notice_text
from bot.handlers.broadcasts.rules import Tally
from bot.handlers.broadcasts.service import PersonLine
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import summary
from bot.handlers.leak.service import CaseInfo
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.flows import PAGE_CHARS
from bot.handlers.pledges.rules import fingerprint, pages
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import QuestionType, load_bank
from bot.server import Server
from bot.testing.fake_wecom import FakeWeCom, Message, WeComChat, settle, words
from tests.conftest import TZ

BANK = load_bank(quiz.BANK_PATH)
# The roster's WeCom accounts here: both officers, a head, two members of staff (E103 has none: never reachable).
WECOM_IDS = {"E001": "WangJianGuo", "E002": "lixiuying", "E101": "liuyang", "E102": "chenjing", "E201": "zhaolei"}


# Seconds per question: above the speed flag's minimum, and slow enough that two multiple-choice questions with
# every option toggled stay under WeCom's 30 messages a minute to one member (faster, the channel defers replies).
THINKING = 40
TEXT = "请各科室于本周五前完成保密自查，并报保密办。"


@pytest.fixture
def wecom_ids() -> dict[str, str]:
    return WECOM_IDS


@pytest.fixture
def wecom(fake: FakeWeCom, server: Server) -> WeComServer:
    return WeComServer(fake, server.app)


class WeComServer:
    """The running bot and the fake WeCom it talks to; `chat(userid)` is a member of the enterprise."""

    def __init__(self, fake: FakeWeCom, app: BaomiApp) -> None:
        self.fake = fake
        self.app = app

    def chat(self, user: str) -> WeComChat:
        return WeComChat(self.fake, self.app, user)

    async def bound(self, user: str) -> WeComChat:
        """A member who has written to the application once, and so is bound (and reachable)."""
        chat = self.chat(user)
        await chat.send("/cancel")
        assert chat.said[0].startswith("绑定成功")
        return chat


# --- helpers --------------------------------------------------------------------------------------------
async def staff_id(db: Database, employee_id: str) -> int:
    async with db.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


def assert_protected(*chats: WeComChat) -> None:
    """Everything said at length is a text with safe=1 (no forwarding, a watermark); cards hold short titles."""
    for chat in chats:
        assert chat.messages, chat.user
        for m in chat.messages:
            assert m.msgtype in ("text", "template_card"), m
            assert m.msgtype != "text" or m.safe == 1, m
    assert not any(chat.fake.dropped.values()), chat.fake.dropped  # WeCom's per-member limits never met


def text_before(chat: WeComChat, card: Message) -> str:
    """The text said with a card: what the person reads, the card (one of the row's cards, six buttons each)
    asking its question under it. The text ends with the row's options numbered (for clients without cards);
    they are checked against the cards' buttons and left out."""
    row = card.task_id.rsplit("_", 1)[0] + "_"
    at = chat.messages.index(card)
    while at > 0 and chat.messages[at - 1].task_id.startswith(row):
        at -= 1
    assert at > 0 and chat.messages[at - 1].msgtype == "text"
    cards = [m for m in chat.messages[at:] if m.task_id.startswith(row)]
    options = numbered("", [label for c in cards for label in c.labels])
    text = chat.messages[at - 1].text
    assert text.endswith(options), (text, options)
    return words(text)


def card_after(chat: WeComChat, text: str) -> Message:
    """The card that came with the text message `text`."""
    at = next(i for i, m in enumerate(chat.messages) if m.msgtype == "text" and words(m.text) == text)
    card = chat.messages[at + 1]
    assert card.msgtype == "template_card"
    return card


def live_labels(chat: WeComChat) -> set[str]:
    return {label for m in chat.messages if m.disabled is None for label in m.labels}


# --- the pledge -----------------------------------------------------------------------------------------
async def test_pledge_read_agreed_and_signed_on_wecom(wecom: WeComServer, db: Database) -> None:
    chat = wecom.chat("chenjing")

    def w(key: str) -> str:
        return chat.t("pledge/word", key=key)

    # The first message binds the member; classified staff are asked for the onboarding pledge at once.
    await chat.send("/cancel")
    assert chat.said[0].startswith("绑定成功！陈静（基础教育科）")
    prompt = chat.t("pledge/onboarding_prompt", due=date(2026, 5, 1))
    assert prompt in chat.said

    first = await chat.send("/pledge")
    assert first.msgtype == "template_card"
    shown = [text_before(chat, first)]
    while w("next") in chat.last_card.labels:
        page = chat.last_card
        await chat.press(w("next"))
        assert page.disabled == "✓ " + w("next")  # the page turned: its card greyed with the choice
        shown.append(text_before(chat, chat.last_card))
    assert len(shown) > 1
    last_page = chat.last_card
    assert {w("agree"), w("decline")} <= set(last_page.labels)

    assert (await chat.press(w("agree"))).text == chat.t("pledge/ask_name")
    reply = await chat.send("陈 静")

    sid = await staff_id(db, "E102")
    async with db.sessions() as s:
        [row] = (await s.scalars(select(PledgeRecord).where(PledgeRecord.staff_id == sid))).all()
        conv = await s.get(Conversation, sid)
    assert (row.kind, row.outcome, row.version, row.cycle, row.channel) == ("onboarding", "signed", 2, 2026, "wecom")
    assert row.signed_name == "陈静" and "陈静" in row.text and conv is None
    assert row.text_hash == hashlib.sha256(row.text.encode()).hexdigest()
    assert reply.msgtype == "text" and reply.text == chat.t(
        "pledge/receipt", receipt=pledges.receipt_of(row), fresh=True
    )
    assert fingerprint(row.text_hash) in reply.text
    # What was stored and signed is exactly what WeCom showed, page by page.
    bodies = pages(row.text, PAGE_CHARS)
    assert shown == [
        chat.t("pledge/page", page=i + 1, pages=len(bodies), body=b, last=i == len(bodies) - 1)
        for i, b in enumerate(bodies)
    ]
    # Asked again: nothing more to sign, the receipt.
    assert (await chat.send("/pledge")).text == chat.t("pledge/receipt", receipt=pledges.receipt_of(row), fresh=False)
    assert_protected(chat)


# --- the quiz -------------------------------------------------------------------------------------------
def option_buttons(chat: WeComChat, index: int) -> dict[tuple[str, int], tuple[Message, str]]:
    """(action, displayed position) -> (card, label) of the live option buttons of question `index`; the submit
    button of a multiple-choice question as ("s", -1)."""
    found: dict[tuple[str, int], tuple[Message, str]] = {}
    for card in chat.messages:
        if card.msgtype != "template_card" or card.disabled is not None:
            continue
        for label, key in card.buttons:
            data, _ = read_key(key)
            prefix, _version, action, *args = data.split(":")
            if prefix != "qz" or not args or int(args[0]) != index:
                continue
            found[(action, int(args[1]) if len(args) > 1 else -1)] = (card, label)  # the latest card wins
    return found


async def latest_attempt(db: Database, employee_id: str) -> QuizAttempt:
    async with db.sessions() as s:
        row = await s.scalar(
            select(QuizAttempt)
            .join(Staff, Staff.id == QuizAttempt.staff_id)
            .where(Staff.employee_id == employee_id)
            .order_by(QuizAttempt.id.desc())
            .limit(1)
        )
    assert row is not None
    return row


async def test_full_quiz_paper_answered_with_card_buttons(
    wecom: WeComServer, db: Database, clock: SettableClock
) -> None:
    chat = await wecom.bound("chenjing")
    intro = await chat.send("/quiz")
    assert text_before(chat, intro) == chat.t("quiz/intro", count=20, minutes=20, pass_mark=80, excellent_mark=95)
    start = chat.last_card
    await chat.press(chat.t("quiz/btn_start"))
    assert start.disabled == "✓ " + chat.t("quiz/btn_start")
    attempt = await latest_attempt(db, "E102")
    assert attempt.status == "open" and len(attempt.paper) == 20

    for index in range(20):
        item = attempt.paper[index]
        question = BANK.by_id(item["q"])
        right = [p for p, original in enumerate(item["o"]) if original in question.answer]
        shown = text_before(chat, chat.last_card)
        assert shown.startswith(f"第 {index + 1}/20 题") and question.text in shown
        buttons = option_buttons(chat, index)
        clock.advance(seconds=THINKING)
        if question.type is QuestionType.MULTIPLE:
            assert ("s", -1) in buttons and all(("t", p) in buttons for p in range(len(question.options)))
            for position in right:
                card, label = option_buttons(chat, index)[("t", position)]
                await chat.press(label, card)
            assert f"已选：{'、'.join(chr(65 + p) for p in right)}" in text_before(chat, chat.last_card)
            card, label = option_buttons(chat, index)[("s", -1)]
        else:
            assert sorted(buttons) == [("a", p) for p in range(len(question.options))]
            card, label = buttons[("a", right[0])]
        await chat.press(label, card)
        assert card.disabled == f"✓ {label}"  # the answered question's buttons are greyed

    attempt = await latest_attempt(db, "E102")
    assert (attempt.status, attempt.correct, attempt.score, attempt.passed, attempt.review) == (
        "finished",
        20,
        100,
        True,
        None,
    )
    assert attempt.certificate_code and len(attempt.certificate_code) == 12
    async with db.sessions() as s:
        stored = (
            await s.scalars(select(QuizAnswer).where(QuizAnswer.attempt_id == attempt.id).order_by(QuizAnswer.position))
        ).all()
        graded = await quiz.get(s, attempt.id)
    assert [a.position for a in stored] == list(range(20)) and all(a.is_correct for a in stored)
    assert graded is not None
    result = chat.t(
        "quiz/result",
        attempt=graded,
        outcome="excellent",
        seconds=20 * THINKING,
        pass_mark=80,
        retake_at=clock.now() + timedelta(minutes=10),
    )
    certificate = chat.t(
        "quiz/certificate", bureau="教育局", holder="陈静", department="基础教育科", attempt=graded, outcome="excellent"
    )
    assert chat.said[-2:] == [result, certificate] and attempt.certificate_code in chat.last.text
    assert_protected(chat)


# --- a leak report --------------------------------------------------------------------------------------
async def case_info(db: Database, number: str) -> CaseInfo:
    async with db.sessions() as s:
        case_id = await s.scalar(select(LeakCase.id).where(LeakCase.number == number))
        assert case_id is not None, number
        info = await leak.get_case(s, case_id)
    assert info is not None
    return info


async def test_leak_report_filed_and_the_wecom_officers_alerted(
    wecom: WeComServer, db: Database, clock: SettableClock
) -> None:
    officers = [await wecom.bound("WangJianGuo"), await wecom.bound("lixiuying")]
    reporter = wecom.chat("chenjing")

    def lb(key: str) -> str:
        return reporter.t("report/label", key=key)

    opening = await reporter.send("/report")  # the first message: bound, then the first question
    assert reporter.said[0].startswith("绑定成功！陈静")
    assert opening.msgtype == "template_card"
    assert reporter.t("report/ask_kind", opening=True) in (opening.text, text_before(reporter, opening))
    assert live_labels(reporter) >= {lb(f"kind.{k}") for k in leak.Kind}
    assert (await reporter.press(lb("kind.lost"))).text == reporter.t("report/ask_whose")
    assert (await reporter.press(lb("whose.mine"))).text == reporter.t("report/ask_when")
    assert (await reporter.press(lb("when.now"))).text == reporter.t("report/ask_place", limit=50)
    assert (await reporter.send("档案室")).text == reporter.t("report/ask_carrier")
    await reporter.press(lb("carrier.paper"))
    await reporter.press("1")
    await reporter.press(lb("level.secret"))
    ticked = await reporter.press(lb("measure.sealed"))
    assert "✅ " + lb("measure.sealed") in ticked.labels
    await reporter.press(lb("btn.next"))
    await reporter.press(lb("btn.skip"))
    preview = await reporter.press(lb("name.show"))
    assert preview.labels[0] == lb("btn.submit") and "档案室" in text_before(reporter, preview)
    done = await reporter.press(lb("btn.submit"))
    assert preview.disabled == "✓ " + lb("btn.submit")

    case = await case_info(db, "BM-2026-0001")
    assert done.msgtype == "text" and done.text == reporter.t("report/submitted", case=case)
    assert case.status is leak.Status.REPORTED and case.reporter_name == "陈静"
    assert case.report == leak.Report(
        kind=leak.Kind.CARRIER_LOST,
        whose=leak.Whose.MINE,
        discovered=leak.Discovered.NOW,
        discovered_on=date(2026, 3, 2),
        discovered_at=case.reported_at,  # 刚刚: the clocks run from the moment it was reported
        place="档案室",
        carrier=leak.Carrier.PAPER,
        carrier_count=1,
        level=leak.Marked.SECRET,
        measures=(leak.Measure.SEALED,),
    )
    reporter_id = await staff_id(db, "E102")
    async with db.sessions() as s:
        assert await s.scalar(select(LeakReporter.staff_id)) == reporter_id
        assert await s.get(Conversation, reporter_id) is None
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom"))).all()
    assert {row.status for row in rows} == {"sent"}  # every row, the alerts included, went out through WeCom

    # Both officers are reached in WeCom: the alert in a protected text, 受理 / 查看 on the card under it.
    for officer in officers:
        alert = officer.t("cases/alert", case=case, waited=0, summary=summary(officer.texts, "zh", case.report, case))
        assert [words(text) for text in officer.said].count(alert) == 1
        assert card_after(officer, alert).labels == [officer.t("report/label", key=k) for k in ("btn.ack", "btn.view")]

    # An officer accepts the case from the card; the reporter hears of it in WeCom (a minute later: the report's
    # questions, each a text and a card, took the reporter's quota for proactive messages in this one).
    clock.advance(seconds=66)
    first = officers[0]
    await first.press(first.t("report/label", key="btn.ack"))
    case = await case_info(db, case.number)
    assert case.status is leak.Status.ACCEPTED and case.acknowledged_at is not None
    statuses = {loc: reporter.texts.render("report/label", loc, key="status.accepted") for loc in ("zh", "en")}
    assert reporter.last.text == reporter.t("report/status_changed", case=case, statuses=statuses, note=None)
    async with db.sessions() as s:
        events = (await s.scalars(select(LeakCaseEvent).order_by(LeakCaseEvent.id))).all()
    assert [(e.kind, e.actor_staff_id) for e in events] == [
        ("submitted", reporter_id),
        ("acknowledged", await staff_id(db, "E001")),
    ]
    assert_protected(reporter, *officers)


# --- a broadcast ----------------------------------------------------------------------------------------
async def test_broadcast_sent_from_wecom_and_acknowledged_in_wecom(
    wecom: WeComServer, db: Database, clock: SettableClock
) -> None:
    officer = await wecom.bound("WangJianGuo")
    head, reader = await wecom.bound("liuyang"), await wecom.bound("chenjing")
    assert (await officer.send("/broadcast")).text == officer.t("broadcast/ask_text", limit=1500)
    await officer.send(TEXT)
    assert "基础教育科" in live_labels(officer)
    await officer.press("基础教育科")  # E101 and E102 in WeCom; E103 has no account: unreachable
    await officer.press(officer.t("broadcast/btn_next"))
    await officer.press(officer.t("broadcast/btn_ack_days", days=1))
    preview = officer.last_card
    deadline = clock.now().astimezone(TZ).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=1)
    notice = notice_text(wecom.app.texts, "zh", TEXT, "王建国", clock.now(), deadline)
    assert notice in text_before(officer, preview)
    await officer.press(officer.t("broadcast/btn_send"))
    assert preview.disabled == "✓ " + officer.t("broadcast/btn_send")
    assert officer.t("broadcast/submitted", id=1, recipients=3) in officer.said
    missed = [PersonLine(0, "E103", "杨帆", "基础教育科")]
    final = Tally(delivered=2, unreachable=1)
    report = officer.t("broadcast/report", id=1, tally=final, missed=missed, limit=30, ack_required=True)
    # The report is queued by the progress sweep that the dispatcher runs itself once the last row is recorded;
    # settle() can return while that sweep is still running, so wait (event-driven) for WeCom to receive it.
    await wecom.fake.wait_for(lambda fake: report in [m.text for m in fake.messages(officer.user)])
    await settle(wecom.app)
    assert officer.last.text == report

    # Each WeCom recipient reads the notice in a protected text, 已阅 on the card under it.
    ack = reader.t("broadcast/btn_ack")
    for chat in (head, reader):
        assert [words(text) for text in chat.said].count(notice) == 1
        assert card_after(chat, notice).labels == [ack]
    card = card_after(reader, notice)
    await reader.press(ack, card)
    assert card.disabled == "✓ " + ack
    assert reader.t("broadcast/acked", notice=notice, at=clock.now()) in reader.said

    async with db.sessions() as s:
        sent = await s.get(Broadcast, 1)
        recipients = (await s.scalars(select(BroadcastRecipient).order_by(BroadcastRecipient.staff_id))).all()
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.source == "broadcast:1"))).all()
    assert sent is not None and sent.recipients == 3 and sent.finished_at is not None and sent.ack_deadline == deadline
    ids = {e: await staff_id(db, e) for e in ("E101", "E102", "E103")}
    assert [(r.staff_id, r.reachable, r.acked_at is not None) for r in recipients] == [
        (ids["E101"], True, False),
        (ids["E102"], True, True),
        (ids["E103"], False, False),
    ]
    assert sorted((r.channel, r.chat_id, r.status) for r in rows) == [
        ("wecom", "chenjing", "sent"),
        ("wecom", "liuyang", "sent"),
    ]
    assert_protected(officer, head, reader)
