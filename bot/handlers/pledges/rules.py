"""Confidentiality pledges (保密承诺书): kinds, cycles, versions and the hash chain of signatures.

第十二条: every person signs a pledge, temporary staff once a year, and the text is revised as the situation
requires; 第十三条: a person leaving a classified post signs a departure pledge. Pure rules, no I/O.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

GENESIS = "0" * 64
FINGERPRINT_LENGTH = 12


class PledgeKind(StrEnum):
    ONBOARDING = "onboarding"  # 上岗: on taking up a classified post
    ANNUAL = "annual"  # 在岗: every cycle while in the post
    DEPARTURE = "departure"  # 离岗: the legal basis of the declassification period
    SPECIAL = "special"  # 专项: for a named task


# Kinds asked for one at a time by a request (the annual pledge is owed by everyone, every cycle).
REQUESTED_KINDS = (PledgeKind.DEPARTURE, PledgeKind.ONBOARDING, PledgeKind.SPECIAL)
# An onboarding pledge covers the in-post duties of the cycle it is signed in: nobody signs twice in a month.
ANNUAL_COVER = (PledgeKind.ANNUAL, PledgeKind.ONBOARDING)


def takes_up_post(hired_on: date | None, added_on: date, launch: date) -> bool:
    """Whether the 上岗 pledge is owed (第七条 4. 对新上岗人员进行保密教育岗前培训，签订保密承诺书): a person hired on
    or after the bureau started using the bot, or without a hire date added to the roster after that day. Those in
    post already owe the yearly pledge instead."""
    if hired_on is not None:
        return hired_on >= launch
    return added_on > launch


class Outcome(StrEnum):
    SIGNED = "signed"
    DECLINED = "declined"


class PledgeState(StrEnum):
    SIGNED = "signed"
    PENDING = "pending"
    RESIGN = "resign"  # signed, but the text has since changed materially
    DECLINED = "declined"


@dataclass(frozen=True)
class PledgeVersion:
    kind: PledgeKind
    number: int
    material: bool  # a material change: whoever signed an older version signs again in the current cycle
    template: str | None  # e.g. "pledges/annual_v2", rendered per person; None: retired, no longer shown
    effective: date


@dataclass(frozen=True)
class Catalog:
    """Every version of every kind; validated when loaded."""

    versions: tuple[PledgeVersion, ...]

    def of(self, kind: PledgeKind) -> list[PledgeVersion]:
        return sorted((v for v in self.versions if v.kind is kind), key=lambda v: v.number)

    def current(self, kind: PledgeKind, day: date) -> PledgeVersion:
        """The version shown and signed on `day`: the newest in force whose text is still shown. A retired
        version's days are served by the next one, and the first shown also stands in before its date."""
        shown = [v for v in self.of(kind) if v.template is not None]
        in_force = [v for v in shown if v.effective <= day]
        return in_force[-1] if in_force else shown[0]

    def superseded(self, kind: PledgeKind, number: int, day: date) -> bool:
        """Whether a materially changed version newer than `number` is in force on `day`."""
        return any(v.material and v.number > number and v.effective <= day for v in self.of(kind))


def check_catalog(catalog: Catalog) -> None:
    """Raise ValueError unless every kind has versions 1, 2, … taking effect in that order."""
    for kind in PledgeKind:
        versions = catalog.of(kind)
        if [v.number for v in versions] != list(range(1, len(versions) + 1)) or not versions:
            raise ValueError(f"pledge catalogue: {kind} needs versions numbered 1, 2, … without gaps")
        dates = [v.effective for v in versions]
        if dates != sorted(dates):
            raise ValueError(f"pledge catalogue: {kind} versions must take effect in the order of their numbers")
        if versions[-1].template is None:
            raise ValueError(f"pledge catalogue: the newest version of {kind} needs a text (only older ones retire)")


def cycle_of(day: date, start_month: int) -> int:
    """The cycle (named by the year it starts in) that `day` falls in; cycles start on the 1st of a month."""
    return day.year if day.month >= start_month else day.year - 1


def cycle_start(cycle: int, start_month: int) -> date:
    return date(cycle, start_month, 1)


def cycle_last_day(cycle: int, start_month: int) -> date:
    return date(cycle + 1, start_month, 1) - timedelta(days=1)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(digest: str) -> str:
    """The short form of a text hash, printed on receipts and paper copies."""
    return digest[:FINGERPRINT_LENGTH]


@dataclass(frozen=True)
class ChainFields:
    """What a record's hash covers: everything that says who signed which text, when and how."""

    staff_id: int
    request_id: int | None
    kind: str
    cycle: int
    version: int
    outcome: str
    text_hash: str
    signed_name: str | None
    channel: str
    at: datetime


def record_hash(prev_hash: str, f: ChainFields) -> str:
    body = json.dumps(
        [
            prev_hash,
            f.at.isoformat(timespec="microseconds"),
            f.staff_id,
            f.request_id,
            f.kind,
            f.cycle,
            f.version,
            f.outcome,
            f.text_hash,
            f.signed_name,
            f.channel,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def name_matches(typed: str, roster_name: str) -> bool:
    """A typed signature matches the roster name, ignoring spaces (全角 too) a phone keyboard may add."""
    return "".join(typed.split()) == "".join(roster_name.split())


def pages(text: str, limit: int) -> list[str]:
    """The text in screens of at most about `limit` characters, cut only between paragraphs."""
    out: list[str] = []
    current = ""
    for block in (b.strip() for b in text.split("\n\n")):
        if not block:
            continue
        if current and len(current) + len(block) + 2 > limit:
            out.append(current)
            current = block
        else:
            current = f"{current}\n\n{block}" if current else block
    if current:
        out.append(current)
    return out or [""]
