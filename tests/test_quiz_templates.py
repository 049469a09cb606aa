"""Every quiz text renders in both languages with the context its caller gives (StrictUndefined fails on a
missing name), and the Chinese and English texts differ."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.handlers.quiz.bank import TOPICS, WHOLE_FILE, DrawnQuestion, Location, QuestionType, load_bank
from bot.handlers.quiz.rules import Outcome
from bot.handlers.quiz.service import BANK_PATH, Attempt, MissRate
from bot.texts import MESSAGES, Texts
from tests.conftest import TZ

BANK = load_bank(BANK_PATH)
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
ATTEMPT = Attempt(
    id=1,
    staff_id=1,
    cycle=2026,
    paper=(DrawnQuestion("q001", (0, 1, 2, 3)),),
    status="finished",
    started_at=NOW - timedelta(minutes=5),
    deadline_at=NOW + timedelta(minutes=15),
    finished_at=NOW,
    correct=1,
    score=100,
    passed=True,
    review=None,
    certificate_code="ABCDEFGHJKMN",
)
PERSON = SimpleNamespace(name="陈静", employee_id="E102", department="基础教育科")
MULTIPLE = next(q for q in BANK.questions if q.type is QuestionType.MULTIPLE)
CONTEXTS: dict[str, list[dict[str, Any]]] = {
    "intro": [{"count": 20, "minutes": 20, "pass_mark": 80, "excellent_mark": 95}],
    "btn_start": [{}],
    "question": [
        {"number": 1, "total": 20, "minutes_left": 3, "question": q, "options": [("A", "x")], "picked": picked}
        for q, picked in ((BANK.questions[0], []), (MULTIPLE, ["A", "C"]))
    ],
    "btn_submit": [{}],
    "pick_first": [{}],
    "use_buttons": [{}],
    "result": [
        {"attempt": ATTEMPT, "outcome": o.value, "seconds": 75, "pass_mark": 80, "retake_at": NOW}
        for o in (Outcome.EXCELLENT, Outcome.FAILED, Outcome.PENDING)
    ],
    "missed_header": [{"count": 2, "page": 1, "pages": p, "items": ["第 3 题"]} for p in (1, 2)],
    "missed_item": [{"number": 3, "question": BANK.questions[0], "chosen": c, "right": "C"} for c in ("B", "")],
    "already_passed": [{"attempt": ATTEMPT, "outcome": o} for o in ("excellent", "passed")],
    "cancel_note": [{"attempt": ATTEMPT, "answered": 3, "minutes_left": 12}],
    "todo": [{"cycle": 2026, "open": o, "minutes_left": 5} for o in (True, False)],
    "truefalse": [{"value": v} for v in ("正确", "错误")],
    "certificate": [{"bureau": "教育局", "holder": "陈静", "department": "x", "attempt": ATTEMPT, "outcome": "passed"}],
    "review_request": [{"person": PERSON, "attempt": ATTEMPT, "seconds": 20, "min_seconds": 3.0}],
    "btn_accept": [{}],
    "btn_reject": [{}],
    "review_done": [{"person": PERSON, "attempt": ATTEMPT, "accepted": a} for a in (True, False)],
    "review_taken": [{}],
    "reviewed": [{"attempt": ATTEMPT, "accepted": a} for a in (True, False)],
    "expired": [{"attempt": ATTEMPT, "minutes": 20, "retake_at": NOW}],
    "closed": [{}],
    "cooldown": [{"at": NOW}],
    "status": [
        {"best": b, "best_outcome": bo, "current": c, "last": la, "last_outcome": lo}
        for b, bo, c, la, lo in (
            (ATTEMPT, "excellent", None, ATTEMPT, "excellent"),
            (None, None, ATTEMPT, None, None),
            (None, None, None, ATTEMPT, "pending"),
            (None, None, None, ATTEMPT, "failed"),
            (None, None, None, None, None),
        )
    ],
    "stats": [
        {"year": 2026, "missed": m, "pending": 1, "papers": 3}
        for m in ([(MissRate("q001", 4, 1), BANK.questions[0])], [])
    ],
    "export_caption": [{"year": 2026}],
    "export_columns": [{"sheet": s} for s in ("papers", "missed")],
    "export_sheet": [{"sheet": s} for s in ("papers", "missed")],
    "outcome": [{"outcome": o} for o in [*(o.value for o in Outcome), "open"]],
    "review_word": [{"review": r} for r in ("pending", "accepted", "rejected")],
    # Every code is rendered in tests/test_quizbank.py; here, one for each kind of location.
    "bank_problem": [
        {"where": Location(question="q001"), "code": "answer_out_of_range", "letter": "E", "options": 4},
        {"where": Location(line=12), "code": "duplicate_id", "id": "q001", "first_line": 3},
        {"where": TOPICS, "code": "duplicate_topic", "topic": "涉密人员"},
        {"where": WHOLE_FILE, "code": "not_a_bank"},
    ],
}
STATUS_EXTRA = {"cycle": 2026, "answered": 3, "minutes_left": 7}


def test_every_quiz_template_has_a_context_here() -> None:
    names = {p.name.removesuffix(".en.j2").removesuffix(".j2") for p in (MESSAGES / "quiz").glob("*.j2")}
    assert names == set(CONTEXTS)


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_quiz_template_renders_in_both_languages(name: str) -> None:
    texts = Texts(TZ)
    for context in CONTEXTS[name]:
        full = {**STATUS_EXTRA, **context} if name == "status" else context
        zh = texts.render(f"quiz/{name}", "zh", **full)
        en = texts.render(f"quiz/{name}", "en", **full)
        assert zh and en
        if name not in ("export_caption",) and any("\u4e00" <= ch <= "\u9fff" for ch in zh):
            assert zh != en


def test_menu_texts() -> None:
    texts = Texts(TZ)
    for command in ("quiz", "quizstats"):
        assert texts.render(f"menu/{command}", "zh") != texts.render(f"menu/{command}", "en")
