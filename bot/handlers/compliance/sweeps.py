"""The weekly digest to the secrecy office: once an ISO week, on its first working day in working hours (after
downtime, at the first working-hours tick later that week), every officer gets the compliance chart and a text
— the five largest gaps, the open leak cases and their clocks, the pre-publication reviews waiting and overdue per
unit, declassification periods ending and deadlines falling in the next 30 days, and the days of the past week on
which a channel held back routine messages at its daily total (WeCom)."""

from __future__ import annotations

import calendar as months
import math
from dataclasses import dataclass
from datetime import date, timedelta

from bot.config import Policy
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_many
from bot.core.render import chunks
from bot.core.sweep import Sweep, SweepContext
from bot.domain.schedule import due_date, half_year, inventory_period
from bot.domain.workdays import WorkCalendar
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.dashboard import compliance_chart_reply
from bot.handlers.compliance.rules import Duty, largest_gaps, lowest_first
from bot.handlers.departures import service as countdowns
from bot.handlers.duties import service as duties
from bot.handlers.leak import service as leak
from bot.handlers.leak.notices import label
from bot.handlers.pledges.rules import Catalog, PledgeState, cycle_of
from bot.handlers.renewals import service as renewals
from bot.handlers.review import service as review
from bot.handlers.review.notices import backlog_text
from bot.services import delivery, people, staff_queries
from bot.services.launch import launch_day

DUTY = "digest"
HORIZON = timedelta(days=30)  # countdowns and deadlines this close are listed
GAPS = 5


@dataclass(frozen=True)
class Deadline:
    what: str  # pledge, quiz, inventory, education, self_check
    day: date
    days_left: int


class WeeklyDigestSweep(Sweep):
    name = DUTY

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def run(self, ctx: SweepContext) -> int:
        # Working hours on a working day: the first such tick of an ISO week is its first working day's first
        # working hour (Monday, or the day after the holidays), or the first one back after downtime.
        if not ctx.routine_allowed:
            return 0
        today = ctx.local_now.date()
        year, week, _ = today.isocalendar()
        if not await ctx.claim(DUTY, "organisation", f"{year}-W{week:02}", "weekly"):
            return 0
        recipients = list(await staff_queries.officer_ids(ctx.session))
        if not recipients:
            return 0
        locales = await people.locales(ctx.session, recipients)
        depts = lowest_first(
            await compliance.departments(
                ctx.session, today, ctx.policy, self.catalog, ctx.calendar, people=False, write=True
            )
        )
        cases = await leak.open_cases(ctx.session)
        ending = [c for c in await countdowns.running(ctx.session, today) if c.ends_on <= today + HORIZON]
        launch = await launch_day(ctx.session, ctx.policy)
        deadlines = upcoming_deadlines(ctx.policy, self.catalog, ctx.calendar, today, launch)
        backlog = await review.backlog(ctx.session, today, ctx.timezone, ctx.policy, ctx.calendar)
        held = await delivery.held_back_since(ctx.session, ctx.now - timedelta(days=7))
        office = await duties.office_duties(ctx.session, today, ctx.policy.self_inspection_month)
        rendered: dict[str, list[Reply]] = {}
        messages = []
        for officer in recipients:
            locale = locales.get(officer, "zh")
            if locale not in rendered:
                case_lines = [
                    {
                        "number": c.number,
                        "status": label(ctx.texts, locale, f"status.{c.status}"),
                        "deadline": c.next_deadline,
                        "hours_left": _hours(c.next_deadline - ctx.now) if c.next_deadline else None,
                    }
                    for c in cases
                ]
                text = ctx.texts.render(
                    "dashboard/digest",
                    locale,
                    week=f"{year}-W{week:02}",
                    day=today,
                    departments=depts,
                    gaps=largest_gaps(depts, GAPS),
                    labels={d: ctx.texts.render("team/duty", locale, duty=d.value) for d in Duty},
                    cases=case_lines,
                    countdowns=ending,
                    deadlines=deadlines,
                    reviews=backlog_text(ctx.texts, locale, backlog),
                    held=held,
                    office=ctx.texts.render("dashboard/office", locale, office=office).strip(),
                )
                chart = compliance_chart_reply(ctx.texts, locale, depts, today)
                rendered[locale] = [chart, *(Reply(part) for part in chunks([text]))]
            messages += [(officer, reply) for reply in rendered[locale]]
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, f"{DUTY}:{year}-W{week:02}")
        return len(recipients)


def upcoming_deadlines(
    policy: Policy, catalog: Catalog, calendar: WorkCalendar, today: date, launch: date | None
) -> list[Deadline]:
    """The cycle's deadlines from today to 30 days on, soonest first (the digest's and the web console's); the
    renewals' after the launch grace (`launch`: bot/services/launch.py)."""
    cycle = cycle_of(today, policy.pledge_cycle_start_month)
    _, nominal = inventory_period(policy.inventory_deadlines, today)
    month = policy.self_inspection_month
    renewal = renewals.deadlines(policy, catalog, cycle, today, PledgeState.PENDING, calendar, launch)
    candidates = {
        "pledge": renewal.pledge,
        "quiz": renewal.quiz,
        "inventory": due_date(nominal, calendar),
        "education": half_year(today).end,
        "self_check": date(today.year, month, months.monthrange(today.year, month)[1]),
    }
    found = [
        Deadline(what, day, (day - today).days) for what, day in candidates.items() if today <= day <= today + HORIZON
    ]
    return sorted(found, key=lambda d: (d.day, d.what))


def _hours(left: timedelta) -> int:
    """Whole hours left, rounded up (negative: overdue by so many hours)."""
    return math.ceil(left.total_seconds() / 3600)
