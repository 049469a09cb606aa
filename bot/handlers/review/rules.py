"""信息发布保密审查 (the pre-publication secrecy review) as pure rules: what a request records, who reviews it in
which order, who may decide a stage, the number of the 审查单, and when a waiting stage is overdue.

The rules it implements, from the regulations (../shared/reference/regulations-zh.txt):
- 保密工作常态化工作制度 第十四条: 单位应当加强信息发布管理，实行信息发布保密审查制度.
- 保密工作制度 (保密工作领导小组篇) 四、网站发布信息的保密规定 (一): 在互联网上发布信息时，应当填写
  《网站信息发布审批单》，经严格认真审批程序后方可发布 — hence the numbered 审查单 and the ledger;
  (二) what may never be published: marked documents, work secrets, unmarked content touching state secrets,
  commercial secrets or privacy — the reviewers' checklist; (三) nothing whose secrecy is unclear is republished;
  (四) 微博、微信公众平台等自媒体 are managed the same way — hence the channels beyond the website.
- 保密工作制度 (定密与涉密人员管理篇) 三、网络保密管理制度 1: 谁上网、谁负责 — the submitter answers for the item and
  the unit's head reviews it first; 凡向网站提供或发布信息，必须经过局领导保密审查批准 — the 分管领导 stage.
- 教育保密工作制度 第五条 (一) exam papers, answers and marking schemes, (三) student, teacher and personnel files;
  教育机构保密制度（标准版）第四条 (二) 考试安排, (三) personal information and results — the kinds that default to
  the leader's approval (bot/config.py Policy.review_chains).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from enum import StrEnum

from bot.domain.dates import parse_day
from bot.domain.levels import Role
from bot.domain.workdays import WorkCalendar


class Channel(StrEnum):
    """Where the item is to be published."""

    WEBSITE = "website"  # the bureau's or the school's website
    WECHAT = "wechat"  # 微信公众号
    VIDEO = "video"  # 视频号
    OTHER = "other"  # typed: 微博, 抖音, a display screen…


class Kind(StrEnum):
    """The kind of information (names as in bot/config.py REVIEW_KINDS)."""

    NEWS = "news"  # 工作动态
    NOTICE = "notice"  # 通知公告
    POLICY = "policy"  # 政策文件及解读
    EXAM = "exam"  # 考试招生
    PERSONNEL = "personnel"  # 人事信息 (任免、招聘、公示)
    STATISTICS = "statistics"  # 统计数据
    OTHER = "other"


class Stage(StrEnum):
    """Who reviews, in the order of a chain (names as in bot/config.py REVIEW_STAGES)."""

    HEAD = "head"  # the submitter's head of unit (谁上网、谁负责)
    OFFICE = "office"  # the secrecy office (保密办)
    LEADER = "leader"  # 分管领导 (局领导保密审查批准)


class Decision(StrEnum):
    APPROVE = "approve"  # 同意
    RETURN = "return"  # 退回修改, with a reason
    REFUSE = "refuse"  # 不同意, with a reason
    # Stages passed without a reviewer's press, recorded all the same:
    SELF = "self"  # the submitter is the only one holding the stage's role (a head submitting their unit's item)
    SKIPPED = "skipped"  # the unit has no head: the secrecy office reviews in its place


class Status(StrEnum):
    REVIEWING = "reviewing"  # waiting for the current stage's decision
    RETURNED = "returned"  # back with the submitter for changes
    APPROVED = "approved"  # every stage agreed: the 审查单 has its number
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"  # the submitter gave up a returned request


STAGE_ROLE = {Stage.HEAD: Role.HEAD, Stage.OFFICE: Role.OFFICER, Stage.LEADER: Role.LEADER}
FINAL = frozenset({Status.APPROVED, Status.REFUSED, Status.WITHDRAWN})
MAX_TITLE = 100
MAX_CHANNEL_NAME = 30
MAX_DRAFT_REF = 200
MAX_REASON = 200
MAX_DAYS_AHEAD = 366  # a planned date further out is almost certainly a typing mistake
NUMBER_PREFIX = "SC"  # 审查


def chain_for(kind: Kind, chains: Mapping[str, Sequence[str]], default: Sequence[str]) -> tuple[Stage, ...]:
    """The stages that review a kind of information, in order (Policy.review_chains, else the default)."""
    return tuple(Stage(stage) for stage in chains.get(kind.value, default))


def may_review(stage: Stage, roles: frozenset[Role], department_id: int, request_department_id: int) -> bool:
    """Whether a person may decide this stage: the role it asks for, and for the head stage the same unit."""
    if STAGE_ROLE[stage] not in roles:
        return False
    return stage is not Stage.HEAD or department_id == request_department_id


def review_number(year: int, seq: int) -> str:
    """The 审查单 number the submitter quotes when publishing: SC-2026-0042."""
    return f"{NUMBER_PREFIX}-{year}-{seq:04}"


def working_days_waited(since: date, today: date, calendar: WorkCalendar) -> int:
    """Whole working days a stage has waited: those after the day it arrived, up to yesterday. Arrived on a
    Monday, it has waited 2 on Thursday morning (Tuesday and Wednesday)."""
    return max(0, calendar.working_days_between(since + timedelta(days=1), today))


def is_overdue(since: date, today: date, calendar: WorkCalendar, limit_days: int) -> bool:
    """Past the policy's limit (Policy.review_limit_days working days): the reviewers are reminded."""
    return working_days_waited(since, today, calendar) >= limit_days


def is_escalated(since: date, today: date, calendar: WorkCalendar, limit_days: int, escalate_days: int) -> bool:
    """Still waiting `escalate_days` working days after the reminder: the request is escalated."""
    return working_days_waited(since, today, calendar) >= limit_days + escalate_days


def escalation_roles(stage: Stage) -> tuple[Role, ...]:
    """Who hears of a stage that waits too long: the office chases heads and leaders; the leadership chases the
    office (保密工作领导小组 监督和检查全局保密工作落实情况)."""
    return (Role.LEADER,) if stage is Stage.OFFICE else (Role.OFFICER,)


def parse_planned_day(text: str, today: date) -> date | None:
    """A planned publication date as people type it (bot.domain.dates.parse_day: 2026-03-05, 3月5日, 明天, 下周一);
    None when it is not a date, lies in the past or more than a year ahead. Without a year the next such day is
    meant."""
    typed = parse_day(text, today, ahead=True)
    if typed is None or not 0 <= (typed.day - today).days <= MAX_DAYS_AHEAD:
        return None
    return typed.day
