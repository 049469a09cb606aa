"""`baomi depart EMPID --date D` (an approval already given on paper) and `baomi countdowns`."""

from __future__ import annotations

import argparse

from bot.config import ConfigError
from bot.core.cli import CliEnv, day_option
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.handlers.departures import procedure
from bot.handlers.departures import service as countdowns
from bot.handlers.departures.rules import DepartureKind
from bot.handlers.pledges import service as pledges
from bot.services import people


async def depart(env: CliEnv, args: argparse.Namespace) -> int:
    """Records a departure approved on paper: the steps not done in the chat are marked as done outside the system
    (audit-logged), the declassification period starts from the approval, and the person is told."""
    approved = day_option(args.date, "--date")
    if approved > env.today():
        raise ConfigError(f"--date {approved} is in the future: give the day the unit approved the departure")
    now = env.now()
    async with env.database() as db, db.transaction() as session:
        person = await people.by_employee_id(session, args.employee_id)
        if person is None or not person.active:
            env.say("cli/no_person", employee_id=args.employee_id, active=True, option=None)
            return 1
        officer = await people.by_employee_id(session, args.by) if args.by else None
        if args.by and officer is None:
            env.say("cli/no_person", employee_id=args.by, active=False, option="--by")
            return 1
        kind = DepartureKind(args.kind) if args.kind else None
        months = pledges.months_for(env.settings.policy, person.level)
        departure, marked = await procedure.record_outside(
            session, now, person.id, person.level, kind, months, approved, officer.id if officer else None
        )
        notice = env.texts.render("depart/approved_person", person.locale, procedure=departure)
        reached = await send_to_staff(session, now, person.id, Reply(notice), Priority.REMINDER, "departure")
    env.say("cli/departed", person=person, departure=departure, marked=[m.value for m in marked], reached=reached)
    return 0


def depart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("employee_id")
    parser.add_argument("--date", required=True, help="YYYY-MM-DD the unit approved leaving the post")
    parser.add_argument("--by", help="employee id of the officer recording it")
    parser.add_argument(
        "--kind", choices=[k.value for k in DepartureKind], help="why the person leaves the post (when not started)"
    )


async def countdowns_list(env: CliEnv, args: argparse.Namespace) -> int:
    """Everyone in a declassification period, soonest end first (as /countdowns shows officers)."""
    async with env.database() as db, db.sessions() as session:
        rows = await countdowns.running(session, env.today())
    env.say("cli/countdowns", rows=rows)
    return 0
