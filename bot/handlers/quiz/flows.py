"""/quiz: a person answers a paper drawn from the bank, one question at a time, within a time limit.

Also here: the officers' review of papers finished implausibly fast (a standalone action), /quizstats for
the office, and the quiz's section of /status.

Button payloads carry the question's place in the paper and the displayed position of an option, never
which option is right; grading happens only here, against the bank.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import FlowEvent, Pick
from bot.core.flow import (
    EVERYONE,
    OFFICERS,
    Button,
    Document,
    ExportContext,
    FlowContext,
    Outgoing,
    Priority,
    Reply,
    Step,
    ToDo,
)
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import Bank, Question, QuestionType, draw_paper, is_correct
from bot.handlers.quiz.export import workbook_bytes
from bot.handlers.quiz.rules import Outcome, cycle_of, minutes_left, outcome, retake_at, toggled
from bot.handlers.quiz.service import Attempt
from bot.services import audit, people, staff_queries

STATS_TOP = 10
MISSED_PER_MESSAGE = 20  # one line each: a failed paper of 20 questions is one message
REVIEW_PREFIX = "qzr"


def shown_choices(question: Question, order: Sequence[int], chosen: Sequence[int]) -> tuple[str, str]:
    """What the person chose and what was right, as shown on their paper: letters (A–D) of the positions drawn,
    or the words themselves for a true/false question."""

    def shown(positions: Sequence[int]) -> str:
        if question.type is QuestionType.TRUEFALSE:
            return "、".join(question.options[order[p]] for p in positions)
        return "".join(chr(ord("A") + p) for p in positions)

    right = [p for p, index in enumerate(order) if index in question.answer]
    return shown(sorted(chosen)), shown(right)


class QuizState(StrEnum):
    READY = "ready"  # shown the rules: start or not
    ANSWERING = "answering"  # a question of an open paper is on screen


class QuizFlow:
    name = "quiz"
    prefix = "qz"
    roles = EVERYONE

    def __init__(self, bank: Bank, rng: random.Random | None = None) -> None:
        self.bank = bank
        # The draw is stored with the attempt, so nothing needs to reproduce it: the OS's randomness will do.
        self.rng = rng or random.SystemRandom()

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Resumes a paper in progress; else says when a retake is possible; else shows the rules."""
        current = await quiz.open_attempt(ctx.session, ctx.person.id)
        if current is not None:
            if ctx.now < current.deadline_at:
                return await self.show(ctx, current, [], replace=False)
            return await self.expired(ctx, current)
        cycle = cycle_of(ctx.now, ctx.texts.timezone)
        if best := (await quiz.best_counting(ctx.session, [ctx.person.id], cycle)).get(ctx.person.id):
            return Step.done(Reply(ctx.t("quiz/already_passed", attempt=best, outcome=_outcome(ctx, best).value)))
        previous = await quiz.attempts(ctx.session, ctx.person.id)
        if previous and previous[-1].finished_at is not None:
            allowed_at = retake_at(previous[-1].finished_at, ctx.policy.quiz_retake_cooldown_minutes)
            if ctx.now < allowed_at:
                return Step.done(Reply(ctx.t("quiz/cooldown", at=allowed_at)))
        return Step({"state": QuizState.READY}, [self.intro(ctx)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        """Routes a press to its step; anything else repeats what is expected."""
        match QuizState(state["state"]), event:
            case QuizState.READY, Pick("go"):
                return await self.begin(ctx)
            case QuizState.ANSWERING, Pick("a", (str(index), str(position))) if index.isdigit() and position.isdigit():
                return await self.answer(ctx, state, int(index), int(position))
            case QuizState.ANSWERING, Pick("t", (str(index), str(position))) if index.isdigit() and position.isdigit():
                return await self.toggle(ctx, state, int(index), int(position))
            case QuizState.ANSWERING, Pick("s", (str(index),)) if index.isdigit():
                return await self.submit(ctx, state, int(index))
        return await self.not_understood(ctx, state)

    async def begin(self, ctx: FlowContext) -> Step:
        """Draws a fresh paper (unseen questions first), starts its clock and shows the first question."""
        current = await quiz.open_attempt(ctx.session, ctx.person.id)
        if current is None:
            seen = await quiz.seen_questions(ctx.session, ctx.person.id)
            count = min(ctx.policy.quiz_questions, len(self.bank.questions))
            paper = draw_paper(self.bank, count, self.rng, seen)
            deadline = ctx.now + timedelta(minutes=ctx.policy.quiz_time_limit_minutes)
            cycle = cycle_of(ctx.now, ctx.texts.timezone)
            current = await quiz.start(ctx.session, ctx.person.id, cycle, paper, ctx.now, deadline)
        return await self.show(ctx, current, [], replace=True)

    async def answer(self, ctx: FlowContext, state: dict[str, Any], index: int, position: int) -> Step:
        """Records a single-choice or true/false answer and moves on."""
        checked = await self.current(ctx, state, index)
        if isinstance(checked, Step):
            return checked
        attempt, question = checked
        if question.type is QuestionType.MULTIPLE or position >= len(question.options):
            return await self.not_understood(ctx, state)
        return await self.record(ctx, attempt, index, question, [position])

    async def toggle(self, ctx: FlowContext, state: dict[str, Any], index: int, position: int) -> Step:
        """Ticks or unticks an option of a multiple-choice question."""
        checked = await self.current(ctx, state, index)
        if isinstance(checked, Step):
            return checked
        attempt, question = checked
        if question.type is not QuestionType.MULTIPLE or position >= len(question.options):
            return await self.not_understood(ctx, state)
        return await self.show(ctx, attempt, toggled(state.get("picked", []), position), replace=True)

    async def submit(self, ctx: FlowContext, state: dict[str, Any], index: int) -> Step:
        """Records the ticked options of a multiple-choice question, if any, and moves on."""
        checked = await self.current(ctx, state, index)
        if isinstance(checked, Step):
            return checked
        attempt, question = checked
        picked = [p for p in state.get("picked", []) if p < len(question.options)]
        if question.type is not QuestionType.MULTIPLE:
            return await self.not_understood(ctx, state)
        if not picked:
            step = await self.show(ctx, attempt, [], replace=True)
            return Step(step.state, step.replies, toast=ctx.t("quiz/pick_first"))
        return await self.record(ctx, attempt, index, question, picked)

    async def record(
        self, ctx: FlowContext, attempt: Attempt, index: int, question: Question, chosen: list[int]
    ) -> Step:
        """Stores the answer (the first one stands), then shows the next question or grades the paper."""
        correct = is_correct(question, attempt.paper[index], chosen)
        await quiz.record_answer(ctx.session, attempt.id, index, question.id, chosen, correct, ctx.now)
        if index + 1 < attempt.total:
            return await self.show(ctx, attempt, [], replace=True)
        return await self.finish(ctx, attempt)

    async def finish(self, ctx: FlowContext, attempt: Attempt) -> Step:
        """Grades the paper: score, outcome, explanations of the questions missed (only), a certificate; a
        paper finished implausibly fast goes to the officers instead of counting."""
        graded = await quiz.finish(
            ctx.session, attempt.id, ctx.now, ctx.policy.quiz_pass_mark, ctx.policy.quiz_min_seconds_per_question
        )
        assert graded.finished_at is not None
        result = _outcome(ctx, graded)
        replies = [
            Reply(
                ctx.t(
                    "quiz/result",
                    attempt=graded,
                    outcome=result.value,
                    seconds=int((graded.finished_at - graded.started_at).total_seconds()),
                    pass_mark=ctx.policy.quiz_pass_mark,
                    retake_at=retake_at(graded.finished_at, ctx.policy.quiz_retake_cooldown_minutes),
                ),
                replace=True,
            )
        ]
        replies += await self.explanations(ctx, graded)
        if graded.certificate_code:
            replies.append(certificate_reply(ctx, ctx.person.name, ctx.person.department, graded, ctx.locale))
        outgoing: list[Outgoing] = []
        if result is Outcome.PENDING:
            notice = review_request(ctx, graded)
            officers = await staff_queries.officer_ids(ctx.session)
            outgoing = [Outgoing(o, notice, Priority.REMINDER, "quiz:review") for o in officers if o != ctx.person.id]
        return Step(None, replies, outgoing)

    async def explanations(self, ctx: FlowContext, attempt: Attempt) -> list[Reply]:
        """One line per missed question, what the person chose and what was right, MISSED_PER_MESSAGE a message."""
        items = []
        for answer in await quiz.answers(ctx.session, attempt.id):
            if not answer.is_correct:
                question = self.bank.by_id(answer.question_id)
                drawn = attempt.paper[answer.position]
                chosen, right = shown_choices(question, drawn.order, answer.chosen)
                items.append(
                    ctx.t("quiz/missed_item", number=answer.position + 1, question=question, chosen=chosen, right=right)
                )
        pages = [items[i : i + MISSED_PER_MESSAGE] for i in range(0, len(items), MISSED_PER_MESSAGE)]
        return [
            Reply(ctx.t("quiz/missed_header", count=len(items), page=n + 1, pages=len(pages), items=page))
            for n, page in enumerate(pages)
        ]

    async def on_cancel(self, ctx: FlowContext) -> str | None:
        """Said with /cancel: a paper in progress keeps its clock (it is not ended by leaving the conversation)."""
        current = await quiz.open_attempt(ctx.session, ctx.person.id)
        if current is None or ctx.now >= current.deadline_at:
            return None
        answered = await quiz.answered_count(ctx.session, current.id)
        left = minutes_left(ctx.now, current.deadline_at)
        return ctx.t("quiz/cancel_note", attempt=current, answered=answered, minutes_left=left)

    async def current(self, ctx: FlowContext, state: dict[str, Any], index: int) -> tuple[Attempt, Question] | Step:
        """The open paper and the question on screen; or the step to answer with when the paper is closed,
        out of time, or the press is not for the question now due."""
        attempt = await quiz.get(ctx.session, int(state["attempt"]))
        if attempt is None or attempt.status != quiz.OPEN:
            return Step.done(Reply(ctx.t("quiz/closed"), replace=True))
        if ctx.now >= attempt.deadline_at:
            return await self.expired(ctx, attempt)
        if index != await quiz.answered_count(ctx.session, attempt.id):
            return await self.not_understood(ctx, state)
        return attempt, self.bank.by_id(attempt.paper[index].question_id)

    async def expired(self, ctx: FlowContext, attempt: Attempt) -> Step:
        """Closes a paper whose time ran out (the answer that came too late is not recorded)."""
        closed = await quiz.expire(ctx.session, attempt.id) or attempt
        allowed_at = retake_at(attempt.deadline_at, ctx.policy.quiz_retake_cooldown_minutes)
        text = ctx.t("quiz/expired", attempt=closed, minutes=ctx.policy.quiz_time_limit_minutes, retake_at=allowed_at)
        return Step.done(Reply(text, replace=True))

    async def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected: the rules with their start button, or the question on screen."""
        if QuizState(state["state"]) is QuizState.READY:
            return Step(state, [self.intro(ctx)])
        attempt = await quiz.get(ctx.session, int(state["attempt"]))
        if attempt is None or attempt.status != quiz.OPEN:
            return Step.done(Reply(ctx.t("quiz/closed")))
        if ctx.now >= attempt.deadline_at:
            return await self.expired(ctx, attempt)
        step = await self.show(ctx, attempt, state.get("picked", []), replace=False)
        return Step(step.state, [Reply(ctx.t("quiz/use_buttons")), *step.replies])

    def intro(self, ctx: FlowContext) -> Reply:
        policy = ctx.policy
        text = ctx.t(
            "quiz/intro",
            count=min(policy.quiz_questions, len(self.bank.questions)),
            minutes=policy.quiz_time_limit_minutes,
            pass_mark=policy.quiz_pass_mark,
            excellent_mark=policy.quiz_excellent_mark,
        )
        return Reply(text, [[Button(ctx.t("quiz/btn_start"), "go")]])

    async def show(self, ctx: FlowContext, attempt: Attempt, picked: Sequence[int], *, replace: bool) -> Step:
        """The question now due, with one button per option in the order drawn for this paper."""
        index = await quiz.answered_count(ctx.session, attempt.id)
        drawn = attempt.paper[index]
        question = self.bank.by_id(drawn.question_id)
        options = [question.options[i] for i in drawn.order]
        letters = [chr(ord("A") + p) for p in range(len(options))]
        buttons: list[list[Button]]
        if question.type is QuestionType.TRUEFALSE:
            # 正确 / 错误 in the person's language (the bank's questions themselves are in Chinese).
            options = [ctx.t("quiz/truefalse", value=text) for text in options]
            buttons = [[Button(text, "a", (str(index), str(p))) for p, text in enumerate(options)]]
        elif question.type is QuestionType.SINGLE:
            # The letter alone where buttons are narrow (WeCom's cards): the options are in full in the text.
            buttons = [
                [Button(f"{letters[p]}. {text}", "a", (str(index), str(p)), short=letters[p])]
                for p, text in enumerate(options)
            ]
        else:
            ticks = ["✓ " if p in picked else "" for p in range(len(options))]
            buttons = [
                [Button(f"{ticks[p]}{letters[p]}. {text}", "t", (str(index), str(p)), short=ticks[p] + letters[p])]
                for p, text in enumerate(options)
            ]
            buttons.append([Button(ctx.t("quiz/btn_submit"), "s", (str(index),))])
        text = ctx.t(
            "quiz/question",
            number=index + 1,
            total=attempt.total,
            minutes_left=minutes_left(ctx.now, attempt.deadline_at),
            question=question,
            options=list(zip(letters, options, strict=True)),
            picked=[letters[p] for p in picked],
        )
        state = {"state": QuizState.ANSWERING, "attempt": attempt.id, "picked": list(picked)}
        return Step(state, [Reply(text, buttons, replace=replace)])


class QuizReviewAction:
    """接受 / 驳回 on the officers' notice of a paper finished implausibly fast."""

    prefix = REVIEW_PREFIX
    roles = OFFICERS

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action not in ("ok", "no") or len(args) != 1 or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        attempt = await quiz.get(ctx.session, int(args[0]))
        if attempt is None:
            return Step(None, toast=ctx.t("core/stale_button"))
        if attempt.staff_id == ctx.person.id:
            return Step(None, toast=ctx.t("core/no_right"))
        accept = action == "ok"
        reviewed = await quiz.review(ctx.session, attempt.id, ctx.person.id, accept, ctx.now)
        if reviewed is None:
            return Step(None, toast=ctx.t("quiz/review_taken"))
        await audit.record(
            ctx.session,
            ctx.now,
            ctx.person.id,
            "quiz.accept" if accept else "quiz.reject",
            f"quiz_attempt:{attempt.id}",
            staff_id=attempt.staff_id,
            score=attempt.score,
        )
        person = await people.by_id(ctx.session, attempt.staff_id)
        assert person is not None
        done = Reply(ctx.t("quiz/review_done", person=person, attempt=reviewed, accepted=accept), replace=True)
        notices = [Reply(ctx.texts.render("quiz/reviewed", person.locale, attempt=reviewed, accepted=accept))]
        if reviewed.certificate_code:
            notices.append(certificate_reply(ctx, person.name, person.department, reviewed, person.locale))
        return Step(None, [done], [Outgoing(person.id, n, Priority.REMINDER, "quiz:reviewed") for n in notices])


class QuizStatsFlow:
    """/quizstats [YEAR]: the office sees which questions people get wrong, and gets the year's workbook."""

    name = "quizstats"
    prefix = "qs"
    roles = OFFICERS

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists the most-missed questions with miss rates and the papers waiting for review; attaches the
        workbook."""
        year = int(args.strip()) if args.strip().isdigit() else cycle_of(ctx.now, ctx.texts.timezone)
        missed = await missed_questions(ctx.session, self.bank, year)
        pending = await quiz.pending_reviews(ctx.session)
        papers = await quiz.papers_of(ctx.session, year)
        text = ctx.t("quiz/stats", year=year, missed=missed[:STATS_TOP], pending=pending, papers=papers)
        return Step.done(Reply(text), ctx.export("quiz", year=year))

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        return Step.done()


class QuizExport:
    """Makes /quizstats' workbook of a year (bot/core/exports.py: outside the engine, off its loop)."""

    def __init__(self, bank: Bank) -> None:
        self.bank = bank

    async def __call__(self, ctx: ExportContext, params: Mapping[str, Any]) -> Document:
        year, locale = int(params["year"]), params["locale"]
        missed = await missed_questions(ctx.session, self.bank, year)
        rows = await quiz.export_rows(ctx.session, year)
        content = workbook_bytes(ctx.texts, locale, rows, missed, ctx.policy.quiz_excellent_mark)
        caption = ctx.texts.render("quiz/export_caption", locale, year=year)
        return Document(f"quiz-{year}.xlsx", base64.b64encode(content).decode(), caption)


async def missed_questions(session: AsyncSession, bank: Bank, year: int) -> list[tuple[quiz.MissRate, Question]]:
    """The questions of the bank missed in the year, most missed first."""
    known = {q.id for q in bank.questions}
    return [(m, bank.by_id(m.question_id)) for m in await quiz.most_missed(session, year) if m.question_id in known]


# --- the section of /status ---------------------------------------------------------------------------------
async def _papers(ctx: FlowContext, cycle: int) -> tuple[Attempt | None, Attempt | None, Attempt | None]:
    """The person's paper under way (if any), best counting paper and latest paper of the cycle, read once for the
    section and the to-do."""
    read = await ctx.once(("quiz", cycle), lambda people: quiz.papers(ctx.session, people, cycle))
    return read.current, read.best, read.last


async def quiz_status_section(ctx: FlowContext) -> str | None:
    """This cycle's quiz for the person: best counting paper, the one in progress, or what to do."""
    cycle = cycle_of(ctx.now, ctx.texts.timezone)
    current, best, last = await _papers(ctx, cycle)
    if current is not None and ctx.now >= current.deadline_at:
        await quiz.expire(ctx.session, current.id)
        ctx.forget(("quiz", cycle))
        current, best, last = await _papers(ctx, cycle)
    return ctx.t(
        "quiz/status",
        cycle=cycle,
        best=best,
        best_outcome=_outcome(ctx, best).value if best else None,
        current=current,
        answered=await quiz.answered_count(ctx.session, current.id) if current else 0,
        minutes_left=minutes_left(ctx.now, current.deadline_at) if current else 0,
        last=last,
        last_outcome=_outcome(ctx, last).value if last and last.status != quiz.OPEN else None,
    )


async def quiz_todo(ctx: FlowContext) -> list[ToDo]:
    """The quiz of the cycle until it is passed: to take, to go on with, or nothing while the office reviews."""
    cycle = cycle_of(ctx.now, ctx.texts.timezone)
    current, best, last = await _papers(ctx, cycle)
    if best is not None:
        return []
    if current is not None and ctx.now >= current.deadline_at:
        current = None
    if current is None and last is not None and _outcome(ctx, last) is Outcome.PENDING:
        return []
    left = minutes_left(ctx.now, current.deadline_at) if current else 0
    return [
        ToDo(
            ctx.later("quiz/todo", cycle=cycle, open=current is not None, minutes_left=left),
            "quiz",
            ctx.t("core/word", key="quiz"),
        )
    ]


# --- shared pieces --------------------------------------------------------------------------------------
def certificate_reply(ctx: FlowContext, name: str, department: str, attempt: Attempt, locale: str) -> Reply:
    text = ctx.texts.render(
        "quiz/certificate",
        locale,
        bureau=ctx.policy.bureau_name,
        holder=name,
        department=department,
        attempt=attempt,
        outcome=_outcome(ctx, attempt).value,
    )
    return Reply(text)


def review_request(ctx: FlowContext, attempt: Attempt) -> Reply:
    assert attempt.finished_at is not None
    text = ctx.texts.render(
        "quiz/review_request",
        "zh",
        person=ctx.person,
        attempt=attempt,
        seconds=int((attempt.finished_at - attempt.started_at).total_seconds()),
        min_seconds=ctx.policy.quiz_min_seconds_per_question,
    )
    args = (str(attempt.id),)
    buttons = [
        [
            Button(ctx.texts.render("quiz/btn_accept", "zh"), "ok", args, target=REVIEW_PREFIX),
            Button(ctx.texts.render("quiz/btn_reject", "zh"), "no", args, target=REVIEW_PREFIX),
        ]
    ]
    return Reply(text, buttons)


def _outcome(ctx: FlowContext, attempt: Attempt) -> Outcome:
    return outcome(
        status=attempt.status,
        score=attempt.score,
        passed=attempt.passed,
        review=attempt.review,
        excellent_mark=ctx.policy.quiz_excellent_mark,
    )
