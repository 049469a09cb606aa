"""Broadcast rules without I/O: audiences, per-person delivery, the deadline, the command-line audience."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from bot.domain.levels import Level, Role
from bot.handlers.broadcasts.rules import (
    Audience,
    AudienceError,
    AudienceSpec,
    Delivery,
    ack_deadline,
    delivery,
    parse_audience,
    tally,
)
from tests.conftest import TZ

STAFF = frozenset({Role.STAFF})
HEAD = frozenset({Role.STAFF, Role.HEAD})


def test_audience_adds_up_within_a_kind_and_narrows_across_kinds() -> None:
    everyone = Audience()
    assert everyone.is_everyone and everyone.includes(7, Level.NONE, STAFF)
    two_departments = everyone.toggle_department(1).toggle_department(2)
    assert two_departments.includes(1, Level.NONE, STAFF) and two_departments.includes(2, Level.CORE, STAFF)
    assert not two_departments.includes(3, Level.CORE, STAFF)
    core_heads = two_departments.toggle_level(Level.CORE).toggle_role(Role.HEAD)
    assert core_heads.includes(1, Level.CORE, HEAD)
    assert not core_heads.includes(1, Level.CORE, STAFF) and not core_heads.includes(1, Level.GENERAL, HEAD)
    assert core_heads.toggle_department(1).toggle_department(2).departments == frozenset()
    assert Audience.from_dict(core_heads.to_dict()) == core_heads


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], Delivery.UNREACHABLE),
        (["unreachable"], Delivery.UNREACHABLE),
        (["unreachable", "sent"], Delivery.DELIVERED),
        (["failed", "pending"], Delivery.PENDING),
        (["sending"], Delivery.PENDING),
        (["failed", "unreachable"], Delivery.FAILED),
    ],
)
def test_delivery_of_one_person_over_their_accounts(statuses: list[str], expected: Delivery) -> None:
    assert delivery(statuses) is expected


def test_tally_counts_people_not_rows() -> None:
    counted = tally([1, 2, 3, 4], [(1, "sent"), (1, "unreachable"), (2, "pending"), (3, "failed")])
    assert (counted.delivered, counted.pending, counted.failed, counted.unreachable) == (1, 1, 1, 1)
    assert counted.total == 4 and not counted.finished and counted.done_fraction == 0.75


def test_deadline_is_the_end_of_the_working_day() -> None:
    assert ack_deadline(date(2026, 3, 2), 3, time(18), TZ) == datetime(2026, 3, 5, 18, tzinfo=TZ)


def test_command_line_audience() -> None:
    assert parse_audience("all") == AudienceSpec()
    spec = parse_audience("department=办公室，考试院；涉密等级=核心;role=负责人")
    assert spec == AudienceSpec(frozenset({"办公室", "考试院"}), frozenset({Level.CORE}), frozenset({Role.HEAD}))
    for bad in ("", "team=a", "level=secret", "role=staff", "department"):
        with pytest.raises(AudienceError):
            parse_audience(bad)
