"""信息发布保密审查 over the real channels: a request returned, resubmitted and approved by WeCom members through
encrypted callbacks to `baomi serve` and the fake WeCom API; an exam item approved by the head, the office and the
分管领导 through python-telegram-bot and the fake Bot API. Each checks what the channel delivered and what the
database holds afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.app import BaomiApp
from bot.clock import SettableClock
from bot.db.models import AuditLog, OutboxMessage
from bot.db.session import Database
from bot.handlers.review import service as review
from bot.handlers.review.notices import summary
from bot.handlers.review.rules import Decision, Stage, Status
from bot.handlers.review.service import RequestInfo
from bot.server import Server
from bot.testing.fake_bot_api import FakeBotApi
from bot.testing.fake_wecom import FakeWeCom, Message, WeComChat, words
from tests.fakes.harness import Chat, bind, running_bot
from tests.test_review_e2e import import_roster_with_leader

WECOM_IDS = {"E001": "WangJianGuo", "E101": "liuyang", "E102": "chenjing"}


@pytest.fixture
def wecom_ids() -> dict[str, str]:
    return WECOM_IDS


async def request_info(db: Database, request_id: int = 1) -> RequestInfo:
    async with db.sessions() as s:
        found = await review.get(s, request_id)
    assert found is not None
    return found


def to_review_text(chat: WeComChat | Chat, request: RequestInfo) -> str:
    return chat.t(
        "review/to_review",
        request=request,
        stage=chat.t("review/label", key=f"stage.{request.stage}"),
        summary=summary(chat.texts, "zh", request.draft, request),
        limit=2,
        waited=None,
    )


def card_after(chat: WeComChat, text: str) -> Message:
    """The card that came with the text message `text` (the latest such)."""
    at = max(i for i, m in enumerate(chat.messages) if m.msgtype == "text" and words(m.text) == text)
    card = chat.messages[at + 1]
    assert card.msgtype == "template_card"
    return card


# --- WeCom ---------------------------------------------------------------------------------------------------------
async def test_returned_resubmitted_and_approved_on_wecom(fake: FakeWeCom, server: Server, db: Database) -> None:
    app = server.app
    officer, head, staff = (WeComChat(fake, app, user) for user in ("WangJianGuo", "liuyang", "chenjing"))
    for chat in (officer, head):
        await chat.send("/cancel")  # bound at their first message
    staff_texts = staff.texts

    def lb(key: str) -> str:
        return staff_texts.render("review/label", "zh", key=key)

    opening = await staff.send("送审")  # the alias, typed as WeCom users do
    said = [words(text) for text in staff.said]  # a question's text ends with its options, numbered
    assert opening.msgtype == "template_card" and staff.t("review/ask_channel", opening=True) in said
    await staff.press(lb("channel.wechat"))
    await staff.send("教育局公众号：春季开学安全提示")
    await staff.press(lb("kind.notice"))
    await staff.press(lb("btn.today"))
    preview = await staff.send("OA-2026-0320")
    assert preview.labels[0] == lb("btn.submit")
    await staff.press(lb("btn.submit"))
    assert preview.disabled == "✓ " + lb("btn.submit")

    request = await request_info(db)
    notice = to_review_text(head, request)
    assert [words(text) for text in head.said].count(notice) == 1
    card = card_after(head, notice)
    assert card.labels == [lb("btn.approve"), lb("btn.return"), lb("btn.refuse")]
    # 退回修改 with a typed reason: the card is greyed with the choice, the submitter gets the reason and buttons.
    await head.press(lb("btn.return"), card)
    assert card.disabled == "✓ " + lb("btn.return")
    await head.send("请补充发布责任人")
    request = await request_info(db)
    assert request.status is Status.RETURNED
    assert any("理由：请补充发布责任人" in text for text in staff.said)
    assert staff.last_card.labels == [lb("btn.edit"), lb("btn.withdraw")]
    await staff.press(lb("btn.edit"))
    await staff.press(lb("btn.resubmit"))

    request = await request_info(db)
    assert request.round == 2 and request.stage is Stage.HEAD
    await head.press(lb("btn.approve"), card_after(head, to_review_text(head, request)))
    request = await request_info(db)
    await officer.press(lb("btn.approve"), card_after(officer, to_review_text(officer, request)))

    request = await request_info(db)
    assert request.status is Status.APPROVED and request.number == "SC-2026-0001"
    assert any("审查单编号：SC-2026-0001" in text for text in staff.said)
    assert [(d.round, d.stage, d.decision) for d in request.decisions] == [
        (1, Stage.HEAD, Decision.RETURN),
        (2, Stage.HEAD, Decision.APPROVE),
        (2, Stage.OFFICE, Decision.APPROVE),
    ]
    async with db.sessions() as s:
        rows = (await s.scalars(select(OutboxMessage).where(OutboxMessage.channel == "wecom"))).all()
        actions = (await s.scalars(select(AuditLog.action).where(AuditLog.action.like("review.%")))).all()
    assert {row.status for row in rows} == {"sent"}
    assert actions == ["review.submit", "review.return", "review.resubmit", "review.approve", "review.approve",
                       "review.approved"]  # fmt: skip
    for chat in (officer, head, staff):  # everything said at length is a protected text
        assert all(m.msgtype != "text" or m.safe == 1 for m in chat.messages)
    assert not any(fake.dropped.values())


# --- Telegram ------------------------------------------------------------------------------------------------------
@pytest.fixture
async def app(api: FakeBotApi, db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[BaomiApp]:
    await import_roster_with_leader(db, clock)
    async with running_bot(api, db_url, clock) as found:
        found.jobs.sweeps = [s for s in found.jobs.sweeps if s.name == "review_clock"]
        yield found


async def test_an_exam_item_approved_through_the_chain_on_telegram(api: FakeBotApi, app: BaomiApp) -> None:
    officer = await bind(api, app, "E002", 901)
    leader = await bind(api, app, "E401", 902)
    head = await bind(api, app, "E201", 903)
    staff = await bind(api, app, "E204", 904)  # 吴敏, 考试院

    def lb(key: str) -> str:
        return staff.t("review/label", key=key)

    await staff.send("/review")
    await staff.press(lb("channel.website"))
    await staff.send("2026年普通高中招生工作实施方案解读")
    await staff.press(lb("kind.exam"))
    await staff.send("2026-03-20")
    await staff.send("https://oa.example.edu.cn/doc/7781")
    done = await staff.press(lb("btn.submit"))
    request = await request_info(app.db)
    assert done["text"].startswith("已送审《2026年普通高中招生工作实施方案解读》，现由部门负责人审核")

    for chat in (head, officer, leader):
        request = await request_info(app.db)
        notice = next(m for m in chat.bot_messages if m["text"] == to_review_text(chat, request))
        assert notice.get("has_protected_content") is True
        decided = await chat.press(lb("btn.approve"), notice)
        assert decided["message_id"] == notice["message_id"]  # the notice is edited in place, buttons gone
        assert chat.labels(decided) == []

    request = await request_info(app.db)
    assert request.status is Status.APPROVED and request.number == "SC-2026-0001"
    assert [(d.stage, d.reviewer_name) for d in request.decisions] == [
        (Stage.HEAD, "赵磊"),
        (Stage.OFFICE, "李秀英"),
        (Stage.LEADER, "郑伟"),
    ]
    assert "审查单编号：SC-2026-0001" in staff.last["text"]
    # A second tap on the leader's (edited) notice finds no button: the press is stale and changes nothing.
    async with app.db.sessions() as s:
        assert len((await s.scalars(select(AuditLog).where(AuditLog.action == "review.approved"))).all()) == 1
