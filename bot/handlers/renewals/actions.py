"""The buttons on renewal reminders: start the pledge or the quiz at once, or put the reminder off once."""

from __future__ import annotations

from datetime import timedelta

from bot.core.flow import EVERYONE, Button, FlowContext, Step
from bot.core.shortcut import start_button
from bot.db.models import SentLog
from bot.db.upsert import insert_ignore
from bot.handlers.pledges.rules import Catalog, cycle_of
from bot.handlers.renewals import service as renewals
from bot.handlers.renewals.rules import Item, overdue_week
from bot.handlers.renewals.service import DUTY
from bot.services.calendar import work_calendar
from bot.services.launch import launch_day
from bot.texts import Texts

SNOOZE_ACTION = "rn"
COMMANDS = {Item.PLEDGE: "pledge", Item.QUIZ: "quiz"}


def renewal_buttons(texts: Texts, locale: str, items: tuple[Item, ...]) -> list[list[Button]]:
    return [[start_button(texts.render(f"renewal/btn_{item.value}", locale), COMMANDS[item]) for item in items]]


class SnoozeAction:
    """稍后提醒 on a weekly reminder: once per reminder, for a few days; the weekly schedule does not move."""

    prefix = SNOOZE_ACTION
    roles = EVERYONE

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action != "snooze" or len(args) != 2 or not all(a.isdigit() for a in args):
            return Step(None, toast=ctx.t("core/stale_button"))
        cycle, week = int(args[0]), int(args[1])
        day = ctx.today
        if cycle != cycle_of(day, ctx.policy.pledge_cycle_start_month):
            return Step(None, toast=ctx.t("core/stale_button"))
        person = await renewals.one(ctx.session, ctx.person.id, cycle, day, ctx.policy, self.catalog)
        calendar = await work_calendar(ctx.session)
        launch = await launch_day(ctx.session, ctx.policy)
        due = renewals.deadlines(ctx.policy, self.catalog, cycle, day, person.pledge, calendar, launch)
        late = [i for i in person.items() if day > due.of(i)]
        if not late:
            return Step(None, toast=ctx.t("renewal/nothing_due"))
        current = overdue_week(min(due.of(i) for i in late), day, ctx.policy.renewal_reminder_every_days)
        if current != week:
            return Step(None, toast=ctx.t("core/stale_button"))
        inserted = await insert_ignore(
            ctx.session,
            SentLog,
            [
                {
                    "duty": DUTY,
                    "subject": f"staff:{ctx.person.id}",
                    "period": str(cycle),
                    "step": f"snooze-w{week}",
                    "created_at": ctx.now,
                }
            ],
            ["duty", "subject", "period", "step"],
        )
        if inserted == 0:
            return Step(None, toast=ctx.t("renewal/snooze_once"))
        until = day + timedelta(days=ctx.policy.renewal_snooze_days)
        return Step(None, toast=ctx.t("renewal/snoozed", until=until))
