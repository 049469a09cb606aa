"""`baomi depart EMPID --date D` (an approval already given on paper) and `baomi countdowns`."""

from __future__ import annotations

import argparse

from bot.config import ConfigError
from bot.core.cli import CliEnv, day_option
from bot.core.outbox_rows import send_to_staff
from bot.handlers.departures import service as countdowns
from bot.handlers.departures.depart import record_departure
from bot.handlers.pledges import service as pledges
from bot.services import people


async def depart(env: CliEnv, args: argparse.Namespace) -> int:
    """Records an approved departure and asks the person (through the running bot) for the departure pledge."""
    approved = day_option(args.date, "--date")
    if approved > env.today():
        raise ConfigError(f"--date {approved} is in the future: give the day the unit approved the departure")
    now = env.now()
    async with env.database() as db, db.transaction() as session:
        person = await people.by_employee_id(session, args.employee_id)
        if person is None or not person.active:
            env.say("cli/no_person", employee_id=args.employee_id, active=True, option=None)
            return 1
        if await pledges.open_departure(session, person.id) is not None:
            env.say("cli/depart_open", person=person)
            return 1
        officer = await people.by_employee_id(session, args.by) if args.by else None
        if args.by and officer is None:
            env.say("cli/no_person", employee_id=args.by, active=False, option="--by")
            return 1
        departure, due, notice = await record_departure(
            session, now, env.texts, env.settings.policy, person, approved, officer.id if officer else None
        )
        reached = await send_to_staff(session, now, person.id, notice.reply, notice.priority, notice.source)
    env.say("cli/departed", person=person, approved=approved, departure=departure, reached=reached, due=due)
    return 0


def depart_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("employee_id")
    parser.add_argument("--date", required=True, help="YYYY-MM-DD the unit approved leaving the post")
    parser.add_argument("--by", help="employee id of the officer recording it")


async def countdowns_list(env: CliEnv, args: argparse.Namespace) -> int:
    """Everyone in a declassification period, soonest end first (as /countdowns shows officers)."""
    async with env.database() as db, db.sessions() as session:
        rows = await countdowns.running(session, env.today())
    env.say("cli/countdowns", rows=rows)
    return 0
