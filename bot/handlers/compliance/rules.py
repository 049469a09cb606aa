"""Compliance at a glance: where each person and each department stands on the duties of the current cycle.

Pure data and arithmetic; bot/services/compliance.py fills it from the database. A duty a person does not owe
(education for general staff, the self-check before October) is None, not "done": rates count only those who
owe it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cached_property

from bot.domain.levels import Level


class Duty(StrEnum):
    PLEDGE = "pledge"  # 签署承诺书
    QUIZ = "quiz"  # 通过答卷
    EDUCATION = "education"  # 半年保密教育 (core and important staff)
    SELF_CHECK = "self_check"  # 年度自查自评 (classified staff, from October)


DUTIES = tuple(Duty)


@dataclass(frozen=True)
class PersonCompliance:
    staff_id: int
    employee_id: str
    name: str
    department_id: int
    department: str
    level: Level
    bound: bool
    pledge: bool  # the pledge of the cycle signed (and not superseded by a material change)
    quiz_score: int | None  # best counting score of the cycle; None: not passed
    educated_on: date | None  # last education within the half-year
    education_owed: bool  # core or important staff
    self_checked: bool
    self_check_owed: bool  # classified staff, once the self-inspection month has come
    departure_approved_on: date | None  # a departure approved and not completed (recorded before procedures)
    declassification_ends_on: date | None  # in a declassification period until this day
    pledge_declined: bool = False  # the pledge of the cycle refused (not signed since): the head should know
    departing: bool = False  # a departure under way (the procedure) or approved and not completed

    def done(self, duty: Duty) -> bool | None:
        """True / False for a duty owed, None for one not owed."""
        if duty is Duty.PLEDGE:
            return self.pledge
        if duty is Duty.QUIZ:
            return self.quiz_score is not None
        if duty is Duty.EDUCATION:
            return (self.educated_on is not None) if self.education_owed else None
        return self.self_checked if self.self_check_owed else None

    @property
    def owing(self) -> tuple[Duty, ...]:
        return tuple(d for d in DUTIES if self.done(d) is False)

    @property
    def compliant(self) -> bool:
        return not self.owing


@dataclass(frozen=True)
class Tally:
    done: int
    owed: int

    @property
    def rate(self) -> float | None:
        """Share done, 0..1; None when nobody owes the duty."""
        return self.done / self.owed if self.owed else None

    @property
    def percent(self) -> int | None:
        rate = self.rate
        return None if rate is None else round(rate * 100)


class InventoryState(StrEnum):
    DONE = "done"  # confirmed, matches the register, nothing missing
    DISCREPANCY = "discrepancy"  # the count differs with nothing missing: the office has still to verify it
    VERIFIED = "verified"  # such a discrepancy, verified by the office (已核实)
    MISSING = "missing"  # carriers missing: an internal 事件 record, followed in /cases

    @classmethod
    def of(cls, matches: bool, missing: int, resolved: bool) -> InventoryState:
        """A confirmed inventory's state: carriers missing are an event record; a count that differs with nothing
        missing is a discrepancy until the office verifies it."""
        if missing:
            return cls.MISSING
        if matches:
            return cls.DONE
        return cls.VERIFIED if resolved else cls.DISCREPANCY

    DUE = "due"  # not confirmed, deadline ahead
    OVERDUE = "overdue"  # not confirmed, deadline passed


@dataclass(frozen=True)
class DepartmentCompliance:
    department_id: int
    name: str
    people: tuple[PersonCompliance, ...]
    inventory_period: str
    inventory_deadline: date
    inventory: InventoryState
    open_cases: int  # a count only: cases reported from this department and not concluded
    leavers: tuple[PersonCompliance, ...] = ()  # left, still in their declassification period; not in any rate
    open_rectifications: int = 0  # 整改 items from self-checks not closed yet
    # The figures alone (the dashboard's, counted by the database): `people` is then empty.
    counted: tuple[int, Mapping[Duty, Tally]] | None = None

    @property
    def headcount(self) -> int:
        return len(self.people) if self.counted is None else self.counted[0]

    def tally(self, duty: Duty) -> Tally:
        if self.counted is not None:
            return self.counted[1][duty]
        owed = [p.done(duty) for p in self.people if p.done(duty) is not None]
        return Tally(sum(1 for d in owed if d), len(owed))

    @cached_property
    def overall(self) -> Tally:
        """Duties done over duties owed, across the department."""
        tallies = [self.tally(d) for d in DUTIES]
        return Tally(sum(t.done for t in tallies), sum(t.owed for t in tallies))

    def due(self, duty: Duty) -> list[PersonCompliance]:
        return [p for p in self.people if p.done(duty) is False]

    @property
    def gap(self) -> int:
        """Duties still owed in the department."""
        overall = self.overall
        return overall.owed - overall.done


def lowest_first(departments: list[DepartmentCompliance]) -> list[DepartmentCompliance]:
    """The dashboard's order: lowest overall compliance first, then the largest gap, then by name."""

    def key(d: DepartmentCompliance) -> tuple[float, int, str]:
        rate = d.overall.rate
        return (1.0 if rate is None else rate, -d.gap, d.name)

    return sorted(departments, key=key)


@dataclass(frozen=True)
class Gap:
    department: str
    duty: Duty
    owed: int
    done: int

    @property
    def missing(self) -> int:
        return self.owed - self.done


def largest_gaps(departments: list[DepartmentCompliance], limit: int = 5) -> list[Gap]:
    """The (department, duty) pairs with the most people still due, largest first."""
    gaps = []
    for d in departments:
        for duty in DUTIES:
            tally = d.tally(duty)
            if tally.owed > tally.done:
                gaps.append(Gap(d.name, duty, tally.owed, tally.done))
    gaps.sort(key=lambda g: (-g.missing, g.department, DUTIES.index(g.duty)))
    return gaps[:limit]
