"""WeCom members as a real deployment has them: some on the WeChat plugin (微工作台) or a client older than 3.1.6 that
shows no cards, who answer by typing; an application whose card task ids were used before (a restored database);
members who enter the application, leave its visible range, are renamed or deleted in the directory."""

from __future__ import annotations

import hashlib
import logging
import random
import re

import pytest
from sqlalchemy import delete, func, select, text, update

from bot.channels.wecom.channel import BUTTON_CHARS, TASK_PREFIX, numbered
from bot.clock import SettableClock
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.db.models import AuditLog, Binding, InstallationValue, OutboxMessage, Staff
from bot.db.models_pledge import PledgeRecord
from bot.db.models_quiz import QuizAnswer, QuizAttempt
from bot.db.session import Database
from bot.handlers.pledges import service as pledges
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import QuestionType, draw_paper, load_bank
from bot.handlers.quiz.flows import QuizFlow
from bot.server import Server
from bot.testing.fake_wecom import FakeWeCom, WeComChat, settle

BANK = load_bank(quiz.BANK_PATH)
# A draw whose first question is a multiple-choice one with an option longer than a card button shows.
SEED = next(
    seed
    for seed in range(1000)
    if (q := BANK.by_id(draw_paper(BANK, 20, random.Random(seed))[0].question_id)).type is QuestionType.MULTIPLE
    and any(len(f"A. {option}") > BUTTON_CHARS for option in q.options)
)
WECOM_IDS = {"E001": "WangJianGuo", "E101": "liuyang", "E102": "chenjing"}


@pytest.fixture
def wecom_ids() -> dict[str, str]:
    return WECOM_IDS


def options(said: str) -> list[str]:
    """The options a text ends with, in order: "… [1] 同意  [2] 不同意" -> ["同意", "不同意"]."""
    numbered_options = said.rsplit("\n\n", 1)[-1]
    found = re.findall(r"\[(\d+)\] (.+?)(?=  \[\d+\] |$)", numbered_options)
    assert [int(n) for n, _ in found] == list(range(1, len(found) + 1)), said
    assert numbered("", [label for _, label in found]) == numbered_options
    return [label for _, label in found]


async def staff(db: Database, employee_id: str) -> Staff:
    async with db.sessions() as s:
        found = await s.scalar(select(Staff).where(Staff.employee_id == employee_id))
    assert found is not None
    return found


async def binding(db: Database, staff_id: int) -> Binding:
    async with db.sessions() as s:
        found = await s.scalar(select(Binding).where(Binding.staff_id == staff_id, Binding.channel == "wecom"))
    assert found is not None
    return found


# --- clients without cards -------------------------------------------------------------------------------------
async def test_a_member_whose_client_shows_no_cards_signs_the_pledge_by_typing(
    fake: FakeWeCom, server: Server, db: Database
) -> None:
    fake.card_blind.add("chenjing")  # the WeChat plugin, or WeCom before 3.1.6
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/cancel")
    welcomed = fake.unseen["chenjing"]  # the welcome's to-dos came as a card too

    def w(key: str) -> str:
        return chat.t("pledge/word", key=key)

    page = await chat.send("/pledge")
    # Only texts arrive; each question ends with its options numbered, the cards are never shown.
    assert all(m.msgtype == "text" for m in chat.messages) and fake.unseen["chenjing"] == welcomed + 1
    assert options(page.text) == [w("next")]
    while w("next") in options(page.text):
        page = await chat.send("下一页")  # the label as one would type it, without its arrow
    assert options(page.text) == [w("prev"), w("agree"), w("later"), w("decline")]
    assert (await chat.send("2")).text == chat.t("pledge/ask_name")
    receipt = await chat.send("陈静")
    async with db.sessions() as s:
        [row] = (await s.scalars(select(PledgeRecord))).all()
    assert (row.outcome, row.signed_name, row.channel) == ("signed", "陈静", "wecom")
    assert receipt.text == chat.t("pledge/receipt", receipt=pledges.receipt_of(row), fresh=True)
    assert row.text_hash == hashlib.sha256(row.text.encode()).hexdigest()
    assert fake.unseen["chenjing"] > 1 and fake.dropped["chenjing"] == 0


async def test_a_quiz_question_is_answered_by_its_letters_without_a_card(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    fake.card_blind.add("chenjing")
    flow = server.app.registry.flows["quiz"]
    assert isinstance(flow, QuizFlow)
    flow.rng = random.Random(SEED)  # a multiple-choice question first, with options longer than a button shows
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/quiz")
    first = await chat.send("1")  # 开始答题
    async with db.sessions() as s:
        attempt = await s.scalar(select(QuizAttempt))
    assert attempt is not None and first.text.startswith("第 1/20 题")
    item = attempt.paper[0]
    question = BANK.by_id(item["q"])
    right = [p for p, original in enumerate(item["o"]) if original in question.answer]
    letters = [chr(ord("A") + p) for p in range(len(question.options))]
    assert question.type is QuestionType.MULTIPLE and len(right) > 1
    # The options are in full in the text; the buttons (and so the options line) have their letters alone.
    assert all(f"{x}. {question.options[o]}" in first.text for x, o in zip(letters, item["o"], strict=True))
    assert options(first.text) == [*letters, chat.t("quiz/btn_submit")]
    clock.advance(seconds=30)
    for position in right:
        ticked = await chat.send(letters[position].lower())
        assert f"✓ {letters[position]}" in options(ticked.text)
    await chat.send(chat.t("quiz/btn_submit"))
    assert chat.last.text.startswith("第 2/20 题")
    async with db.sessions() as s:
        [answer] = (await s.scalars(select(QuizAnswer))).all()
    assert answer.is_correct and answer.position == 0


# --- card task ids ---------------------------------------------------------------------------------------------
async def test_task_ids_used_before_a_restore_are_replaced_and_the_log_says_why(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock, caplog: pytest.LogCaptureFixture
) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/language")
    first = chat.last_card
    async with db.sessions() as s:
        prefix = await s.scalar(select(InstallationValue.value).where(InstallationValue.key == TASK_PREFIX))
        last_id = await s.scalar(select(func.max(OutboxMessage.id)))
    assert prefix is not None and first.task_id.startswith(prefix + "_")
    await chat.press("中文")
    # The database is restored to a backup taken before that card: its outbox ids are issued again.
    async with db.transaction() as s:
        await s.execute(delete(OutboxMessage).where(OutboxMessage.id >= last_id))
        if s.get_bind().dialect.name == "postgresql":
            await s.execute(
                text("SELECT setval(pg_get_serial_sequence('outbox_message', 'id'), :v)"), {"v": last_id - 1}
            )
    clock.advance(hours=2)  # beyond WeCom's duplicate check, which would collapse the identical request
    with caplog.at_level(logging.ERROR, logger="baomi.wecom"):
        await chat.send("/language")
    again = chat.last_card
    refused = [c for c in fake.calls("message/send") if c.errcode == 42014]
    assert len(refused) == 1 and refused[0].body["template_card"]["task_id"] == first.task_id
    assert again.task_id != first.task_id and again.labels == ["中文", "English"]
    assert any("42014" in r.getMessage() and "restored" in r.getMessage() for r in caplog.records)
    async with db.sessions() as s:
        renewed = await s.scalar(select(InstallationValue.value).where(InstallationValue.key == TASK_PREFIX))
        statuses = set((await s.scalars(select(OutboxMessage.status))).all())
    assert renewed != prefix and again.task_id.startswith(renewed + "_") and statuses == {"sent"}


# --- what WeCom says about members -----------------------------------------------------------------------------
async def test_entering_the_application_makes_a_member_reachable_again(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    await server.app.jobs.run_all()  # the roster's accounts are bound
    await settle(server.app)
    person = await staff(db, "E101")
    fake.unknown_users.add("liuyang")  # outside the application's visible range
    async with db.transaction() as s:
        await send_to_staff(s, clock.now(), person.id, Reply("通知一"), Priority.BROADCAST, "test")
    server.app.dispatcher.wake()
    await settle(server.app)
    assert (await binding(db, person.id)).unreachable_at is not None
    fake.unknown_users.discard("liuyang")  # the admin adds them to it: WeCom says subscribe

    for event in ("subscribe", "enter_agent"):
        async with db.transaction() as s:
            await s.execute(update(Binding).values(unreachable_at=clock.now()))
        assert await fake.send_event("liuyang", event) == 200
        assert (await binding(db, person.id)).unreachable_at is None, event
    async with db.transaction() as s:
        assert await send_to_staff(s, clock.now(), person.id, Reply("通知二"), Priority.BROADCAST, "test") == 1
    server.app.dispatcher.wake()
    await settle(server.app)
    assert fake.messages("liuyang")[-1].text == "通知二"

    # Removed from the visible range: nothing more is queued for them.
    assert await fake.send_event("liuyang", "unsubscribe") == 200
    assert (await binding(db, person.id)).unreachable_at is not None
    assert await fake.repost() == 200  # WeCom's retry changes nothing
    async with db.transaction() as s:
        assert await send_to_staff(s, clock.now(), person.id, Reply("通知三"), Priority.BROADCAST, "test") == 0


async def test_a_renamed_userid_moves_the_binding_and_what_waits_for_it(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock
) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/profile")  # in a conversation when the directory changes
    person = await staff(db, "E102")
    async with db.transaction() as s:
        await send_to_staff(
            s,
            clock.now(),
            person.id,
            Reply("提醒"),
            Priority.REMINDER,
            "test",
            not_before=clock.now().replace(year=2027),
        )
    assert await fake.change_contact("update_user", "chenjing", new_user="chenjing01") == 200
    moved = await binding(db, person.id)
    assert (moved.channel_user_id, moved.chat_id) == ("chenjing01", "chenjing01")
    assert (await staff(db, "E102")).wecom_userid == "chenjing01"
    async with db.sessions() as s:
        waiting = (await s.scalars(select(OutboxMessage.chat_id).where(OutboxMessage.status == "pending"))).all()
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "binding.rename"))
    assert waiting == ["chenjing01"] and audit is not None
    # The same person under the new id, in the same conversation: no second binding, no second welcome.
    renamed = WeComChat(fake, server.app, "chenjing01")
    await renamed.send("/cancel")
    assert renamed.said == [renamed.t("core/cancelled")]
    async with db.sessions() as s:
        assert await s.scalar(select(func.count(Binding.id)).where(Binding.staff_id == person.id)) == 1


@pytest.mark.parametrize(("change", "status"), [("delete_user", ""), ("update_user", "5"), ("update_user", "2")])
async def test_a_deleted_or_disabled_member_has_the_binding_deactivated(
    fake: FakeWeCom, server: Server, db: Database, clock: SettableClock, change: str, status: str
) -> None:
    chat = WeComChat(fake, server.app, "chenjing")
    await chat.send("/cancel")
    person = await staff(db, "E102")
    assert await fake.change_contact(change, "chenjing", status=status) == 200
    assert (await binding(db, person.id)).unreachable_at is not None
    async with db.sessions() as s:
        audit = await s.scalar(select(AuditLog).where(AuditLog.action == "binding.deactivate"))
    assert audit is not None and audit.subject == f"staff:{person.id}"
    async with db.transaction() as s:
        assert await send_to_staff(s, clock.now(), person.id, Reply("通知"), Priority.BROADCAST, "test") == 0
