"""The quiz's sweep: papers whose time ran out are closed even when their person never comes back, so that
/status, /team and the statistics are right."""

from __future__ import annotations

from bot.core.sweep import Sweep, SweepContext
from bot.handlers.quiz import service as quiz


class QuizExpirySweep(Sweep):
    name = "quiz_expiry"

    async def run(self, ctx: SweepContext) -> int:
        return len(await quiz.expire_due(ctx.session, ctx.now))
