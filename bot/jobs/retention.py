"""Retention: what passed through the bot is not kept beyond `Policy.retention_days`.

Once a day: inbox rows processed that long ago are deleted (the engine has emptied them already: a dedupe key and
the time are all they hold), and outbox rows sent, failed or unreachable that long ago lose their payload — the
text said, its buttons, an exported workbook or a chart. Their metadata stays (a broadcast's delivery report counts
its rows' outcomes). The business records live in their own tables and are untouched. SQLite overwrites what is
deleted (secure_delete, bot/db/session.py), so it does not linger in the file's free pages.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Text, cast, delete, func, update

from bot.core.intake import SCRUBBED
from bot.core.sweep import Sweep, SweepContext
from bot.db.models import InboxEvent, OutboxMessage

DONE = ("sent", "failed", "unreachable")


class RetentionSweep(Sweep):
    name = "retention"

    async def run(self, ctx: SweepContext) -> int:
        """Once a day (local date): purge what is older than the retention period; returns the rows touched."""
        if not await ctx.claim(self.name, "inbox+outbox", ctx.local_now.date().isoformat(), "purge"):
            return 0
        cutoff = ctx.now - timedelta(days=ctx.policy.retention_days)
        inbox = await ctx.session.execute(
            delete(InboxEvent).where(InboxEvent.status != "pending", InboxEvent.processed_at < cutoff)
        )
        outbox = await ctx.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status.in_(DONE),
                OutboxMessage.created_at < cutoff,
                func.length(cast(OutboxMessage.payload, Text)) > len("{}"),
            )
            .values(payload=SCRUBBED)
            .execution_options(synchronize_session=False)
        )
        return int(inbox.rowcount or 0) + int(outbox.rowcount or 0)  # type: ignore[attr-defined]
