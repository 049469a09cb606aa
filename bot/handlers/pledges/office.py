"""/pledges: the secrecy office's desk for pledges — the export of who signed, the printable copy of a
person's signed pledge, and special pledges for a named group."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import (
    OFFICERS,
    Button,
    Document,
    ExportContext,
    FlowContext,
    Outgoing,
    Priority,
    Reply,
    Step,
)
from bot.core.guarding import refuse_marked
from bot.core.paging import PAGE_SIZE, matching, nav_row, page_of
from bot.handlers.pledges import documents as pledge_documents
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import PledgeBook
from bot.handlers.pledges.flows import current_cycle
from bot.handlers.pledges.rules import PledgeKind
from bot.services import people, team

MAX_TITLE = 50
PICK_LIMIT = 10  # people offered as buttons for a typed name


class OfficeStep(StrEnum):
    MENU = "menu"  # export, a PDF, or a special pledge
    ASKING_ID = "asking_id"  # whose signed pledge to print
    ASKING_TITLE = "asking_title"  # the special task's name
    PICKING_GROUP = "picking_group"  # who signs it: a department or everyone
    CONFIRMING = "confirming"  # asking so many people cannot be taken back: confirm first


class PledgeOfficeFlow:
    name = "pledges"
    prefix = "po"
    roles = OFFICERS

    def __init__(self, book: PledgeBook) -> None:
        self.book = book

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Offers the three tasks as buttons."""
        return Step({"state": OfficeStep.MENU}, [self._menu(ctx)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match OfficeStep(state["state"]), event:
            case OfficeStep.MENU, Pick("export"):
                return await self.export(ctx)
            case OfficeStep.MENU, Pick("pdf"):
                return Step({"state": OfficeStep.ASKING_ID}, [Reply(ctx.t("pledge/office_ask_id"), replace=True)])
            case OfficeStep.MENU, Pick("special"):
                reply = Reply(ctx.t("pledge/office_ask_title", limit=MAX_TITLE), replace=True)
                return Step({"state": OfficeStep.ASKING_TITLE}, [reply])
            case OfficeStep.ASKING_ID, Text(text):
                return await self.pdf(ctx, text.strip())
            case OfficeStep.ASKING_ID, Pick("who", (employee_id,)):
                return await self.pdf(ctx, employee_id)
            case OfficeStep.ASKING_TITLE, Text(text):
                return await self.take_title(ctx, text.strip())
            case OfficeStep.PICKING_GROUP, Pick("all"):
                return await self.confirm_special(ctx, state, None)
            case OfficeStep.PICKING_GROUP, Pick("dept", (dept,)) if dept.isdigit():
                return await self.confirm_special(ctx, state, int(dept))
            case OfficeStep.PICKING_GROUP, Pick("page", (number,)) if number.isdigit():
                picked = {**state, "page": int(number)}
                return Step(picked, [await self._groups(ctx, picked, replace=True)])
            case OfficeStep.PICKING_GROUP, Text(text) if text.strip():
                found = {**state, "search": text.strip(), "page": 0}
                return Step(found, [await self._groups(ctx, found)])
            case OfficeStep.CONFIRMING, Pick("confirm"):
                return await self.start_special(ctx, state, state.get("department"))
            case OfficeStep.CONFIRMING, Pick("cancel"):
                back = {"state": OfficeStep.PICKING_GROUP, "title": state["title"]}
                return Step(back, [await self._groups(ctx, back)])
        return await self.not_understood(ctx, state)

    async def export(self, ctx: FlowContext) -> Step:
        """Sends the current cycle's export as a workbook, made when it is sent (PledgesExport)."""
        return Step.done(ctx.export("pledges", cycle=current_cycle(ctx), day=ctx.today.isoformat()))

    async def pdf(self, ctx: FlowContext, employee_id: str) -> Step:
        """Sends the printable copy of the person's latest signed pledge."""
        if refusal := refuse_marked(ctx, employee_id):
            return Step({"state": OfficeStep.ASKING_ID}, [refusal])
        person = await people.by_employee_id(ctx.session, employee_id)
        if person is None:
            # Not an employee id: a part of a name, one button for each person it fits.
            found = await people.search(ctx.session, employee_id, PICK_LIMIT)
            if len(found) > 1:
                buttons = [
                    [Button(f"{p.name}（{p.employee_id}，{p.department}）", "who", (p.employee_id,))] for p in found
                ]
                return Step(
                    {"state": OfficeStep.ASKING_ID}, [Reply(ctx.t("pledge/office_pick", count=len(found)), buttons)]
                )
            person = found[0] if found else None
        made = None
        if person is not None:
            word = lambda key: ctx.t("pledge/word", key=key)  # noqa: E731
            made = await pledge_documents.pledge_pdf(ctx.session, person.id, word, ctx.texts.timezone)
        if person is None or made is None:
            reply = Reply(ctx.t("pledge/office_no_record", employee_id=employee_id))
            return Step({"state": OfficeStep.ASKING_ID}, [reply])
        data, receipt = made
        caption = ctx.t("pledge/office_pdf", person=person, receipt=receipt)
        filename = f"pledge-{person.employee_id}-{receipt.record_id}.pdf"
        return Step.done(Reply(caption, document=Document(filename, base64.b64encode(data).decode(), caption)))

    async def take_title(self, ctx: FlowContext, title: str) -> Step:
        """Checks the task's name and asks who is to sign."""
        if not title or len(title) > MAX_TITLE:
            reply = Reply(ctx.t("pledge/office_ask_title", limit=MAX_TITLE))
            return Step({"state": OfficeStep.ASKING_TITLE}, [reply])
        if refusal := refuse_marked(ctx, title):
            return Step({"state": OfficeStep.ASKING_TITLE}, [refusal])
        state = {"state": OfficeStep.PICKING_GROUP, "title": title}
        return Step(state, [await self._groups(ctx, state)])

    async def confirm_special(self, ctx: FlowContext, state: dict[str, Any], department_id: int | None) -> Step:
        """Says how many people will be asked (it cannot be taken back) and asks to confirm."""
        members = await self._members(ctx, department_id)
        group = None if department_id is None else (await team.department(ctx.session, department_id))
        text = ctx.t(
            "pledge/office_confirm_special",
            title=state["title"],
            count=len(members),
            group=group.name if group else None,
        )
        buttons = [
            [Button(ctx.t("pledge/word", key="confirm"), "confirm")],
            [Button(ctx.t("pledge/word", key="cancel"), "cancel")],
        ]
        new = {"state": OfficeStep.CONFIRMING, "title": state["title"], "department": department_id}
        return Step(new, [Reply(text, buttons, replace=True)])

    async def _members(self, ctx: FlowContext, department_id: int | None) -> list[team.Member]:
        if department_id is None:
            depts = [d.id for d in await team.departments(ctx.session)]
        else:
            depts = [department_id]
        return [m for d in depts for m in await team.members(ctx.session, d)]

    async def start_special(self, ctx: FlowContext, state: dict[str, Any], department_id: int | None) -> Step:
        """Asks everyone in the group for the special pledge."""
        members = await self._members(ctx, department_id)
        due = ctx.today + timedelta(days=ctx.policy.pledge_due_days)
        await pledges.start_special(
            ctx.session, ctx.now, state["title"], [m.staff_id for m in members], due, ctx.person.id
        )
        outgoing = []
        for member in members:
            person = await people.by_id(ctx.session, member.staff_id)
            assert person is not None
            text = ctx.texts.render(
                "pledge/requested",
                person.locale,
                kind=PledgeKind.SPECIAL.value,
                task=state["title"],
                due=due,
            )
            outgoing.append(Outgoing(person.id, Reply(text), Priority.REMINDER, "pledge:special"))
        reply = Reply(ctx.t("pledge/office_special", title=state["title"], count=len(members), due=due), replace=True)
        return Step(None, [reply], outgoing)

    async def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = OfficeStep(state["state"])
        if current is OfficeStep.ASKING_ID:
            return Step(state, [Reply(ctx.t("pledge/office_ask_id"))])
        if current is OfficeStep.ASKING_TITLE:
            return Step(state, [Reply(ctx.t("pledge/office_ask_title", limit=MAX_TITLE))])
        if current is OfficeStep.PICKING_GROUP:
            return Step(state, [await self._groups(ctx, state)])
        if current is OfficeStep.CONFIRMING:
            return await self.confirm_special(ctx, state, state.get("department"))
        return Step(state, [self._menu(ctx)])

    def _menu(self, ctx: FlowContext) -> Reply:
        buttons = [
            [Button(ctx.t("pledge/word", key="export"), "export")],
            [Button(ctx.t("pledge/word", key="pdf"), "pdf")],
            [Button(ctx.t("pledge/word", key="special_task"), "special")],
        ]
        return Reply(ctx.t("pledge/office_menu", cycle=current_cycle(ctx)), buttons)

    async def _groups(self, ctx: FlowContext, state: dict[str, Any], replace: bool = False) -> Reply:
        """全体人员, then the departments PAGE_SIZE a page in natural order; a typed word narrows them."""
        search = state.get("search") or ""
        depts = await team.departments(ctx.session)
        shown = matching(depts, search, lambda d: d.name) if search else depts
        page = page_of(len(shown), state.get("page", 0))
        buttons = [[Button(ctx.t("pledge/word", key="all"), "all")]]
        buttons += [[Button(d.name, "dept", (str(d.id),))] for d in shown[page.start : page.start + PAGE_SIZE]]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        text = ctx.t("pledge/office_pick_group", title=state["title"], search=search, found=len(shown))
        return Reply(text, buttons, replace=replace)


class PledgesExport:
    """Makes the pledge workbook of a cycle (bot/core/exports.py: outside the engine, off its loop)."""

    def __init__(self, book: PledgeBook) -> None:
        self.book = book

    async def __call__(self, ctx: ExportContext, params: Mapping[str, Any]) -> Document:
        cycle, locale = int(params["cycle"]), params["locale"]
        data, count = await pledge_documents.export(
            ctx.session,
            cycle,
            date.fromisoformat(params["day"]),
            ctx.texts.timezone,
            ctx.policy,
            self.book.catalog,
            lambda key: ctx.texts.render("pledge/word", locale, key=key),
            "xlsx",
        )
        caption = ctx.texts.render("pledge/office_export", locale, cycle=cycle, count=count)
        return Document(f"pledges-{cycle}.xlsx", base64.b64encode(data).decode(), caption)
