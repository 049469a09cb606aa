"""Renewals as one daily sweep: when a cycle opens (and after a material change of the pledge) everyone who
owes the pledge or the quiz is asked once; after the deadline, once a week, with a button to put it off once;
heads get their department's list on the same weekly rhythm."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from functools import cache, partial

from bot.core.flow import Button, Priority, Reply
from bot.core.outbox_rows import send_to_many
from bot.core.sweep import Sweep, SweepContext
from bot.handlers.pledges.rules import Catalog, PledgeKind, PledgeState, cycle_of
from bot.handlers.renewals import service as renewals
from bot.handlers.renewals.actions import SNOOZE_ACTION, renewal_buttons
from bot.handlers.renewals.rules import Deadlines, Item, overdue_week, snooze_pointless
from bot.handlers.renewals.service import DUTY, Owing, Unclaimed
from bot.services.launch import launch_day

HEAD_LIST_LIMIT = 40  # names in a head's list; a longer list ends with "and N more"


class RenewalSweep(Sweep):
    name = "renewals"
    chunked = True

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        day = ctx.local_now.date()
        cycle = cycle_of(day, ctx.policy.pledge_cycle_start_month)
        period = str(cycle)
        # Everyone's standing is read once a working day, at its first tick in working hours (done with its last
        # chunk).
        scan = (DUTY, "organisation", period, f"scan-{day.isoformat()}")
        if await ctx.claimed(*scan):
            return 0
        if ctx.last:
            await ctx.claim(*scan)
        every = ctx.policy.renewal_reminder_every_days
        # The deadlines depend on the pledge's state only; the weekly rhythm runs from the earlier one.
        launch = await launch_day(ctx.session, ctx.policy)
        dues = {
            state: renewals.deadlines(ctx.policy, self.catalog, cycle, day, state, ctx.calendar, launch)
            for state in PledgeState
        }
        week = overdue_week(min(dues[PledgeState.PENDING].pledge, dues[PledgeState.PENDING].quiz), day, every)
        main = "open" if week is None else f"overdue-w{week}"
        resign = f"resign-v{self.catalog.current(PledgeKind.ANNUAL, day).number}"
        unclaimed = Unclaimed(period, main, resign)
        owing = await renewals.owing(
            ctx.session, cycle, day, ctx.policy, self.catalog, people=ctx.people, unclaimed=unclaimed
        )

        # Replies are written only for those claimed now, each distinct one once (most people owe the same).
        reply = cache(partial(self._reply, ctx, cycle=cycle))
        overdue = cache(partial(self._overdue, ctx, cycle=cycle, week=week or 0))
        steps: dict[str, list[tuple[Owing, Callable[[], Reply]]]] = defaultdict(list)
        for person in owing:
            due = dues[person.pledge]
            late = self._late(person, due, day)
            if person.pledge is PledgeState.RESIGN and Item.PLEDGE not in late:
                # A material change is news of its own, whatever else is overdue.
                steps[resign].append(
                    (person, partial(reply, "renewal/open", person.locale, (Item.PLEDGE,), due, resign=True))
                )
            if week is not None and late:
                steps[main].append((person, partial(overdue, person.locale, late, due)))
            elif week is None and person.pledge is not PledgeState.RESIGN:
                # Before the deadline: asked once. A declined pledge is the office's to talk about first.
                items = tuple(
                    i for i in person.items() if not (i is Item.PLEDGE and person.pledge is PledgeState.DECLINED)
                )
                if items:
                    steps[main].append((person, partial(reply, "renewal/open", person.locale, items, due)))
        if week is not None:
            for person in await self._put_off(ctx, cycle, day, week):
                due = dues[person.pledge]
                if late := self._late(person, due, day):
                    steps[f"again-w{week}"].append((person, partial(reply, "renewal/again", person.locale, late, due)))

        messages: list[tuple[int, Reply]] = []
        for step, pending in steps.items():
            claimed = await ctx.claim_many(DUTY, period, step, [f"staff:{p.staff_id}" for p, _ in pending])
            messages += [(p.staff_id, write()) for p, write in pending if f"staff:{p.staff_id}" in claimed]
        if week is not None:
            messages += await self._heads(ctx, dues, cycle, period, day, week)
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, "renewal")
        return len(messages)

    @staticmethod
    def _late(person: Owing, due: Deadlines, day: date) -> tuple[Item, ...]:
        return tuple(i for i in person.items() if day > due.of(i))

    async def _put_off(self, ctx: SweepContext, cycle: int, day: date, week: int) -> list[Owing]:
        """Who put off this week's reminder and whose few days are up (not when the next week's reminder would
        come first anyway)."""
        every, days = ctx.policy.renewal_reminder_every_days, ctx.policy.renewal_snooze_days
        launch = await launch_day(ctx.session, ctx.policy)
        base = renewals.deadlines(ctx.policy, self.catalog, cycle, day, PledgeState.PENDING, ctx.calendar, launch)
        due = []
        for staff_id, pressed in (await renewals.snoozes(ctx.session, str(cycle), ctx.people)).items():
            for snoozed_week, at in pressed:
                until = at.astimezone(ctx.timezone).date() + timedelta(days=days)
                pointless = snooze_pointless(min(base.pledge, base.quiz), week, every, until)
                if snoozed_week == week and until <= day and not pointless:
                    due.append(staff_id)
        if not due:
            return []
        return await renewals.owing(ctx.session, cycle, day, ctx.policy, self.catalog, only=due)

    @staticmethod
    def _reply(
        ctx: SweepContext,
        template: str,
        locale: str,
        items: tuple[Item, ...],
        due: Deadlines,
        *,
        cycle: int,
        resign: bool = False,
    ) -> Reply:
        dues = [(item.value, due.of(item)) for item in items]
        text = ctx.texts.render(template, locale, cycle=cycle, items=dues, resign=resign)
        return Reply(text, renewal_buttons(ctx.texts, locale, items))

    @staticmethod
    def _overdue(
        ctx: SweepContext, locale: str, late: tuple[Item, ...], due: Deadlines, *, cycle: int, week: int
    ) -> Reply:
        dues = [(item.value, due.of(item)) for item in late]
        days = ctx.policy.renewal_snooze_days
        text = ctx.texts.render("renewal/overdue", locale, cycle=cycle, items=dues, days=days)
        buttons = [
            *renewal_buttons(ctx.texts, locale, late),
            [
                Button(
                    ctx.texts.render("renewal/btn_snooze", locale, days=days),
                    "snooze",
                    (str(cycle), str(week)),
                    target=SNOOZE_ACTION,
                )
            ],
        ]
        return Reply(text, buttons)

    async def _heads(
        self, ctx: SweepContext, dues: dict[PledgeState, Deadlines], cycle: int, period: str, day: date, week: int
    ) -> list[tuple[int, Reply]]:
        """Each head (of this chunk) not yet told this week gets the list of their people overdue (none: no
        message)."""
        heads = await renewals.heads(ctx.session, period, f"team-w{week}", ctx.people)
        if not heads:
            return []
        departments = {h.department_id for h in heads}
        late_by_dept: dict[int, list[tuple[Owing, tuple[Item, ...]]]] = defaultdict(list)
        for person in await renewals.owing(ctx.session, cycle, day, ctx.policy, self.catalog, departments=departments):
            if late := self._late(person, dues[person.pledge], day):
                late_by_dept[person.department_id].append((person, late))
        heads = [h for h in heads if late_by_dept.get(h.department_id)]
        claimed = await ctx.claim_many(DUTY, period, f"team-w{week}", [f"staff:{h.staff_id}" for h in heads])
        out = []
        for head in heads:
            if f"staff:{head.staff_id}" not in claimed:
                continue
            people = sorted(late_by_dept[head.department_id], key=lambda entry: entry[0].name)
            rows = [{"name": p.name, "items": [i.value for i in items]} for p, items in people]
            text = ctx.texts.render(
                "renewal/team",
                head.locale,
                cycle=cycle,
                rows=rows[:HEAD_LIST_LIMIT],
                more=max(0, len(rows) - HEAD_LIST_LIMIT),
                total=len(rows),
            )
            out.append((head.staff_id, Reply(text)))
        return out
