"""Broadcast rules, pure: who an audience selects, how deliveries add up per person, the acknowledgement
deadline, the progress bar."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.levels import Level, Role, parse_level

# Roles an audience can select; every person is staff, so "staff" would select everyone.
SELECTABLE_ROLES = (Role.HEAD, Role.OFFICER)
ACK_DAY_CHOICES = (1, 3, 7)
MAX_TEXT = 1500  # leaves room for the header and footer within Telegram's 4096 characters


@dataclass(frozen=True)
class Audience:
    """Who a notice goes to. Within a kind the choices add up (this department or that one); across kinds
    they narrow (core staff of these departments). People named one by one are added to whoever the kinds
    choose (only them when no kind is chosen). Nothing chosen means everyone."""

    departments: frozenset[int] = frozenset()
    levels: frozenset[Level] = frozenset()
    roles: frozenset[Role] = frozenset()
    people: frozenset[int] = frozenset()  # staff ids named one by one

    @property
    def is_everyone(self) -> bool:
        return not (self.departments or self.levels or self.roles or self.people)

    @property
    def by_kind(self) -> bool:
        """Whether units, levels or roles are chosen."""
        return bool(self.departments or self.levels or self.roles)

    def includes(self, department_id: int, level: Level, roles: frozenset[Role], staff_id: int | None = None) -> bool:
        if staff_id is not None and staff_id in self.people:
            return True
        if self.people and not self.by_kind:
            return False
        return (
            (not self.departments or department_id in self.departments)
            and (not self.levels or level in self.levels)
            and (not self.roles or bool(self.roles & roles))
        )

    def toggle_department(self, department_id: int) -> Audience:
        return replace(self, departments=self.departments ^ {department_id})

    def toggle_level(self, level: Level) -> Audience:
        return replace(self, levels=self.levels ^ {level})

    def toggle_role(self, role: Role) -> Audience:
        return replace(self, roles=self.roles ^ {role})

    def toggle_person(self, staff_id: int) -> Audience:
        return replace(self, people=self.people ^ {staff_id})

    def to_dict(self) -> dict[str, Any]:
        return {
            "departments": sorted(self.departments),
            "levels": sorted(level.value for level in self.levels),
            "roles": sorted(role.value for role in self.roles),
            "people": sorted(self.people),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Audience:
        return cls(
            frozenset(int(d) for d in data.get("departments", ())),
            frozenset(Level(v) for v in data.get("levels", ())),
            frozenset(Role(v) for v in data.get("roles", ())),
            frozenset(int(p) for p in data.get("people", ())),
        )


@dataclass(frozen=True)
class AudienceSpec:
    """An audience as typed on the command line, departments still by name."""

    departments: frozenset[str] = frozenset()
    levels: frozenset[Level] = frozenset()
    roles: frozenset[Role] = frozenset()


class AudienceError(ValueError):
    pass


_KEYS = {
    "department": "departments",
    "部门": "departments",
    "level": "levels",
    "涉密等级": "levels",
    "role": "roles",
    "角色": "roles",
}
_ROLES = {"head": Role.HEAD, "负责人": Role.HEAD, "officer": Role.OFFICER, "保密员": Role.OFFICER}


def parse_audience(text: str) -> AudienceSpec:
    """`all`, or `department=办公室,考试院;level=core;role=head` (Chinese keys and values accepted too)."""
    text = text.strip()
    if text.lower() in ("all", "全体", "全体人员"):
        return AudienceSpec()
    chosen: dict[str, set[Any]] = {"departments": set(), "levels": set(), "roles": set()}
    for part in text.replace("；", ";").split(";"):
        if not part.strip():
            continue
        key, sep, values = part.partition("=")
        kind = _KEYS.get(key.strip().lower())
        if not sep or kind is None:
            raise AudienceError(f"unknown audience part {part.strip()!r} (use department=…, level=…, role=…)")
        for raw in values.replace("，", ",").split(","):
            value = raw.strip()
            if not value:
                continue
            if kind == "departments":
                chosen[kind].add(value)
            elif kind == "levels":
                if (level := parse_level(value)) is None:
                    raise AudienceError(f"unknown level {value!r}")
                chosen[kind].add(level)
            else:
                if (role := _ROLES.get(value.lower())) is None:
                    raise AudienceError(f"unknown role {value!r} (head or officer)")
                chosen[kind].add(role)
    if not any(chosen.values()):
        raise AudienceError("empty audience (write `all` for everyone)")
    return AudienceSpec(frozenset(chosen["departments"]), frozenset(chosen["levels"]), frozenset(chosen["roles"]))


class Delivery(StrEnum):
    """Where a notice stands for one person, over all their chat accounts."""

    DELIVERED = "delivered"  # arrived on at least one account
    PENDING = "pending"  # still being sent or retried
    UNREACHABLE = "unreachable"  # no account could take it (none bound, or all blocked the bot)
    FAILED = "failed"  # the channel refused it for good


def delivery(statuses: Iterable[str]) -> Delivery:
    """From the outbox statuses of one person's rows (none when they had no reachable account)."""
    seen = set(statuses)
    if "sent" in seen:
        return Delivery.DELIVERED
    if seen & {"pending", "sending"}:
        return Delivery.PENDING
    if not seen or seen == {"unreachable"}:
        return Delivery.UNREACHABLE
    return Delivery.FAILED


@dataclass(frozen=True)
class Tally:
    delivered: int = 0
    pending: int = 0
    unreachable: int = 0
    failed: int = 0
    by_person: dict[int, Delivery] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> int:
        return self.delivered + self.pending + self.unreachable + self.failed

    @property
    def finished(self) -> bool:
        return self.pending == 0

    @property
    def done_fraction(self) -> float:
        return 1.0 if self.total == 0 else (self.total - self.pending) / self.total


def tally(recipients: Iterable[int], statuses: Iterable[tuple[int, str]]) -> Tally:
    """Count people by where their notice stands, from (staff id, outbox status) pairs."""
    rows: dict[int, list[str]] = {person: [] for person in recipients}
    for person, status in statuses:
        rows.setdefault(person, []).append(status)
    by_person = {person: delivery(found) for person, found in rows.items()}
    counts = {state: 0 for state in Delivery}
    for state in by_person.values():
        counts[state] += 1
    return Tally(
        counts[Delivery.DELIVERED],
        counts[Delivery.PENDING],
        counts[Delivery.UNREACHABLE],
        counts[Delivery.FAILED],
        by_person,
    )


def bar(fraction: float, width: int = 20) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def ack_deadline(local_today: date, days: int, end_of_day: time, tz: Any) -> datetime:
    """The end of the working day `days` calendar days from today, in the bureau's time zone."""
    return datetime.combine(local_today + timedelta(days=days), end_of_day, tzinfo=tz)
