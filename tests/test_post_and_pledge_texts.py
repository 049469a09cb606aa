"""Issue 15 points 6 and 7: the 上岗 pledge only for people taking up a post (a hire date on the roster), a launch
grace before anyone is overdue, and pledge texts that name the 保密事项, state the legal consequences in current
terms and, on departure, the duties of the 脱密期."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.clock import SettableClock
from bot.config import Policy
from bot.db.session import Database
from bot.domain.levels import Level, Role
from bot.domain.roster import RosterError, RosterRow, RowCode, validate_rows
from bot.domain.workdays import WorkCalendar
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.pledges.rules import PledgeKind, PledgeState, takes_up_post
from bot.handlers.pledges.service import DepartureInfo, annual_due
from bot.handlers.renewals.service import deadlines
from bot.services.people import Person
from bot.services.roster import import_roster
from tests.conftest import TZ
from tests.fakes.local import LocalBot, local_bot

STAFF = frozenset({Role.STAFF})


def row(employee_id: str, hired_on: date | None, matters: str | None = None) -> RosterRow:
    return RosterRow(0, employee_id, f"甲{employee_id}", "考试院", Level.GENERAL, STAFF, None, hired_on, matters)


@pytest.fixture
async def bot(db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[LocalBot]:
    # The bureau's first import (2 March 2026): one person in post, one hired that day.
    async with db.transaction() as s:
        await import_roster(s, [row("E901", None), row("E902", date(2026, 3, 2))], clock.now(), TZ)
    async with local_bot(db_url, clock) as found:
        yield found


async def test_only_people_taking_up_a_post_are_asked_for_the_onboarding_pledge(
    bot: LocalBot, clock: SettableClock
) -> None:
    in_post = await bot.bind("E901")
    assert not [m for m in in_post.bot_messages if "上岗保密承诺书" in m["text"] or "上岗" in m["text"]]
    newcomer = await bot.bind("E902")
    assert "上岗" in newcomer.last["text"]
    clock.set(datetime(2026, 3, 10, 10, tzinfo=TZ))  # added to the roster after the launch, no hire date given
    async with bot.app.db.transaction() as s:
        await import_roster(s, [row("E901", None), row("E902", date(2026, 3, 2)), row("E903", None)], clock.now(), TZ)
    later = await bot.bind("E903")
    assert "上岗" in later.last["text"]


@pytest.mark.parametrize(
    ("hired_on", "added_on", "expected"),
    [
        (None, date(2026, 3, 2), False),  # on the first roster: in post
        (None, date(2026, 3, 3), True),  # added later: a newcomer
        (date(2019, 9, 1), date(2026, 3, 3), False),  # added later, in post for years
        (date(2026, 3, 2), date(2026, 3, 2), True),
    ],
)
def test_takes_up_post(hired_on: date | None, added_on: date, expected: bool) -> None:
    assert takes_up_post(hired_on, added_on, date(2026, 3, 2)) is expected


def test_launch_grace_moves_the_first_deadlines() -> None:
    catalog = load_catalog().catalog
    day = date(2026, 3, 2)
    plain = deadlines(Policy(), catalog, 2026, day, PledgeState.PENDING, WorkCalendar(), None)
    assert plain.pledge < date(2026, 3, 31)  # 60 days into the year: overdue on the launch day itself
    launch = date(2026, 3, 2)
    grace = deadlines(Policy(), catalog, 2026, day, PledgeState.PENDING, WorkCalendar(), launch)
    assert grace.pledge >= date(2026, 3, 30) and grace.quiz >= date(2026, 3, 30)
    assert annual_due(Policy(), catalog, 2027, date(2027, 1, 5), PledgeState.PENDING, WorkCalendar(), launch) == (
        annual_due(Policy(), catalog, 2027, date(2027, 1, 5), PledgeState.PENDING, WorkCalendar(), None)
    )  # later cycles are not moved


def test_the_roster_reads_a_hire_date_and_the_matters() -> None:
    good = validate_rows(
        [
            (
                2,
                {
                    "employee_id": "E1",
                    "name": "甲",
                    "department": "考试院",
                    "level": "一般",
                    "role": "staff",
                    "hired_on": "2026-03-01 00:00:00",
                    "secret_matters": "中考试题的保管",
                },
            )
        ],
    )
    assert (good[0].hired_on, good[0].secret_matters) == (date(2026, 3, 1), "中考试题的保管")
    with pytest.raises(RosterError) as bad:
        validate_rows(
            [
                (
                    2,
                    {
                        "employee_id": "E1",
                        "name": "甲",
                        "department": "考试院",
                        "level": "一般",
                        "role": "staff",
                        "hired_on": "去年",
                    },
                )
            ],
        )
    assert [e.code for e in bad.value.errors] == [RowCode.BAD_DATE]


def render(kind: PledgeKind, day: date, matters: str | None, **context: object) -> str:
    book = load_catalog()
    person = Person(1, "E102", "陈静", 1, "基础教育科", Level.GENERAL, STAFF, True, None, "zh", None, matters)
    version = book.catalog.current(kind, day)
    defaults: dict[str, object] = {"bureau": "教育局", "cycle": day.year, "departure": None, "task": "中考命题"}
    return book.render(version, "zh", ZoneInfo("Asia/Shanghai"), person=person, **(defaults | context))


@pytest.mark.parametrize("kind", list(PledgeKind))
def test_the_texts_shown_now_use_current_legal_terms(kind: PledgeKind) -> None:
    departure = DepartureInfo(1, 1, date(2026, 12, 4), Level.GENERAL, 6, date(2027, 6, 4), completed=False)
    text = render(kind, date(2026, 12, 7), "中考试题的印制与保管", departure=departure)
    assert "政务处分" in text and "法律责任" in text and "政纪" not in text
    assert "临时工作人员" not in text
    if kind is not PledgeKind.SPECIAL:
        assert "本人岗位涉及的保密事项：中考试题的印制与保管。" in text  # 第十二条: 注明保密事项
    if kind is PledgeKind.DEPARTURE:
        assert "外商投资企业" in text and "新的工作单位" in text and "出境须经审批" in text


def test_without_matters_on_the_roster_the_text_says_the_units_apply() -> None:
    assert "以单位确定并告知的为准" in render(PledgeKind.ANNUAL, date(2026, 3, 2), None)
