"""The leak cases' clocks as sweeps: unacknowledged alerts repeat (to the escalation contacts too), officers are
reminded of the 24-hour written report and the 3-month conclusion, and a missing carrier whose days ran out is
handled as leaked. Alerts and the statutory reminders ignore quiet hours; only the conclusion reminder waits for
working hours."""

from __future__ import annotations

from bot.core.flow import Priority
from bot.core.sweep import Sweep, SweepContext
from bot.handlers.leak import notices as leak_notices
from bot.handlers.leak import rules
from bot.handlers.leak import service as leak

DUTY = "leak_alert"


class LeakAlertSweep(Sweep):
    """Until a case is acknowledged: its alert cards are edited in place with the time it has waited (every
    `leak_alert_repeat_minutes` for two hours, then hourly), and it is escalated — at the first repeat to the
    escalation contacts, after an hour to the leadership — each told once with a card of their own. Once anyone
    beyond the officers has been told, repeats wait for working hours: the night belongs to those already told."""

    name = "leak_alerts"

    async def run(self, ctx: SweepContext) -> int:
        done = 0
        for case in await leak.open_cases(ctx.session):
            if case.acknowledged_at is not None:
                continue
            round_ = rules.alert_round(case.reported_at, ctx.now, ctx.policy.leak_alert_repeat_minutes)
            subject = f"case:{case.id}"
            if round_ < 1 or await ctx.claimed(DUTY, subject, "ack", f"r{round_}"):
                continue
            widened = await ctx.claimed(DUTY, subject, "escalate", "contacts") or await ctx.claimed(
                DUTY, subject, "escalate", "leaders"
            )
            if widened and not ctx.routine_allowed:
                continue  # quiet hours: this repeat is made in the morning, if it is still needed
            await ctx.claim(DUTY, subject, "ack", f"r{round_}")
            waited = rules.waited_minutes(case.reported_at, ctx.now)
            await leak_notices.refresh_alerts(ctx.session, ctx.now, ctx.texts, case, waited)
            told: list[int] = []
            if await ctx.claim(DUTY, subject, "escalate", "contacts"):
                told += await leak_notices.escalation_ids(ctx.session, ctx.policy)
            if ctx.now - case.reported_at >= rules.ESCALATE_TO_LEADERS and await ctx.claim(
                DUTY, subject, "escalate", "leaders"
            ):
                told += await leak_notices.leadership_ids(ctx.session, ctx.policy)
            await leak_notices.queue(
                ctx.session, ctx.now, await leak_notices.alerts(ctx.session, ctx.texts, case, told, waited)
            )
            done += 1
        return done


class LeakClockSweep(Sweep):
    """The statutory clocks of every open case."""

    name = "leak_clocks"

    async def run(self, ctx: SweepContext) -> int:
        done = 0
        for case in await leak.open_cases(ctx.session):
            subject = f"case:{case.id}"
            if case.written_report_due is not None and case.written_report_sent_at is None:
                step = rules.written_report_step(case.written_report_due, ctx.now, ctx.policy.leak_written_report_hours)
                if step is not None and await ctx.claim("leak_written_report", subject, "due", step):
                    notices = await leak_notices.to_officers(
                        ctx.session, ctx.texts, case, "cases/written_report_reminder", overdue=step == "overdue"
                    )
                    await leak_notices.queue(ctx.session, ctx.now, notices)
                    done += 1
            if (
                case.carrier_pending
                and case.carrier_deadline is not None
                and ctx.now >= case.carrier_deadline
                # Claimed in the sent-log first: an overlapping run (`baomi jobs run` during a tick, or another
                # instance) waits there for this one and then leaves it alone; the case may also have been found
                # since it was read.
                and await ctx.claim("leak_carrier", subject, "deadline", "deemed")
                and await leak.mark_carrier_deemed(ctx.session, ctx.now, case.id)
            ):
                notices = await leak_notices.to_officers(ctx.session, ctx.texts, case, "cases/carrier_deemed")
                await leak_notices.queue(ctx.session, ctx.now, notices)
                done += 1
            step = rules.conclusion_step(case.conclusion_due, ctx.now)
            if step is not None and ctx.routine_allowed and await ctx.claim("leak_conclusion", subject, "due", step):
                notices = await leak_notices.to_officers(
                    ctx.session,
                    ctx.texts,
                    case,
                    "cases/conclusion_reminder",
                    priority=Priority.REMINDER,
                    overdue=step == "overdue",
                )
                await leak_notices.queue(ctx.session, ctx.now, notices)
                done += 1
        return done
