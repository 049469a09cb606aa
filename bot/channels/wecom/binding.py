"""WeCom accounts named in the roster are bound on every tick, before any duty sweep runs: a roster imported
while the bot runs reaches its people on WeCom within a minute, without invitations and before they first write
to the application. Nothing is sent, so working hours do not apply."""

from __future__ import annotations

from bot.core.sweep import Sweep, SweepContext
from bot.services import people


class RosterBindingSweep(Sweep):
    name = "roster-bindings"

    def __init__(self, channel: str) -> None:
        self.channel = channel

    async def run(self, ctx: SweepContext) -> int:
        return await people.bind_roster_accounts(ctx.session, ctx.now, self.channel)
