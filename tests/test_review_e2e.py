"""信息发布保密审查 end to end on the in-process channel: a request walked through approval, return and resubmission,
and refusal; the guard on every typed field; the clock's reminder and escalation; who sees the ledger; the 登记表,
the 审查单 PDF and the audit chain; the backlog on /dashboard and in the weekly digest."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import BaomiApp
from bot.cli import run_command
from bot.clock import SettableClock
from bot.config import Policy, Settings
from bot.core.events import AttachmentKind
from bot.db.models import AuditLog, Conversation, OutboxMessage, SentLog
from bot.db.models_review import ReviewDecision, ReviewRequest
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import RosterRow
from bot.handlers.compliance.sweeps import WeeklyDigestSweep
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.review import service as review
from bot.handlers.review.notices import summary
from bot.handlers.review.rules import Decision, Stage, Status
from bot.handlers.review.service import RequestInfo
from bot.services import audit
from bot.services.calendar import work_calendar
from bot.services.roster import import_roster, read_roster
from tests.conftest import EXAMPLE_ROSTER, TZ
from tests.fakes.local import Chat, LocalBot, local_bot

# The example roster and one 分管领导 (the leadership is a unit of its own).
LEADER = RosterRow(0, "E401", "郑伟", "局领导", Level.IMPORTANT, frozenset({Role.STAFF, Role.LEADER}))


async def import_roster_with_leader(db: Database, clock: SettableClock) -> None:
    async with db.transaction() as s:
        await import_roster(s, [*read_roster(EXAMPLE_ROSTER), LEADER], clock.now(), TZ)


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    await import_roster_with_leader(db, clock)
    async with local_bot(db_url, clock) as found:
        # Only this capability's sweep: other duties' reminders would interleave with the chats read here.
        found.app.jobs.sweeps = [s for s in found.app.jobs.sweeps if s.name == "review_clock"]
        yield found


def lb(chat: Chat, key: str) -> str:
    return chat.t("review/label", key=key)


async def fill_request(
    chat: Chat,
    *,
    channel: str = "wechat",
    title: str = "关于2026年春季学期开学工作的通知",
    kind: str = "notice",
    day: str = "btn.tomorrow",
    draft: str = "OA-2026-0318",
) -> dict[str, Any]:
    """Answer every question (typing the title and the draft's place) up to the preview."""
    await chat.send("/review")
    await chat.press(lb(chat, f"channel.{channel}"))
    if channel == "other":
        await chat.send("校园显示屏")
    await chat.send(title)
    await chat.press(lb(chat, f"kind.{kind}"))
    await chat.press(lb(chat, day))
    return await chat.send(draft)


async def submit_request(chat: Chat, **fields: Any) -> dict[str, Any]:
    await fill_request(chat, **fields)
    return await chat.press(lb(chat, "btn.submit"))


async def request_info(app: BaomiApp, request_id: int = 1) -> RequestInfo:
    async with app.db.sessions() as s:
        found = await review.get(s, request_id)
    assert found is not None
    return found


async def audit_actions(app: BaomiApp) -> list[tuple[str, str]]:
    async with app.db.sessions() as s:
        rows = (await s.scalars(select(AuditLog).where(AuditLog.action.like("review.%")).order_by(AuditLog.id))).all()
    return [(row.action, row.subject) for row in rows]


def notices_of(chat: Chat, title: str) -> list[dict[str, Any]]:
    return [m for m in chat.bot_messages if m["text"].startswith("【信息发布保密审查】") and title in m["text"]]


def to_review_text(chat: Chat, request: RequestInfo, waited: int | None = None) -> str:
    return chat.t(
        "review/to_review",
        request=request,
        stage=lb(chat, f"stage.{request.stage}"),
        summary=summary(chat.texts, chat.locale, request.draft, request),
        limit=2,
        waited=waited,
    )


def progress_text(chat: Chat, request: RequestInfo) -> str:
    last = request.last_decision
    assert last is not None
    return chat.t(
        "review/progress",
        request=request,
        status=request.status.value,
        last=last,
        last_stage=lb(chat, f"stage.{last.stage}"),
        next_stage=lb(chat, f"stage.{request.stage}") if request.stage else None,
    )


def decision_labels(chat: Chat) -> list[str]:
    return [lb(chat, "btn.approve"), lb(chat, "btn.return"), lb(chat, "btn.refuse")]


# --- approval through the whole chain -----------------------------------------------------------------------------
async def test_an_exam_item_is_approved_by_head_office_and_leader_and_numbered(bot: LocalBot) -> None:
    officers = [await bot.bind("E001"), await bot.bind("E002")]
    leader = await bot.bind("E401")
    head = await bot.bind("E101")
    staff = await bot.bind("E102")

    opening = await staff.send("/review")
    assert opening["text"] == staff.t("review/ask_channel", opening=True)
    assert staff.labels() == [lb(staff, f"channel.{c}") for c in ("website", "wechat", "video", "other")]
    await staff.press(lb(staff, "channel.website"))
    assert staff.last["text"] == staff.t("review/ask_title", limit=100)
    assert (await staff.send("标" * 101))["text"] == staff.t("review/too_long", limit=100)
    kinds = await staff.send("2026年中考报名工作安排")
    assert kinds["text"] == staff.t("review/ask_kind", leader=[lb(staff, "kind.exam"), lb(staff, "kind.personnel")])
    await staff.press(lb(staff, "kind.exam"))
    assert (await staff.send("昨天"))["text"] == staff.t("review/date_invalid")
    assert (await staff.send("3月9日"))["text"] == staff.t("review/ask_draft", limit=200)
    preview = await staff.send("https://oa.example.edu.cn/doc/2026-0318")
    assert "2026年中考报名工作安排" in preview["text"] and "2026年3月9日" in preview["text"]
    assert lb(staff, "stage.leader") in preview["text"]
    assert staff.labels(preview)[0] == lb(staff, "btn.submit")
    # 修改 asks one answer again and comes back to the preview.
    await staff.press(lb(staff, "btn.change"))
    await staff.press(lb(staff, "field.channel"))
    again = await staff.press(lb(staff, "channel.wechat"))
    assert "发布渠道：微信公众号" in again["text"] and staff.labels(again)[0] == lb(staff, "btn.submit")

    done = await staff.press(lb(staff, "btn.submit"))
    request = await request_info(bot.app)
    assert done["text"] == staff.t(
        "review/submitted", request=request, resubmitted=False, stage=lb(staff, "stage.head"), reviewers=1
    )
    assert request.status is Status.REVIEWING and request.chain == (Stage.HEAD, Stage.OFFICE, Stage.LEADER)
    assert request.draft == review.Draft(
        review.Channel.WECHAT, None, "2026年中考报名工作安排", review.Kind.EXAM, date(2026, 3, 9),
        "https://oa.example.edu.cn/doc/2026-0318",
    )  # fmt: skip
    assert request.submitter_name == "陈静" and request.department == "基础教育科" and request.number is None
    async with bot.app.db.sessions() as s:
        assert await s.get(Conversation, request.submitter_id) is None
    # Only the unit's head is asked first; the office and the leader hear nothing yet.
    (notice,) = notices_of(head, "2026年中考报名工作安排")
    assert notice["text"] == to_review_text(head, request) and head.labels(notice) == decision_labels(head)
    assert [notices_of(c, "中考") for c in (*officers, leader)] == [[], [], []]

    decided = await head.press(lb(head, "btn.approve"), notice)
    request = await request_info(bot.app)
    assert decided["message_id"] == notice["message_id"] and decided["buttons"] == []  # the notice, replaced
    assert decided["text"] == head.t(
        "review/decided",
        request=request,
        decision=lb(head, "decision.approve"),
        stage=lb(head, "stage.head"),
        next_stage=lb(head, "stage.office"),
    )
    assert staff.last["text"] == progress_text(staff, request) and "刘洋" in staff.last["text"]
    for officer in officers:
        (notice,) = notices_of(officer, "中考")
        assert notice["text"] == to_review_text(officer, request)

    # Either officer decides for the office; the other's buttons then change nothing.
    await officers[1].press(lb(officers[1], "btn.approve"), notices_of(officers[1], "中考")[0])
    late = await officers[0].press(lb(officers[0], "btn.approve"), notices_of(officers[0], "中考")[0])
    request = await request_info(bot.app)
    assert late["text"].startswith("《2026年中考报名工作安排》的这一环节已经处理（李秀英：同意）")
    assert request.stage is Stage.LEADER and staff.last["text"] == progress_text(staff, request)

    await leader.press(lb(leader, "btn.approve"), notices_of(leader, "中考")[0])
    request = await request_info(bot.app)
    assert request.status is Status.APPROVED and request.number == "SC-2026-0001"
    assert staff.last["text"] == progress_text(staff, request) and "SC-2026-0001" in staff.last["text"]
    assert [(d.round, d.stage, d.decision, d.reviewer_name) for d in request.decisions] == [
        (1, Stage.HEAD, Decision.APPROVE, "刘洋"),
        (1, Stage.OFFICE, Decision.APPROVE, "李秀英"),
        (1, Stage.LEADER, Decision.APPROVE, "郑伟"),
    ]
    # Every step is in the audit chain; each decision keeps its entry's hash, the 审查单 the approval's.
    async with bot.app.db.sessions() as s:
        entries = {row.hash: row for row in (await s.scalars(select(AuditLog))).all()}
        assert (await audit.verify(s)).broken_at is None
    assert await audit_actions(bot.app) == [
        ("review.submit", "review:1"),
        ("review.approve", "review:1"),
        ("review.approve", "review:1"),
        ("review.approve", "review:1"),
        ("review.approved", "review:1"),
    ]
    assert [entries[d.record_hash].actor_staff_id for d in request.decisions] == [
        d.reviewer_id for d in request.decisions
    ]
    assert request.record_hash is not None
    assert entries[request.record_hash].detail["number"] == "SC-2026-0001"

    # The next approval of the year draws the next number.
    await submit_request(staff, title="春季运动会通知", kind="news")
    await head.press(lb(head, "btn.approve"), notices_of(head, "春季运动会通知")[0])
    await officers[0].press(lb(officers[0], "btn.approve"), notices_of(officers[0], "春季运动会通知")[0])
    assert (await request_info(bot.app, 2)).number == "SC-2026-0002"
    assert notices_of(leader, "春季运动会通知") == []  # news needs no leader


# --- returned, changed and resubmitted; then refused --------------------------------------------------------------
async def test_a_returned_request_is_changed_resubmitted_and_then_refused(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E201")
    staff = await bot.bind("E203")  # 周杰, 考试院
    await submit_request(staff, title="考试院工作动态第3期", kind="news", channel="website")

    # From /reviews this time: 退回修改 asks for the reason first; 返回 leaves the request as it was.
    (first,) = notices_of(head, "考试院工作动态")
    await head.send("/reviews")
    await head.press("1. 考试院工作动态第3期")
    asked = await head.press(lb(head, "btn.return"))
    request = await request_info(bot.app)
    assert asked["text"] == head.t("review/ask_reason", request=request, decision="return", limit=200)
    await head.press(lb(head, "btn.back"))
    assert head.last["text"].startswith("【信息发布保密审查】审查中") and (await request_info(bot.app)).decisions == ()
    await head.press(lb(head, "btn.return"))
    assert (await head.send("  "))["text"] == head.t("review/too_long", limit=200)
    await head.send("第二段涉及考场安排，请删去")
    request = await request_info(bot.app)
    assert request.status is Status.RETURNED and request.stage is None
    assert staff.last["text"] == progress_text(staff, request) and "第二段涉及考场安排，请删去" in staff.last["text"]
    assert staff.labels() == [lb(staff, "btn.edit"), lb(staff, "btn.withdraw")]
    assert notices_of(officer, "考试院工作动态") == []  # nothing reaches the office from a returned request
    returned = staff.last

    # 修改后重新送审 opens the request with its answers; one is changed and it goes round again from the head.
    reopened = await staff.press(lb(staff, "btn.edit"), returned)
    assert "考试院工作动态第3期" in reopened["text"] and staff.labels(reopened)[0] == lb(staff, "btn.resubmit")
    await staff.press(lb(staff, "btn.change"))
    await staff.press(lb(staff, "field.title"))
    await staff.send("考试院工作动态第3期（修改稿）")
    await staff.press(lb(staff, "btn.resubmit"))
    request = await request_info(bot.app)
    assert request.round == 2 and request.status is Status.REVIEWING and request.stage is Stage.HEAD
    assert request.draft.title == "考试院工作动态第3期（修改稿）"
    # The old notice's buttons are for round 1: pressed now, they change nothing.
    await head.press(lb(head, "btn.approve"), first)
    stale = head.message(first["message_id"])
    assert stale is not None and stale["text"].startswith("《考试院工作动态第3期（修改稿）》的这一环节已经处理")
    assert (await request_info(bot.app)).stage is Stage.HEAD
    # 修改后重新送审 works once: the request is under review again.
    pressed = await staff.tap(staff.buttons(returned)[0][1], returned)
    await staff.settle()
    assert staff.answer(pressed) == staff.t("review/gone")

    await head.press(lb(head, "btn.approve"), notices_of(head, "（修改稿）")[-1])
    await officer.press(lb(officer, "btn.refuse"), notices_of(officer, "（修改稿）")[0])
    marked = "机密★10年 考场"
    assert (await officer.send(marked))["text"] == officer.t("guard/refused", category="marking")
    await officer.send("含未公开的考试安排，不得公开发布")
    request = await request_info(bot.app)
    assert request.status is Status.REFUSED and request.decided_at is not None and request.number is None
    assert staff.last["text"] == progress_text(staff, request) and staff.labels() == []
    assert [(d.round, d.stage, d.decision, d.reason) for d in request.decisions] == [
        (1, Stage.HEAD, Decision.RETURN, "第二段涉及考场安排，请删去"),
        (2, Stage.HEAD, Decision.APPROVE, None),
        (2, Stage.OFFICE, Decision.REFUSE, "含未公开的考试安排，不得公开发布"),
    ]
    assert [a for a, _ in await audit_actions(bot.app)] == [
        "review.submit",
        "review.return",
        "review.resubmit",
        "review.approve",
        "review.refuse",
    ]
    async with bot.app.db.sessions() as s:
        stored = [
            str(vars(row))
            for model in (AuditLog, ReviewDecision, Conversation)
            for row in (await s.scalars(select(model))).all()
        ]
    assert not any("★10年" in row for row in stored)


async def test_a_returned_request_can_be_withdrawn(bot: LocalBot) -> None:
    head = await bot.bind("E301")
    staff = await bot.bind("E302")  # 马琳, 人事科
    await submit_request(staff, title="2026年公开招聘教师公告", kind="personnel")
    await head.press(lb(head, "btn.return"), notices_of(head, "招聘")[0])
    await head.send("待招聘方案批准后再送审")
    withdrawn = await staff.press(lb(staff, "btn.withdraw"))
    request = await request_info(bot.app)
    assert withdrawn["text"] == staff.t("review/withdrawn", request=request) and withdrawn["buttons"] == []
    assert request.status is Status.WITHDRAWN and request.decided_at == bot.clock.now()
    # Someone else's request is not theirs to change.
    other = await bot.bind("E102")
    async with bot.app.db.sessions() as s:
        returned = await s.get(ReviewRequest, request.id)
        assert returned is not None
    pressed = await other.tap(f"rvs:-:edit:{request.id}", staff.last)
    await other.settle()
    assert other.answer(pressed) == other.t("core/no_right")


# --- the stages nobody else can take ------------------------------------------------------------------------------
async def test_a_head_submitting_signs_their_own_stage_and_a_unit_without_head_goes_to_the_office(
    bot: LocalBot,
) -> None:
    officer = await bot.bind("E002")
    head = await bot.bind("E101")
    await submit_request(head, title="基础教育科工作简报", kind="news")
    request = await request_info(bot.app)
    assert request.stage is Stage.OFFICE
    assert [(d.stage, d.decision, d.reviewer_name) for d in request.decisions] == [(Stage.HEAD, Decision.SELF, "刘洋")]
    assert head.last["text"] == head.t(
        "review/submitted", request=request, resubmitted=False, stage=lb(head, "stage.office"), reviewers=2
    )  # both officers are asked
    assert notices_of(officer, "基础教育科工作简报")

    # The leadership has no head: its own items go straight to the office, the skipped stage on record.
    leader = await bot.bind("E401")
    await submit_request(leader, title="局领导讲话稿", kind="policy")
    request = await request_info(bot.app, 2)
    assert [(d.stage, d.decision, d.reviewer_id) for d in request.decisions] == [(Stage.HEAD, Decision.SKIPPED, None)]
    assert request.stage is Stage.OFFICE
    # An officer never decides their own request, even from /reviews: the other officer does.
    own = await bot.bind("E001")
    await submit_request(own, title="保密办通知", kind="notice")
    request = await request_info(bot.app, 3)
    assert request.stage is Stage.OFFICE and request.decisions[0].decision is Decision.SELF
    async with bot.app.db.sessions() as s:
        assert await review.reviewer_ids(s, request) == [await bot.staff_id("E002")]


# --- the guard on every typed field -------------------------------------------------------------------------------
MARKED, NUMBERED, TERM = "机密★10年 招生计划", "教发〔2026〕3号 文件", "【注意保密】 严禁外传"


async def test_every_typed_field_passes_the_guard_and_nothing_refused_is_kept(bot: LocalBot) -> None:
    head = await bot.bind("E101")
    staff = await bot.bind("E102")

    async def refused(chat: Chat, expected_next: str | None = None) -> None:
        """Each refused text is answered with its category; the question stays the same."""
        state = None
        for text, category in ((MARKED, "marking"), (NUMBERED, "doc_number"), (TERM, "term")):
            assert (await chat.send(text))["text"] == chat.t("guard/refused", category=category)
            async with bot.app.db.sessions() as s:
                conv = await s.get(Conversation, await bot.staff_id(chat_employee[chat.user]))
                assert conv is not None
                state = state or conv.state
                assert conv.state == state  # nothing taken

    chat_employee = {head.user: "E101", staff.user: "E102"}
    await staff.send("/review")
    await staff.press(lb(staff, "channel.other"))
    await refused(staff)  # the channel's name
    await staff.send("校园显示屏")
    await refused(staff)  # the title
    await staff.send("校园开放日通知")
    await staff.press(lb(staff, "kind.news"))
    await refused(staff)  # the date
    await staff.send("2026-03-10")
    await refused(staff)  # the draft's place
    # Material sent is refused (and deleted where the channel allows); the question is asked again.
    await staff.attach(AttachmentKind.DOCUMENT)
    assert staff.bot_messages[-2]["text"] == staff.t("core/attachment_refused")
    assert staff.last["text"] == staff.t("review/ask_draft", limit=200)
    await staff.send("OA-2026-0401")
    await staff.press(lb(staff, "btn.submit"))
    request = await request_info(bot.app)
    assert request.draft == review.Draft(
        review.Channel.OTHER, "校园显示屏", "校园开放日通知", review.Kind.NEWS, date(2026, 3, 10), "OA-2026-0401"
    )
    # The reviewers' reasons too, for 退回修改 and for 不同意.
    await head.press(lb(head, "btn.return"), notices_of(head, "校园开放日")[0])
    await refused(head)
    await head.send("请补充活动安全预案")
    await staff.press(lb(staff, "btn.edit"))
    await staff.press(lb(staff, "btn.resubmit"))
    await head.press(lb(head, "btn.refuse"), notices_of(head, "校园开放日")[-1])
    await refused(head)
    await head.send("开放日取消")
    assert (await request_info(bot.app)).status is Status.REFUSED

    stored: list[str] = []
    async with bot.app.db.sessions() as s:
        for model in (ReviewRequest, ReviewDecision, AuditLog, Conversation, OutboxMessage):
            stored += [str(vars(row)) for row in (await s.scalars(select(model))).all()]
    everything = "\n".join(stored)
    assert "校园显示屏" in everything and "请补充活动安全预案" in everything  # the checks below look where it would be
    for fragment in ("★10年", "〔2026〕3号", "严禁外传"):
        assert fragment not in everything


# --- the clock: reminded, then escalated --------------------------------------------------------------------------
def escalated_text(chat: Chat, request: RequestInfo, waited: int, reviewers: list[str]) -> str:
    return chat.t(
        "review/escalated",
        request=request,
        stage=lb(chat, f"stage.{request.stage}"),
        reviewers=reviewers,
        waited=waited,
        summary=summary(chat.texts, chat.locale, request.draft, request),
    )


async def test_a_waiting_stage_is_reminded_then_escalated_on_working_days(
    db_url: str, db: Database, clock: SettableClock
) -> None:
    await import_roster_with_leader(db, clock)
    policy = Policy(review_escalation_contacts=("E301",))
    async with local_bot(db_url, clock, policy) as bot:
        bot.app.jobs.sweeps = [s for s in bot.app.jobs.sweeps if s.name == "review_clock"]
        officers = [await bot.bind("E001"), await bot.bind("E002")]
        leader, contact = await bot.bind("E401"), await bot.bind("E301")
        head = await bot.bind("E101")
        staff = await bot.bind("E102")
        await submit_request(staff, title="基础教育科三月工作动态", kind="news")  # Monday 2 March, 09:30
        request = await request_info(bot.app)
        everyone = (*officers, leader, contact, head, staff)
        counts = [len(c.bot_messages) for c in everyone]

        def new(chat: Chat) -> list[str]:
            return [m["text"] for m in chat.bot_messages[counts[everyone.index(chat)] :]]

        # Tuesday and Wednesday are the head's two working days; Thursday before nine is outside working hours.
        await bot.sweep(at=datetime(2026, 3, 4, 17, 59, tzinfo=TZ))
        await bot.sweep(at=datetime(2026, 3, 5, 8, 59, tzinfo=TZ))
        assert [new(c) for c in everyone] == [[]] * 6
        await bot.sweep(at=datetime(2026, 3, 5, 9, 0, tzinfo=TZ))
        await bot.sweep(at=datetime(2026, 3, 5, 15, 0, tzinfo=TZ))  # once only
        assert new(head) == [to_review_text(head, request, waited=2)]
        assert head.labels() == decision_labels(head)
        assert [new(c) for c in (*officers, leader, contact, staff)] == [[]] * 5
        # A working day later it is escalated: to the office (a head's stage) and the policy's contact.
        await bot.sweep(at=datetime(2026, 3, 6, 9, 0, tzinfo=TZ))
        await bot.sweep(at=datetime(2026, 3, 6, 11, 0, tzinfo=TZ))
        for chat in (*officers, contact):
            assert new(chat) == [escalated_text(chat, request, 3, ["刘洋"])]
        assert new(leader) == [] and len(new(head)) == 1 and new(staff) == []
        later = datetime(2026, 12, 31, tzinfo=TZ)
        async with bot.app.db.sessions() as s:  # reminded and escalated: later ticks read nothing of it
            assert await review.waiting(s, later, later, "review", "clock") == []
        card = await officers[0].press(lb(officers[0], "btn.view"))
        assert (
            card["text"].startswith("【信息发布保密审查】审查中")
            and "当前：部门负责人审核，已等待 3 个工作日" in card["text"]
        )
        assert officers[0].labels(card) == [lb(officers[0], "btn.list")]  # the office does not decide for the head

        # The head approves on Friday: the office's two working days are Monday and Tuesday (not the weekend).
        await head.press(lb(head, "btn.approve"), notices_of(head, "三月工作动态")[-1])
        request = await request_info(bot.app)
        counts = [len(c.bot_messages) for c in everyone]
        await bot.sweep(at=datetime(2026, 3, 10, 17, 0, tzinfo=TZ))
        assert [new(c) for c in everyone] == [[]] * 6
        await bot.sweep(at=datetime(2026, 3, 11, 9, 0, tzinfo=TZ))
        for officer in officers:
            assert new(officer) == [to_review_text(officer, request, waited=2)]
        # The office's own stage escalates to the 分管领导 (and the contact).
        await bot.sweep(at=datetime(2026, 3, 12, 9, 0, tzinfo=TZ))
        for chat in (leader, contact):
            assert new(chat) == [escalated_text(chat, request, 3, ["王建国", "李秀英"])]
        assert [len(new(o)) for o in officers] == [1, 1] and new(staff) == []
        async with bot.app.db.sessions() as s:
            query = select(SentLog.subject, SentLog.step).where(SentLog.duty == "review").order_by(SentLog.id)
            claims = [tuple(row) for row in (await s.execute(query)).all()]
        assert claims == [
            ("request:1:r1:s0", "nudge"),
            ("request:1:r1:s0", "escalate"),
            ("request:1:r1:s1", "nudge"),
            ("request:1:r1:s1", "escalate"),
        ]


# --- the ledger: who sees what, the 登记表 and the 审查单 -------------------------------------------------------
async def approve_all(bot: LocalBot, title: str, *reviewers: Chat) -> None:
    for chat in reviewers:
        await chat.press(lb(chat, "btn.approve"), notices_of(chat, title)[-1])


async def test_reviews_shows_each_reviewer_their_part_and_the_office_exports_and_prints(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    leader = await bot.bind("E401")
    heads = {"基础教育科": await bot.bind("E101"), "考试院": await bot.bind("E201")}
    await submit_request(await bot.bind("E102"), title="基础教育科三月工作动态", kind="news")
    await submit_request(await bot.bind("E203"), title="2026年中考体育考试安排", kind="exam")
    await approve_all(bot, "中考体育", heads["考试院"], officer)

    staff = await bot.bind("E103")
    assert (await staff.send("/reviews"))["text"] == staff.t("core/no_right")
    assert "/reviews" not in (await staff.send("/help"))["text"] and "/review " in staff.last["text"]
    own = await heads["基础教育科"].send("/reviews")
    assert "基础教育科三月工作动态" in own["text"] and "中考" not in own["text"] and "待您审查" in own["text"]
    assert heads["基础教育科"].labels(own) == ["1. 基础教育科三月工作动态"]
    other_unit = await heads["考试院"].send("/reviews")
    assert "中考体育" in other_unit["text"] and "三月工作动态" not in other_unit["text"]
    # A head cannot open another unit's request, even by a forged button.
    pressed = await heads["考试院"].tap("rva:-:view:1", other_unit)
    await heads["考试院"].settle()
    assert heads["考试院"].last["text"] == heads["考试院"].t("review/not_found")
    assert heads["考试院"].answer(pressed) is not None
    theirs = await leader.send("/reviews")
    assert "中考体育" in theirs["text"] and "三月工作动态" not in theirs["text"]
    assert leader.labels(theirs) == ["1. 2026年中考体育考试安排"]
    everything = await officer.send("/reviews")
    # Neither waits for the office: the latest change first.
    assert officer.labels(everything) == [
        "1. 2026年中考体育考试安排",
        "2. 基础教育科三月工作动态",
        lb(officer, "btn.export"),
    ]

    # The leader decides from /reviews too; the office then prints the 审查单 and exports the 登记表.
    card = await leader.press("1. 2026年中考体育考试安排")
    assert leader.labels(card) == [*decision_labels(leader), lb(leader, "btn.list")]
    await leader.press(lb(leader, "btn.approve"))
    request = await request_info(bot.app, 2)
    assert request.number == "SC-2026-0001" and leader.last["text"].startswith(
        leader.t(
            "review/decided",
            request=request,
            decision=lb(leader, "decision.approve"),
            stage=lb(leader, "stage.leader"),
            next_stage=None,
        )
    )
    await officer.send("/reviews")
    card = await officer.press("2. 2026年中考体育考试安排")
    assert lb(officer, "btn.pdf") in officer.labels(card) and "SC-2026-0001" in card["text"]
    sent = await officer.press(lb(officer, "btn.pdf"))
    assert sent.file is not None and sent.file[0] == "SC-2026-0001.pdf"
    assert sent["text"] == officer.t("review/pdf_caption", request=request)
    pdf = officer.file(sent)
    assert pdf.startswith(b"%PDF") and request.record_hash is not None and request.record_hash.encode() in pdf
    await officer.send("/reviews")
    sent = await officer.press(lb(officer, "btn.export"))
    assert sent.file is not None and sent.file[0] == "reviews-2026-03-02.xlsx"
    assert sent["text"] == officer.t("review/export_caption", count=2, day=date(2026, 3, 2))
    rows = list(load_workbook(io.BytesIO(officer.file(sent))).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 3 and rows[2][1] == "SC-2026-0001" and rows[1][1] is None


async def test_the_register_and_the_form_from_the_command_line(bot: LocalBot, db_url: str, tmp_path: Path) -> None:
    officer = await bot.bind("E001")
    leader = await bot.bind("E401")
    head = await bot.bind("E201")
    staff = await bot.bind("E202")
    await submit_request(staff, title="2026年高考报名须知", kind="exam", channel="video")
    await head.press(lb(head, "btn.return"), notices_of(head, "高考报名")[0])
    await head.send("报名时间以省考试院通知为准")
    await staff.press(lb(staff, "btn.edit"))
    await staff.press(lb(staff, "btn.resubmit"))
    await approve_all(bot, "高考报名", head, officer, leader)
    await submit_request(staff, title="考试院招聘公告", kind="personnel")
    request = await request_info(bot.app)

    settings = Settings(database_url=db_url, timezone=TZ)
    out = tmp_path / "reviews.xlsx"
    assert await run_command(settings, ["export", "reviews", "--out", str(out)], bot.clock) == 0
    sheet = load_workbook(out).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == staff.t("review/word", key="columns").split("|")
    assert sheet.title == "登记表" and sheet.oddHeader.left.text == "信息发布保密审查登记表"
    first = dict(zip(rows[0], rows[1], strict=True))
    assert first["审查单编号"] == "SC-2026-0001" and first["送审单位"] == "考试院" and first["送审人"] == "黄丽"
    assert first["信息标题"] == "2026年高考报名须知" and first["发布渠道"] == "视频号"
    assert first["信息类别"] == "考试招生" and first["拟发布日期"] == datetime(2026, 3, 3)
    assert (first["部门负责人"], first["负责人意见"]) == ("赵磊", "同意")
    assert (first["保密办审查人"], first["保密办意见"]) == ("王建国", "同意")
    assert (first["分管领导"], first["分管领导意见"]) == ("郑伟", "同意")
    assert first["审查结果"] == "已通过" and first["退回次数"] == 1
    assert "第 1 轮 · 部门负责人审核 · 赵磊 · 退回修改：报名时间以省考试院通知为准" in first["审查记录"]
    second = dict(zip(rows[0], rows[2], strict=True))
    assert second["审查单编号"] is None and second["审查结果"] == "审查中" and second["部门负责人"] is None
    assert await run_command(settings, ["export", "reviews", "--year", "2025", "--out", str(out)], bot.clock) == 0
    assert load_workbook(out).worksheets[0].max_row == 1

    pdf = tmp_path / "form.pdf"
    assert await run_command(settings, ["review", "pdf", "sc-2026-0001", "--out", str(pdf)], bot.clock) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and request.record_hash is not None and request.record_hash.encode() in data
    assert b"SC-2026-0001" in data
    assert await run_command(settings, ["review", "pdf", "SC-2026-0009", "--out", str(pdf)], bot.clock) == 1
    assert await run_command(settings, ["audit", "verify"], bot.clock) == 0


# --- the backlog on /dashboard and in the weekly digest -----------------------------------------------------------
async def test_dashboard_and_digest_show_requests_waiting_and_overdue_per_unit(bot: LocalBot) -> None:
    officer = await bot.bind("E001")
    await submit_request(await bot.bind("E102"), title="基础教育科三月工作动态", kind="news")
    await submit_request(await bot.bind("E203"), title="考试院工作动态", kind="news")
    await bot.sweep(at=datetime(2026, 3, 4, 10, 0, tzinfo=TZ))
    await submit_request(await bot.bind("E202"), title="考试院招生简章", kind="exam")
    await bot.sweep(at=datetime(2026, 3, 6, 10, 0, tzinfo=TZ))  # the first two have waited 3 working days

    async with bot.app.db.sessions() as s:
        units = await review.backlog(s, date(2026, 3, 6), TZ, Policy(), await work_calendar(s))
    assert units == [review.UnitBacklog("考试院", 2, 1), review.UnitBacklog("基础教育科", 1, 1)]
    expected = officer.t("review/backlog", units=units)
    assert expected.startswith(
        "信息发布保密审查：待审 3 件，其中逾期 2 件\n考试院：待审 2，逾期 1\n基础教育科：待审 1，逾期 1"
    )
    await officer.send("/dashboard")
    assert officer.last["text"].endswith(expected)
    assert (await officer.send("/reviews"))["text"].count(" · 已逾期") == 2
    # The week's digest (not sent yet this week: only the review's sweep ran) carries the same lines.
    before = len(officer.bot_messages)
    assert (await bot.app.jobs.run_all(sweeps=[WeeklyDigestSweep(load_catalog().catalog)]))[
        "digest"
    ] == 2  # both officers
    await bot.settle()
    chart, digest = officer.bot_messages[before:]
    assert chart.file is not None and f"\n\n{expected}\n\n30 天内结束的脱密期" in digest["text"]
