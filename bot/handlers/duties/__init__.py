"""The scheduled duties of departments: half-yearly education of core and important staff (每半年一次保密教育), the
yearly carrier inventory (涉密载体清查) and the October self-check (自查)."""

from __future__ import annotations

from bot.core.capability import Wiring
from bot.handlers.duties.discrepancies import DiscrepancyFlow
from bot.handlers.duties.education import EducationFlow, education_status
from bot.handlers.duties.inventory import InventoryFlow
from bot.handlers.duties.rectify import RectifyFlow
from bot.handlers.duties.selfcheck import (
    UNIT_CHECKLIST,
    SelfCheckFlow,
    UnitCheckFlow,
    load_checklist,
    self_check_status,
    self_check_todo,
    unit_check_status,
)
from bot.handlers.duties.sweeps import EducationSweep, InventorySweep, RectificationSweep, SelfCheckSweep


def register(bot: Wiring) -> None:
    bot.command("education", EducationFlow(), aliases=("保密教育",))
    bot.command("inventory", InventoryFlow(), aliases=("载体清查", "清查"))
    # A count that differs with nothing missing: the office verifies it with the department (已核实).
    bot.command("discrepancies", DiscrepancyFlow(), aliases=("清查差异", "差异核实"))
    bot.command("selfcheck", SelfCheckFlow(load_checklist()), aliases=("自查", "自查自评"))
    # The unit's October self-assessment, and the 整改 items of every 否 followed to closure.
    bot.command("unitcheck", UnitCheckFlow(load_checklist(UNIT_CHECKLIST)), aliases=("单位自查",))
    bot.command("rectify", RectifyFlow(), aliases=("整改",))
    bot.status(education_status)
    bot.status(self_check_status)
    bot.status(unit_check_status)
    bot.todo(self_check_todo)
    bot.sweep(EducationSweep())
    bot.sweep(InventorySweep())
    bot.sweep(SelfCheckSweep())  # and the unit's self-assessment, to the office
    bot.sweep(RectificationSweep())  # a 整改 item past its due date, once
