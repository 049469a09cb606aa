"""The yearly pledge: when a cycle opens (and after a material change of the text) everyone bound who has not
signed is asked once; once the deadline has passed, once more."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import exists, select

from bot.db.models import Binding, Staff
from bot.domain.pledges import Catalog, PledgeKind, PledgeState, cycle_of
from bot.handlers.base import Priority, Reply
from bot.jobs.base import SweepContext
from bot.outbox_rows import send_to_many
from bot.services import pledges


class PledgeReminderSweep:
    name = "pledges"

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0
        day = ctx.local_now.date()
        cycle = cycle_of(day, ctx.policy.pledge_cycle_start_month)
        # The organisation is scanned once a working day, not every tick: standings are computed for everyone.
        if not await ctx.claim("pledge", "organisation", str(cycle), f"scan-{day.isoformat()}"):
            return 0
        bound = exists().where(Binding.staff_id == Staff.id, Binding.unreachable_at.is_(None))
        rows = (await ctx.session.execute(select(Staff.id, Staff.locale).where(Staff.active.is_(True), bound))).all()
        locales = {row[0]: row[1] for row in rows}
        standings = await pledges.annual_standings(ctx.session, locales, cycle, day, ctx.policy, self.catalog)
        version = self.catalog.current(PledgeKind.ANNUAL, day).number
        by_step: dict[str, list[int]] = defaultdict(list)
        for staff_id, standing in standings.items():
            if standing.state is PledgeState.SIGNED:
                continue
            if day > standing.due_on:
                by_step["overdue"].append(staff_id)
            elif standing.state is PledgeState.RESIGN:
                by_step[f"resign-v{version}"].append(staff_id)
            elif standing.state is PledgeState.PENDING:
                by_step["open"].append(staff_id)
            # declined before the deadline: the office talks to them, the bot does not nag
        messages = []
        for step, staff_ids in by_step.items():
            claimed = await ctx.claim_many("pledge", str(cycle), step, [f"staff:{i}" for i in staff_ids])
            for staff_id in staff_ids:
                if f"staff:{staff_id}" not in claimed:
                    continue
                standing = standings[staff_id]
                text = ctx.texts.render(
                    "pledge/reminder",
                    locales[staff_id],
                    cycle=cycle,
                    due=standing.due_on,
                    state=standing.state.value,
                    overdue=step == "overdue",
                )
                messages.append((staff_id, Reply(text)))
        await send_to_many(ctx.session, ctx.now, messages, Priority.REMINDER, "pledge:annual")
        return len(messages)
