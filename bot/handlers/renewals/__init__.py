"""The yearly renewals: everyone asked for the pledge and the quiz when the cycle opens, weekly once overdue (with
a once-only put-off), and each head's list of who is overdue."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.renewals.actions import SnoozeAction
from bot.handlers.renewals.sweeps import RenewalSweep


def register(bot: Wiring) -> None:
    catalog = load_catalog().catalog
    bot.sweep(RenewalSweep(catalog))
    bot.action(SnoozeAction(catalog))  # 稍后提醒 on a weekly reminder
