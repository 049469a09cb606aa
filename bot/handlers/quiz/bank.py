"""Question bank for the confidentiality knowledge quiz (保密知识答卷): checking, loading, drawing, scoring.

The bank is a hand-edited YAML file, so `check_bank_text` reports every problem at once, each with the
question id (or the line when there is no usable id), so an editor can fix the whole file in one pass.
A problem is a location, a code and its parameters; the wording shown to a person is in
messages/quiz/bank_problem.j2 (one branch per code).
"""

from __future__ import annotations

import functools
import random
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import yaml

MIN_OPTIONS = 3
MAX_OPTIONS = 5
# One inline button per option on a phone screen; longer texts get cut off.
MAX_OPTION_CHARS = 30
TRUE_FALSE_OPTIONS = ("正确", "错误")
MIN_DIFFICULTY = 1
MAX_DIFFICULTY = 3

_ID_PATTERN = re.compile(r"q\d{3,}")
_ANSWER_PATTERN = re.compile(r"[A-Z]+")
_FIELDS = ("id", "type", "topic", "difficulty", "text", "options", "answer", "explanation", "source")
_REQUIRED_FIELDS = ("id", "type", "topic", "difficulty", "text", "answer", "explanation", "source")
_TOP_LEVEL_KEYS = ("topics", "questions")


class QuestionType(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"
    TRUEFALSE = "truefalse"


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    topic: str
    difficulty: int
    text: str
    options: tuple[str, ...]
    answer: frozenset[int]  # indices into `options`
    explanation: str
    source: str


@dataclass(frozen=True)
class Bank:
    topics: tuple[str, ...]
    questions: tuple[Question, ...]
    _index: dict[str, Question] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, Question] = {}
        for question in self.questions:
            if question.id in index:
                raise ValueError(f"duplicate question id {question.id}")
            index[question.id] = question
        object.__setattr__(self, "_index", index)

    def by_id(self, qid: str) -> Question:
        """Raises KeyError for an id not in the bank (e.g. a paper drawn from an older bank)."""
        return self._index[qid]


@dataclass(frozen=True)
class Location:
    """Where a problem is: a question by its id; else a line of the file (a question without a usable id, a YAML
    syntax error, a repeated key); else the topics list; with nothing set, the file as a whole."""

    question: str | None = None
    line: int | None = None  # 1-based
    topics: bool = False


WHOLE_FILE = Location()
TOPICS = Location(topics=True)


class BankCode(StrEnum):
    """What is wrong; the parameters each code carries are listed beside it."""

    # The file as a whole (or the line the YAML parser stopped at).
    YAML_SYNTAX = "yaml_syntax"  # detail: the parser's own (English) description, or None
    YAML_ERROR = "yaml_error"  # error: the parser's message
    NOT_A_BANK = "not_a_bank"
    UNKNOWN_TOP_KEY = "unknown_top_key"  # key
    NO_QUESTIONS = "no_questions"
    DUPLICATE_KEY = "duplicate_key"  # key, first_line (at the line of the repeated key)
    # The topics list.
    NO_TOPICS = "no_topics"
    INVALID_TOPIC = "invalid_topic"  # value: the item as Python writes it (repr), e.g. ''
    DUPLICATE_TOPIC = "duplicate_topic"  # topic
    # One question.
    NOT_A_MAPPING = "not_a_mapping"
    DUPLICATE_ID = "duplicate_id"  # id, first_line
    DUPLICATE_TEXT = "duplicate_text"  # first: the Location of the question with the same text
    UNKNOWN_FIELD = "unknown_field"  # field
    MISSING_FIELD = "missing_field"  # field: one of id type topic difficulty text options answer explanation source
    NOT_TEXT = "not_text"  # field
    EMPTY_TEXT = "empty_text"  # field
    BAD_ID = "bad_id"  # id
    UNKNOWN_TYPE = "unknown_type"  # type
    UNKNOWN_TOPIC = "unknown_topic"  # topic
    BAD_DIFFICULTY = "bad_difficulty"  # value: as written in the file
    TRUEFALSE_OPTIONS = "truefalse_options"
    OPTIONS_NOT_LIST = "options_not_list"
    OPTION_COUNT = "option_count"  # count, min, max
    EMPTY_OPTION = "empty_option"  # letter
    OPTION_TOO_LONG = "option_too_long"  # letter, limit, length
    DUPLICATE_OPTION = "duplicate_option"  # letter, first_letter
    TRUEFALSE_ANSWER = "truefalse_answer"  # value: as written in the file
    BAD_ANSWER = "bad_answer"  # value: as written in the file
    REPEATED_LETTER = "repeated_letter"  # letter
    ANSWER_OUT_OF_RANGE = "answer_out_of_range"  # letter, options: how many there are
    SINGLE_ANSWER_COUNT = "single_answer_count"  # count
    MULTIPLE_ANSWER_COUNT = "multiple_answer_count"  # count
    HALF_WIDTH_PUNCTUATION = "half_width_punctuation"  # field, mark, letter (an option's, else None)


@dataclass(frozen=True)
class BankProblem:
    """One problem at one place; a question with several problems has several BankProblems, in the order found."""

    where: Location
    code: BankCode
    params: Mapping[str, object] = field(default_factory=dict)


class BankError(Exception):
    def __init__(self, problems: Sequence[BankProblem], path: Path | None = None) -> None:
        self.problems = tuple(problems)
        self.path = path  # the file checked, when there is one
        super().__init__(f"{len(self.problems)} problem(s) in the question bank" + (f" {path}" if path else ""))


class _Report(Protocol):
    """Records a problem with the question being checked."""

    def __call__(self, code: BankCode, /, **params: object) -> None: ...


@dataclass(frozen=True)
class DrawnQuestion:
    question_id: str
    order: tuple[int, ...]  # order[i] = index in question.options of the option displayed at position i


def check_bank_text(yaml_text: str) -> list[BankProblem]:
    return _parse(yaml_text)[1]


def load_bank(path: Path) -> Bank:
    """The bank in `path`, checked; read once for each version of the file (a bank is immutable)."""
    return _load_bank(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _load_bank(path: Path, version: int) -> Bank:
    bank, problems = _parse(path.read_text(encoding="utf-8"))
    if problems or bank is None:
        raise BankError(problems, path)
    return bank


def draw_paper(bank: Bank, n: int, rng: random.Random, seen: Collection[str] = ()) -> list[DrawnQuestion]:
    """Draw n distinct questions with shuffled options.

    Questions not in `seen` are used up before any seen one, so a person retaking the quiz gets new
    questions for as long as the bank has them. Within each of those two tiers every pick goes to the
    topic drawn least so far (ties in a shuffled topic order), which is a round-robin over the topics
    that keeps their counts within one of each other unless a topic runs out.
    """
    if not 0 <= n <= len(bank.questions):
        raise ValueError(f"cannot draw {n} questions from a bank of {len(bank.questions)}")
    seen_ids = set(seen)
    pools: dict[str, tuple[list[Question], list[Question]]] = {}
    for question in bank.questions:
        unseen_pool, seen_pool = pools.setdefault(question.topic, ([], []))
        (seen_pool if question.id in seen_ids else unseen_pool).append(question)
    topics = list(pools)
    rng.shuffle(topics)
    for unseen_pool, seen_pool in pools.values():
        rng.shuffle(unseen_pool)
        rng.shuffle(seen_pool)

    counts = dict.fromkeys(topics, 0)
    picked: list[Question] = []
    for tier in (0, 1):
        while len(picked) < n:
            available = [t for t in topics if pools[t][tier]]
            if not available:
                break
            topic = min(available, key=lambda t: counts[t])
            picked.append(pools[topic][tier].pop())
            counts[topic] += 1
    return [DrawnQuestion(q.id, _shuffled_order(q, rng)) for q in picked]


def is_correct(question: Question, drawn: DrawnQuestion, chosen_positions: Collection[int]) -> bool:
    """Whether the displayed positions the person chose are exactly the right options."""
    if drawn.question_id != question.id:
        raise ValueError(f"drawn question {drawn.question_id} is not {question.id}")
    if sorted(drawn.order) != list(range(len(question.options))):
        raise ValueError(f"order {drawn.order} does not fit the options of {question.id}")
    if any(not 0 <= p < len(drawn.order) for p in chosen_positions):
        raise ValueError(f"chosen positions {sorted(chosen_positions)} out of range for {question.id}")
    return {drawn.order[p] for p in chosen_positions} == question.answer


def score_percent(correct: int, total: int) -> int:
    """Percentage rounded half up (so 1 of 8 is 13, not the 12 banker's rounding would give)."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"invalid score {correct}/{total}")
    return (200 * correct + total) // (2 * total)


def _shuffled_order(question: Question, rng: random.Random) -> tuple[int, ...]:
    if question.type is QuestionType.TRUEFALSE:
        # 正确 before 错误 everywhere, so people do not misread a swapped pair.
        return tuple(range(len(question.options)))
    return tuple(rng.sample(range(len(question.options)), len(question.options)))


# Chinese text takes full-width punctuation (，；：？！（）): a half-width mark next to a Chinese character or a
# full-width mark is a slip. Marks between Latin letters or digits (3.5, A/B, e.g.) are left alone.
_CHINESE = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef“”‘’]"
_HALF_WIDTH = re.compile(rf"(?<={_CHINESE})[,;:?!()]|[,;:?!()](?={_CHINESE})")


def half_width_mark(text: str) -> str | None:
    """The first half-width punctuation mark written in Chinese text, or None."""
    found = _HALF_WIDTH.search(text)
    return found.group() if found else None


def _letter(index: int) -> str:
    return chr(ord("A") + index)


def _normalised(text: str) -> str:
    """Texts that differ only in spacing, punctuation, full/half width or case count as the same."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if not ch.isspace() and not unicodedata.category(ch).startswith("P"))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _parse(yaml_text: str) -> tuple[Bank | None, list[BankProblem]]:
    try:
        loader = yaml.SafeLoader(yaml_text)
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(line=mark.line + 1) if mark is not None else WHOLE_FILE
        detail = exc.problem or exc.context
        return None, [BankProblem(where, BankCode.YAML_SYNTAX, {"detail": detail})]
    except yaml.YAMLError as exc:
        return None, [BankProblem(WHOLE_FILE, BankCode.YAML_ERROR, {"error": str(exc)})]

    if root is None or not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        return None, [BankProblem(WHOLE_FILE, BankCode.NOT_A_BANK)]

    problems = _duplicate_keys(root)
    for key in data:
        if key not in _TOP_LEVEL_KEYS:
            problems.append(BankProblem(WHOLE_FILE, BankCode.UNKNOWN_TOP_KEY, {"key": key}))
    topics = _check_topics(data.get("topics"), problems)

    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append(BankProblem(WHOLE_FILE, BankCode.NO_QUESTIONS))
        return None, problems
    question_nodes = _value_node(root, "questions")
    assert isinstance(question_nodes, yaml.SequenceNode)  # data["questions"] was constructed from it

    questions: list[Question] = []
    first_line_of_id: dict[str, int] = {}
    first_place_of_text: dict[str, Location] = {}
    for raw, node in zip(raw_questions, question_nodes.value, strict=True):
        line = _line(node)
        if not isinstance(raw, dict):
            problems.append(BankProblem(Location(line=line), BankCode.NOT_A_MAPPING))
            continue
        qid = raw.get("id")
        place = Location(line=line)
        if isinstance(qid, str) and _ID_PATTERN.fullmatch(qid):
            if qid in first_line_of_id:
                problems.append(
                    BankProblem(place, BankCode.DUPLICATE_ID, {"id": qid, "first_line": first_line_of_id[qid]})
                )
            else:
                first_line_of_id[qid] = line
                place = Location(question=qid)
        text = raw.get("text")
        if isinstance(text, str) and _normalised(text):
            key = _normalised(text)
            if key in first_place_of_text:
                problems.append(BankProblem(place, BankCode.DUPLICATE_TEXT, {"first": first_place_of_text[key]}))
            else:
                first_place_of_text[key] = place
        question = _check_question(raw, place, topics, problems)
        if question is not None:
            questions.append(question)

    if problems:
        return None, problems
    return Bank(tuple(topics), tuple(questions)), problems


def _value_node(mapping: yaml.MappingNode, key: str) -> yaml.Node | None:
    # The last occurrence wins, as in the constructed data.
    found = None
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = value_node
    return found


def _duplicate_keys(node: yaml.Node) -> list[BankProblem]:
    """PyYAML silently keeps the last of two equal keys, which would hide e.g. a second `answer:` line."""
    problems: list[BankProblem] = []
    if isinstance(node, yaml.MappingNode):
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in first_seen:
                    params = {"key": key_node.value, "first_line": _line(first_seen[key_node.value])}
                    problems.append(BankProblem(Location(line=_line(key_node)), BankCode.DUPLICATE_KEY, params))
                else:
                    first_seen[key_node.value] = key_node
            problems.extend(_duplicate_keys(value_node))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems.extend(_duplicate_keys(item))
    return problems


def _check_topics(raw: Any, problems: list[BankProblem]) -> list[str]:
    if not isinstance(raw, list) or not raw:
        problems.append(BankProblem(TOPICS, BankCode.NO_TOPICS))
        return []
    topics: list[str] = []
    for item in raw:
        if not isinstance(item, str) or not item.strip():
            problems.append(BankProblem(TOPICS, BankCode.INVALID_TOPIC, {"value": repr(item)}))
        elif item in topics:
            problems.append(BankProblem(TOPICS, BankCode.DUPLICATE_TOPIC, {"topic": item}))
        else:
            topics.append(item)
    return topics


def _check_question(
    raw: dict[Any, Any], where: Location, topics: list[str], problems: list[BankProblem]
) -> Question | None:
    found: list[BankProblem] = []

    def problem(code: BankCode, /, **params: object) -> None:
        found.append(BankProblem(where, code, params))

    for key in raw:
        if key not in _FIELDS:
            problem(BankCode.UNKNOWN_FIELD, field=key)
    for key in _REQUIRED_FIELDS:
        if key not in raw:
            problem(BankCode.MISSING_FIELD, field=key)

    def text_field(key: str) -> str | None:
        if key not in raw:
            return None
        value = raw[key]
        if not isinstance(value, str):
            problem(BankCode.NOT_TEXT, field=key)
            return None
        if not value.strip():
            problem(BankCode.EMPTY_TEXT, field=key)
            return None
        return value.strip()

    qid = text_field("id")
    if qid is not None and not _ID_PATTERN.fullmatch(qid):
        problem(BankCode.BAD_ID, id=qid)

    qtype: QuestionType | None = None
    raw_type = text_field("type")
    if raw_type is not None:
        if raw_type in {t.value for t in QuestionType}:
            qtype = QuestionType(raw_type)
        else:
            problem(BankCode.UNKNOWN_TYPE, type=raw_type)

    topic = text_field("topic")
    if topic is not None and topics and topic not in topics:
        problem(BankCode.UNKNOWN_TOPIC, topic=topic)

    difficulty = raw.get("difficulty")
    if "difficulty" in raw and (
        isinstance(difficulty, bool)
        or not isinstance(difficulty, int)
        or not MIN_DIFFICULTY <= difficulty <= MAX_DIFFICULTY
    ):
        problem(BankCode.BAD_DIFFICULTY, value=difficulty)

    text = text_field("text")
    explanation = text_field("explanation")
    source = text_field("source")  # a quotation: its punctuation is the quoted text's
    for key, value in (("text", text), ("explanation", explanation)):
        if value is not None and (mark := half_width_mark(value)):
            problem(BankCode.HALF_WIDTH_PUNCTUATION, field=key, mark=mark, letter=None)

    options = _check_options(raw, qtype, problem)
    answer = _check_answer(raw, qtype, options, problem)

    problems.extend(found)
    if (
        found
        or qid is None
        or qtype is None
        or topic is None
        or not isinstance(difficulty, int)
        or text is None
        or explanation is None
        or source is None
        or options is None
        or answer is None
    ):
        return None
    return Question(qid, qtype, topic, difficulty, text, options, answer, explanation, source)


def _check_options(raw: dict[Any, Any], qtype: QuestionType | None, problem: _Report) -> tuple[str, ...] | None:
    if qtype is QuestionType.TRUEFALSE:
        if "options" in raw:
            problem(BankCode.TRUEFALSE_OPTIONS)
            return None
        return TRUE_FALSE_OPTIONS
    if "options" not in raw:
        if qtype is not None:
            problem(BankCode.MISSING_FIELD, field="options")
        return None
    raw_options = raw["options"]
    if not isinstance(raw_options, list):
        problem(BankCode.OPTIONS_NOT_LIST)
        return None

    ok = True
    if not MIN_OPTIONS <= len(raw_options) <= MAX_OPTIONS:
        problem(BankCode.OPTION_COUNT, count=len(raw_options), min=MIN_OPTIONS, max=MAX_OPTIONS)
        ok = False
    first_letter_of: dict[str, str] = {}
    for index, option in enumerate(raw_options):
        letter = _letter(index)
        if not isinstance(option, str) or not option.strip():
            problem(BankCode.EMPTY_OPTION, letter=letter)
            ok = False
            continue
        option_text = option.strip()
        if mark := half_width_mark(option_text):
            problem(BankCode.HALF_WIDTH_PUNCTUATION, field="options", mark=mark, letter=letter)
            ok = False
        if len(option_text) > MAX_OPTION_CHARS:
            problem(BankCode.OPTION_TOO_LONG, letter=letter, limit=MAX_OPTION_CHARS, length=len(option_text))
            ok = False
        key = _normalised(option_text)
        if key in first_letter_of:
            problem(BankCode.DUPLICATE_OPTION, letter=letter, first_letter=first_letter_of[key])
            ok = False
        else:
            first_letter_of[key] = letter
    if not ok:
        return None
    return tuple(option.strip() for option in raw_options)


def _check_answer(
    raw: dict[Any, Any], qtype: QuestionType | None, options: tuple[str, ...] | None, problem: _Report
) -> frozenset[int] | None:
    if "answer" not in raw or qtype is None:
        return None
    value = raw["answer"]
    if qtype is QuestionType.TRUEFALSE:
        if not isinstance(value, bool):
            problem(BankCode.TRUEFALSE_ANSWER, value=value)
            return None
        return frozenset({0 if value else 1})

    if not isinstance(value, str) or not _ANSWER_PATTERN.fullmatch(value.strip()):
        problem(BankCode.BAD_ANSWER, value=value)
        return None
    letters = value.strip()
    ok = True
    for letter in sorted(set(letters)):
        if letters.count(letter) > 1:
            problem(BankCode.REPEATED_LETTER, letter=letter)
            ok = False
    if options is not None:
        for letter in sorted(set(letters)):
            if ord(letter) - ord("A") >= len(options):
                problem(BankCode.ANSWER_OUT_OF_RANGE, letter=letter, options=len(options))
                ok = False
    count = len(set(letters))
    if qtype is QuestionType.SINGLE and count != 1:
        problem(BankCode.SINGLE_ANSWER_COUNT, count=count)
        ok = False
    if qtype is QuestionType.MULTIPLE and count < 2:
        problem(BankCode.MULTIPLE_ANSWER_COUNT, count=count)
        ok = False
    if not ok or options is None:
        return None
    return frozenset(ord(letter) - ord("A") for letter in letters)
