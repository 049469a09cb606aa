"""The pledge rules without a bot: cycles, the catalogue and its material changes, paging, the chain hash,
and every pledge text rendering in both languages for every level."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.domain.levels import Level, Role
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import (
    Catalog,
    ChainFields,
    PledgeKind,
    PledgeVersion,
    check_catalog,
    cycle_last_day,
    cycle_of,
    name_matches,
    pages,
    record_hash,
)
from bot.handlers.pledges.service import DepartureInfo
from bot.services.people import Person
from tests.conftest import TZ


def test_cycles_follow_the_configured_start_month() -> None:
    assert cycle_of(date(2026, 1, 1), 1) == 2026
    assert cycle_of(date(2026, 8, 31), 9) == 2025
    assert cycle_of(date(2026, 9, 1), 9) == 2026
    assert cycle_last_day(2026, 1) == date(2026, 12, 31)
    assert cycle_last_day(2025, 9) == date(2026, 8, 31)


def _version(kind: PledgeKind, number: int, material: bool, effective: date) -> PledgeVersion:
    return PledgeVersion(kind, number, material, f"pledges/{kind}_v{number}", effective)


def test_only_a_material_change_in_force_supersedes() -> None:
    versions = [
        _version(PledgeKind.ANNUAL, 1, True, date(2026, 1, 1)),
        _version(PledgeKind.ANNUAL, 2, False, date(2026, 4, 1)),
        _version(PledgeKind.ANNUAL, 3, True, date(2026, 5, 1)),
    ]
    others = [_version(k, 1, True, date(2026, 1, 1)) for k in PledgeKind if k is not PledgeKind.ANNUAL]
    catalog = Catalog(tuple(versions + others))
    check_catalog(catalog)
    assert catalog.current(PledgeKind.ANNUAL, date(2025, 12, 1)).number == 1  # before any: the first
    assert catalog.current(PledgeKind.ANNUAL, date(2026, 4, 1)).number == 2
    assert not catalog.superseded(PledgeKind.ANNUAL, 1, date(2026, 4, 30))  # a minor edit only
    assert catalog.superseded(PledgeKind.ANNUAL, 1, date(2026, 5, 1))
    assert catalog.superseded(PledgeKind.ANNUAL, 2, date(2026, 5, 1))
    assert not catalog.superseded(PledgeKind.ANNUAL, 3, date(2027, 1, 1))


def test_a_catalogue_with_a_gap_or_out_of_order_is_refused() -> None:
    base = [_version(k, 1, True, date(2026, 1, 1)) for k in PledgeKind]
    with pytest.raises(ValueError, match="without gaps"):
        check_catalog(Catalog((*base, _version(PledgeKind.ANNUAL, 3, True, date(2026, 6, 1)))))
    with pytest.raises(ValueError, match="order"):
        check_catalog(Catalog((*base, _version(PledgeKind.ANNUAL, 2, True, date(2025, 6, 1)))))


def test_pages_cut_between_paragraphs_only() -> None:
    text = "\n\n".join(["甲" * 150, "乙" * 150, "丙" * 150])
    assert pages(text, 400) == ["甲" * 150 + "\n\n" + "乙" * 150, "丙" * 150]
    assert "\n\n".join(pages(text, 100)) == text  # a paragraph longer than a page is kept whole


def test_names_match_ignoring_spaces_only() -> None:
    assert name_matches(" 陈　静 ", "陈静")
    assert not name_matches("陈晶", "陈静")


def test_every_field_of_a_record_is_covered_by_its_hash() -> None:
    fields = ChainFields(
        1, 2, "annual", 2026, 1, "signed", "a" * 64, "陈静", "telegram", datetime(2026, 3, 2, tzinfo=UTC)
    )
    digest = record_hash("0" * 64, fields)
    changes = {
        "staff_id": 9,
        "request_id": None,
        "kind": "special",
        "cycle": 2027,
        "version": 2,
        "outcome": "declined",
        "text_hash": "b" * 64,
        "signed_name": "李四",
        "channel": "wecom",
        "at": datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC),
    }
    for name, value in changes.items():
        assert record_hash("0" * 64, dataclasses.replace(fields, **{name: value})) != digest, name
    assert record_hash("1" * 64, fields) != digest


@pytest.mark.parametrize("locale", ["zh", "en"])
@pytest.mark.parametrize("level", list(Level))
def test_every_pledge_text_renders(locale: str, level: Level) -> None:
    book = load_catalog()
    person = Person(1, "E102", "陈静", 1, "基础教育科", level, frozenset({Role.STAFF}), True, None, locale)
    months = {Level.NONE: 0, Level.GENERAL: 6, Level.IMPORTANT: 12, Level.CORE: 24}[level]
    departure = DepartureInfo(1, 1, date(2026, 3, 1), level, months, date(2026, 8, 31) if months else None, False)
    for version in (v for v in book.catalog.versions if v.template is not None):  # retired ones are not shown
        text = book.render(
            version, locale, TZ, person=person, bureau="教育局", cycle=2026, departure=departure, task="中考考务"
        )
        assert "陈静" in text and "E102" in text and len(text) > 200
        assert Path(book.root, f"{version.template}.en.j2").is_file()
