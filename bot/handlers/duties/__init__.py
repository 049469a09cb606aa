"""The scheduled duties of departments: half-yearly education of core and important staff (每半年一次保密教育), the
yearly carrier inventory (涉密载体清查) and the October self-check (自查)."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.duties.education import EducationFlow, education_status
from bot.handlers.duties.inventory import InventoryFlow
from bot.handlers.duties.selfcheck import SelfCheckFlow, load_checklist, self_check_status, self_check_todo
from bot.handlers.duties.sweeps import EducationSweep, InventorySweep, SelfCheckSweep


def register(bot: Wiring) -> None:
    bot.command("education", EducationFlow(), aliases=("保密教育",))
    bot.command("inventory", InventoryFlow(), aliases=("载体清查", "清查"))
    bot.command("selfcheck", SelfCheckFlow(load_checklist()), aliases=("自查", "自查自评"))
    bot.status(education_status)
    bot.status(self_check_status)
    bot.todo(self_check_todo)
    bot.sweep(EducationSweep())
    bot.sweep(InventorySweep())
    bot.sweep(SelfCheckSweep())
