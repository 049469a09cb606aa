"""Broadcasts once sent: the officer's progress message and delivery report, and the list of those still
silent at the acknowledgement deadline for their department heads."""

from __future__ import annotations

from datetime import timedelta

from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import add, send_to_staff
from bot.core.sweep import Sweep, SweepContext
from bot.handlers.broadcasts import service as broadcasts
from bot.handlers.broadcasts.flows import SHOWN, progress_text
from bot.services import people

# The officer's progress message is edited at most this often (and once more when delivery is over).
PROGRESS_EVERY = timedelta(seconds=3)


class BroadcastProgress(Sweep):
    """Edits each running broadcast's progress message in place and, once nothing is left to send, queues
    the delivery report (exactly once). The dispatcher runs it as soon as broadcast rows are recorded
    (`follows`); the regular tick catches up after a restart."""

    name = "broadcast_progress"
    follows = ("broadcast:",)

    async def run(self, ctx: SweepContext) -> int:
        updated = 0
        for broadcast_id in await broadcasts.unfinished(ctx.session):
            progress = await broadcasts.claim_progress(ctx.session, ctx.now, broadcast_id, PROGRESS_EVERY)
            if progress is None:
                continue
            updated += 1
            author = await people.by_id(ctx.session, progress.info.author_staff_id)
            locale = author.locale if author else "zh"
            text = progress_text(ctx.texts, locale, broadcast_id, progress.tally)
            for message in progress.messages:
                add(
                    ctx.session,
                    ctx.now,
                    channel=message.channel,
                    chat_id=message.chat_id,
                    op="edit",
                    payload={"text": text, "buttons": [], "message_id": message.message_id},
                    priority=Priority.REMINDER,
                    staff_id=progress.info.author_staff_id,
                    source=f"{broadcasts.progress_source(broadcast_id)}:edit",
                )
            # Told once: the sent-log claim is what every sweep's notice goes through (the broadcast row's own
            # conditional update above already keeps a second run from getting this far).
            if progress.info.finished and await ctx.claim("broadcast", f"broadcast:{broadcast_id}", "report", "final"):
                report = ctx.texts.render(
                    "broadcast/report",
                    locale,
                    id=broadcast_id,
                    tally=progress.tally,
                    missed=progress.unreachable,
                    limit=SHOWN,
                    ack_required=progress.info.ack_required,
                )
                await send_to_staff(
                    ctx.session,
                    ctx.now,
                    progress.info.author_staff_id,
                    Reply(report),
                    Priority.REMINDER,
                    f"{broadcasts.source_of(broadcast_id)}:report",
                )
        return updated


class BroadcastDeadlines(Sweep):
    """At a broadcast's acknowledgement deadline (in working hours), each department head gets the list of
    their people still silent, and the officer a summary; once per broadcast."""

    name = "broadcast_deadlines"

    async def run(self, ctx: SweepContext) -> int:
        if not ctx.routine_allowed:
            return 0  # claimed at the next working-hours tick, not lost
        escalations = await broadcasts.claim_escalations(ctx.session, ctx.now)
        for escalation in escalations:
            info = escalation.info
            if not await ctx.claim("broadcast", f"broadcast:{info.id}", "ack_deadline", "silent"):
                continue
            source = f"{broadcasts.source_of(info.id)}:deadline"
            for department_id, silent in escalation.silent.items():
                for head_id in escalation.heads[department_id]:
                    head = await people.by_id(ctx.session, head_id)
                    text = ctx.texts.render(
                        "broadcast/deadline_heads",
                        head.locale if head else "zh",
                        id=info.id,
                        sent_at=info.created_at,
                        text=info.text,
                        deadline=info.ack_deadline,
                        department=silent[0].department,
                        people=silent,
                    )
                    await send_to_staff(ctx.session, ctx.now, head_id, Reply(text), Priority.REMINDER, source)
            if escalation.silent_total:
                author = await people.by_id(ctx.session, info.author_staff_id)
                text = ctx.texts.render(
                    "broadcast/deadline_officer",
                    author.locale if author else "zh",
                    id=info.id,
                    silent=escalation.silent_total,
                )
                await send_to_staff(ctx.session, ctx.now, info.author_staff_id, Reply(text), Priority.REMINDER, source)
        return len(escalations)
