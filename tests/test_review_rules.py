"""The review's pure rules: the chain per kind from the policy, who may decide a stage, the 审查单 number, the
planned date as typed, and working days waited (weekends, holidays and 调休 days by the official calendar)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.config import REVIEW_KINDS, REVIEW_STAGES, ConfigError, Policy, Settings
from bot.domain.levels import Role, parse_roles
from bot.domain.workdays import WorkCalendar
from bot.handlers.review.rules import (
    Kind,
    Stage,
    chain_for,
    escalation_roles,
    is_escalated,
    is_overdue,
    may_review,
    parse_planned_day,
    review_number,
    working_days_waited,
)

TODAY = date(2026, 3, 2)  # a Monday
CALENDAR = WorkCalendar()


def test_one_vocabulary_with_the_policy() -> None:
    assert tuple(Stage) == REVIEW_STAGES and tuple(Kind) == REVIEW_KINDS


def test_the_default_chains_send_exam_and_personnel_items_to_the_leader() -> None:
    policy = Policy()
    chains = {k: chain_for(k, policy.review_chains, policy.review_default_chain) for k in Kind}
    assert chains[Kind.EXAM] == chains[Kind.PERSONNEL] == (Stage.HEAD, Stage.OFFICE, Stage.LEADER)
    assert {chains[k] for k in Kind if k not in (Kind.EXAM, Kind.PERSONNEL)} == {(Stage.HEAD, Stage.OFFICE)}


def test_chains_from_a_policy_file(tmp_path: Path) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(
        'review_default_chain = ["office"]\nreview_limit_days = 3\n'
        '[review_chains]\nstatistics = ["head", "office", "leader"]\nexam = ["office", "leader"]\n'
    )
    policy = Settings.from_env({"BAOMI_POLICY_FILE": str(f)}, workdir=tmp_path).policy
    assert policy.review_limit_days == 3
    assert chain_for(Kind.STATISTICS, policy.review_chains, policy.review_default_chain) == (
        Stage.HEAD,
        Stage.OFFICE,
        Stage.LEADER,
    )
    assert chain_for(Kind.EXAM, policy.review_chains, policy.review_default_chain) == (Stage.OFFICE, Stage.LEADER)
    assert chain_for(Kind.PERSONNEL, policy.review_chains, policy.review_default_chain) == (Stage.OFFICE,)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[review_chains]\nexam = ["head", "principal"]\n', "review_chains.exam must list some of head"),
        ('[review_chains]\nexam = ["office", "office"]\n', "each at most once"),
        ("review_default_chain = []\n", "review_default_chain must list"),
        ('[review_chains]\nsports = ["office"]\n', "unknown kinds \\['sports'\\]"),
        ('review_chains = ["office"]\n', "review_chains must be a table of lists"),
    ],
)
def test_a_bad_chain_is_one_clear_line(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"BAOMI_POLICY_FILE": str(f)}, workdir=tmp_path)


def test_the_roster_names_the_leader_role() -> None:
    assert parse_roles("分管领导") == {Role.STAFF, Role.LEADER}
    assert parse_roles("head;leader") == {Role.STAFF, Role.HEAD, Role.LEADER}


def test_who_may_decide_a_stage() -> None:
    head, officer, leader = (frozenset({Role.STAFF, r}) for r in (Role.HEAD, Role.OFFICER, Role.LEADER))
    assert may_review(Stage.HEAD, head, 3, 3) and not may_review(Stage.HEAD, head, 4, 3)
    assert not may_review(Stage.HEAD, officer, 3, 3)
    assert may_review(Stage.OFFICE, officer, 9, 3) and not may_review(Stage.OFFICE, head, 3, 3)
    assert may_review(Stage.LEADER, leader, 9, 3) and not may_review(Stage.LEADER, officer, 9, 3)
    assert escalation_roles(Stage.HEAD) == escalation_roles(Stage.LEADER) == (Role.OFFICER,)
    assert escalation_roles(Stage.OFFICE) == (Role.LEADER,)


def test_review_numbers() -> None:
    assert review_number(2026, 42) == "SC-2026-0042"
    assert review_number(2027, 12345) == "SC-2027-12345"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("今天", TODAY),
        ("明天", date(2026, 3, 3)),
        ("后天", date(2026, 3, 4)),
        ("2026-03-05", date(2026, 3, 5)),
        ("2026/3/5", date(2026, 3, 5)),
        ("2026年3月5日", date(2026, 3, 5)),
        ("３月５日", date(2026, 3, 5)),  # typed full-width
        ("3/5", date(2026, 3, 5)),
        ("1月5日", date(2027, 1, 5)),  # without a year: the next such day
        ("3月1日", date(2027, 3, 1)),
        ("2026-03-01", None),  # in the past
        ("2027-03-04", None),  # more than a year ahead
        ("2月30日", None),
        ("下周", None),
        ("", None),
    ],
)
def test_planned_dates_as_people_type_them(typed: str, expected: date | None) -> None:
    assert parse_planned_day(typed, TODAY) == expected


def test_working_days_waited_skip_weekends_holidays_and_count_make_up_days() -> None:
    monday, friday = date(2026, 3, 2), date(2026, 3, 6)
    assert [working_days_waited(monday, date(2026, 3, d), CALENDAR) for d in (2, 3, 4, 5, 6)] == [0, 0, 1, 2, 3]
    # Arrived on a Friday: the weekend does not count; Monday and Tuesday do.
    assert [working_days_waited(friday, date(2026, 3, d), CALENDAR) for d in (9, 10, 11)] == [0, 1, 2]
    assert not is_overdue(friday, date(2026, 3, 10), CALENDAR, 2) and is_overdue(friday, date(2026, 3, 11), CALENDAR, 2)
    assert not is_escalated(friday, date(2026, 3, 11), CALENDAR, 2, 1)
    assert is_escalated(friday, date(2026, 3, 12), CALENDAR, 2, 1)
    # Arrived the day before National Day 2026: 1–7 October are holidays, Saturday 10 October a 调休 working day.
    eve = date(2026, 9, 30)
    assert [working_days_waited(eve, date(2026, 10, d), CALENDAR) for d in (7, 8, 9, 10, 11)] == [0, 0, 1, 2, 3]
    # An officer's override counts too: a day given off is not waited.
    off = WorkCalendar({date(2026, 3, 3): False})
    assert working_days_waited(monday, date(2026, 3, 5), off) == 1
