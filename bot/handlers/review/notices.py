"""What the review says outside a person's own conversation: the request to its reviewers (with 同意 / 退回修改 /
不同意), the submitter told at each step, the reminder and the escalation of a stage that waits too long, and the
backlog lines of the dashboard and the weekly digest. Each message is rendered in its recipient's language."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.core.flow import Button, Outgoing, Priority, Reply
from bot.handlers.review import service as review
from bot.handlers.review.rules import Channel, Decision, Stage, Status
from bot.handlers.review.service import DecisionInfo, RequestInfo, UnitBacklog
from bot.services import people
from bot.texts import Texts

REVIEWER_ACTION = "rva"  # 同意 / 退回修改 / 不同意 / 查看 on a reviewer's notice
SUBMITTER_ACTION = "rvs"  # 修改后重新送审 / 撤回 on a returned request
SOURCE = "review"
DECIDING = (Decision.APPROVE, Decision.RETURN, Decision.REFUSE)


def label(texts: Texts, locale: str, key: str) -> str:
    return texts.render("review/label", locale, key=key)


def summary(texts: Texts, locale: str, draft: review.Draft, request: RequestInfo | None = None) -> str:
    """The request's metadata; with `request`, who submitted it and its chain too."""

    def lb(key: str) -> str:
        return label(texts, locale, key)

    chain = chain_text(texts, locale, request.chain) if request else None
    channel = channel_label(texts, locale, draft)
    return texts.render(
        "review/summary", locale, d=draft, channel=channel, kind=lb(f"kind.{draft.kind}"), request=request, chain=chain
    )


def channel_label(texts: Texts, locale: str, draft: review.Draft) -> str:
    """The channel, with the name typed for another one."""
    base = label(texts, locale, f"channel.{draft.channel}")
    name = draft.channel_name if draft.channel is Channel.OTHER else None
    return texts.render("review/channel", locale, label=base, name=name)


def chain_text(texts: Texts, locale: str, chain: Sequence[Stage]) -> str:
    """部门负责人 → 保密办 → 分管领导."""
    return texts.render("review/chain", locale, stages=[label(texts, locale, f"stage.{s}") for s in chain])


def history(texts: Texts, locale: str, request: RequestInfo) -> list[dict[str, object]]:
    """Every decision, labelled, for the card and the 审查单."""
    return [
        {
            "d": d,
            "stage": label(texts, locale, f"stage.{d.stage}"),
            "decision": label(texts, locale, f"decision.{d.decision}"),
        }
        for d in request.decisions
    ]


def decision_buttons(texts: Texts, locale: str, request: RequestInfo, target: str | None) -> list[list[Button]]:
    """同意 / 退回修改 / 不同意 for the waiting stage (as a standalone action, or in the /reviews conversation)."""
    assert request.stage is not None
    args = (str(request.id), str(request.round), str(request.stage))
    return [[Button(label(texts, locale, f"btn.{d}"), str(d), args, target=target) for d in DECIDING]]


async def to_reviewers(
    session: AsyncSession, texts: Texts, policy: Policy, request: RequestInfo, *, waited: int | None = None
) -> list[Outgoing]:
    """The request to whoever may decide its waiting stage; with `waited`, a reminder that it is overdue."""
    recipients = await review.reviewer_ids(session, request)
    locales = await people.locales(session, recipients)
    out = []
    for staff_id in recipients:
        locale = locales.get(staff_id, "zh")
        text = texts.render(
            "review/to_review",
            locale,
            request=request,
            stage=label(texts, locale, f"stage.{request.stage}"),
            summary=summary(texts, locale, request.draft, request),
            limit=policy.review_limit_days,
            waited=waited,
        )
        buttons = decision_buttons(texts, locale, request, REVIEWER_ACTION)
        out.append(Outgoing(staff_id, Reply(text, buttons), Priority.REMINDER, SOURCE))
    return out


async def escalation(
    session: AsyncSession, texts: Texts, policy: Policy, request: RequestInfo, waited: int
) -> list[Outgoing]:
    """A stage overdue even after its reminder, to the role above it and the policy's contacts, with 查看."""
    recipients = await review.escalation_ids(session, policy, request)
    reviewers = await review.reviewer_ids(session, request)
    names = [p.name for p in [await people.by_id(session, s) for s in reviewers] if p is not None]
    locales = await people.locales(session, recipients)
    out = []
    for staff_id in recipients:
        locale = locales.get(staff_id, "zh")
        text = texts.render(
            "review/escalated",
            locale,
            request=request,
            stage=label(texts, locale, f"stage.{request.stage}"),
            reviewers=names,
            waited=waited,
            summary=summary(texts, locale, request.draft, request),
        )
        view = Button(label(texts, locale, "btn.view"), "view", (str(request.id),), target=REVIEWER_ACTION)
        out.append(Outgoing(staff_id, Reply(text, [[view]]), Priority.REMINDER, SOURCE))
    return out


async def to_submitter(session: AsyncSession, texts: Texts, request: RequestInfo) -> list[Outgoing]:
    """The submitter told where their request stands after a decision: on to the next stage, approved with its
    number, returned with the reason (修改后重新送审 / 撤回), or refused."""
    locale = (await people.locales(session, [request.submitter_id])).get(request.submitter_id, "zh")
    return [Outgoing(request.submitter_id, submitter_reply(texts, locale, request), Priority.REMINDER, SOURCE)]


def submitter_reply(texts: Texts, locale: str, request: RequestInfo) -> Reply:
    last = request.last_decision
    context = {
        "request": request,
        "status": request.status.value,
        "last": last,
        "last_stage": label(texts, locale, f"stage.{last.stage}") if last else None,
        "next_stage": label(texts, locale, f"stage.{request.stage}") if request.stage else None,
    }
    text = texts.render("review/progress", locale, **context)
    buttons: list[list[Button]] = []
    if request.status is Status.RETURNED:
        args = (str(request.id),)
        buttons = [
            [
                Button(label(texts, locale, "btn.edit"), "edit", args, target=SUBMITTER_ACTION),
                Button(label(texts, locale, "btn.withdraw"), "withdraw", args, target=SUBMITTER_ACTION),
            ]
        ]
    return Reply(text, buttons)


async def after_decision(session: AsyncSession, texts: Texts, policy: Policy, request: RequestInfo) -> list[Outgoing]:
    """Who hears of a decision: the submitter, and the next stage's reviewers when it moved on."""
    outgoing = await to_submitter(session, texts, request)
    if request.status is Status.REVIEWING:
        outgoing += await to_reviewers(session, texts, policy, request)
    return outgoing


def decision_label(texts: Texts, locale: str, decision: DecisionInfo) -> str:
    return label(texts, locale, f"decision.{decision.decision}")


def backlog_text(texts: Texts, locale: str, units: list[UnitBacklog]) -> str:
    """The requests waiting for a reviewer per unit, for /dashboard and the weekly digest."""
    return texts.render("review/backlog", locale, units=units)


def stage_label(texts: Texts, locale: str, stage: Stage) -> str:
    return label(texts, locale, f"stage.{stage}")
