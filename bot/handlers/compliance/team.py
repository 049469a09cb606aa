"""/team: a head sees their own department at a glance — a short table of the duties of the cycle, then for
each duty the names still due, and one 催办 button that reminds each person of everything they owe in one message
(at most once a day per person, counting only those the bot can reach), and the onboarding, departure and
special-task pledges still unsigned. An officer chooses any department."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import HEADS_AND_OFFICERS, Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.core.paging import PAGE_SIZE, matching, nav_row, page_of
from bot.core.render import chunks
from bot.core.shortcut import start_button
from bot.domain.levels import Role
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.rules import DUTIES, DepartmentCompliance, Duty
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.rules import Catalog, PledgeState
from bot.services import people, team
from bot.services.calendar import work_calendar

NUDGE_ACTION = "tn"
LIST_ACTION = "tl"  # 查看名单: the names still due for one duty, PAGE_SIZE a page
NAMES_SHOWN = 10  # names of one duty in the /team view itself
# What a nudged person is asked to start. Education is held by the head, not done by the person: no nudge.
NUDGE_COMMANDS = {Duty.PLEDGE: "pledge", Duty.QUIZ: "quiz", Duty.SELF_CHECK: "selfcheck"}


class TeamState(StrEnum):
    CHOOSING = "choosing"  # an officer picks a department


class TeamFlow:
    name = "team"
    prefix = "tm"
    roles = HEADS_AND_OFFICERS

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the head's department at once; offers officers the list of departments."""
        if not ctx.person.has(Role.OFFICER):
            return Step.done(*await department_view(ctx, self.catalog, ctx.person.department_id))
        return Step({"state": TeamState.CHOOSING, "search": ""}, [await self.choices(ctx, "", 0)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        """Shows the department an officer picked, in place of the list."""
        if isinstance(event, Pick) and event.action == "dept" and event.args and event.args[0].isdigit():
            if not ctx.person.has(Role.OFFICER):  # no longer an officer: their own department only
                return Step.done(*await department_view(ctx, self.catalog, ctx.person.department_id))
            first, *rest = await department_view(ctx, self.catalog, int(event.args[0]))
            return Step.done(Reply(first.text, first.buttons, replace=True), *rest)
        search = state.get("search") or ""
        match event:
            case Pick("page", (number,)) if number.isdigit():
                return Step(state, [await self.choices(ctx, search, int(number), replace=True)])
            case Text(typed) if typed.strip():
                found = {**state, "search": typed.strip()}
                return Step(found, [await self.choices(ctx, typed.strip(), 0)])
        return Step(state, [Reply(ctx.t("team/choose_hint"))])

    async def choices(self, ctx: FlowContext, search: str, number: int, replace: bool = False) -> Reply:
        """The departments PAGE_SIZE a page in natural order (第2中学 before 第10中学); a typed word narrows them."""
        depts = await team.departments(ctx.session)  # in natural order
        shown = matching(depts, search, lambda d: d.name) if search else depts
        page = page_of(len(shown), number)
        buttons = [[Button(d.name, "dept", (str(d.id),))] for d in shown[page.start : page.start + PAGE_SIZE]]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        text = ctx.t("team/choose", total=len(depts), search=search, found=len(shown), paged=page.count > 1)
        return Reply(text, buttons, replace=replace)


async def department_view(ctx: FlowContext, catalog: Catalog, department_id: int) -> list[Reply]:
    """The compact table, the names due per duty and the 催办 buttons, in as few messages as fit."""
    dept = await load(ctx, catalog, department_id)
    if dept is None:
        info = await team.department(ctx.session, department_id)
        return [Reply(ctx.t("team/empty", department=info.name) if info else ctx.t("team/no_department"))]
    labels = duty_labels(ctx)
    parts = [
        ctx.t(
            "team/table",
            dept=dept,
            duties=DUTIES,
            labels=labels,
            self_check_open=ctx.today.month >= ctx.policy.self_inspection_month,
            self_check_month=ctx.policy.self_inspection_month,
        )
    ]
    own = dept.department_id == ctx.person.department_id
    due = {duty: owing for duty in DUTIES if (owing := dept.due(duty))}
    parts += [
        ctx.t("team/due", duty=duty, people=owing[:NAMES_SHOWN], total=len(owing), own=own)
        for duty, owing in due.items()
    ]
    if requests := await open_requests(ctx, dept):
        parts.append(ctx.t("team/requests", requests=requests))
    departing = [p for p in dept.people if p.departing]
    unbound = any(not p.bound for owing in due.values() for p in owing)
    if departing or dept.leavers or unbound:
        parts.append(ctx.t("team/people", departing=departing, leavers=dept.leavers, unbound=unbound))
    if not due and not requests:
        parts.append(ctx.t("team/all_done"))
    reachable = nudgeable(dept, ctx.person.id)
    reminded = await compliance.nudged_on(ctx.session, sorted(reachable), ctx.today)
    if reminded:
        names = [p.name for p in dept.people if p.staff_id in reminded]
        parts.append(ctx.t("team/reminded_today", names=names))
    waiting = len(set(reachable) - reminded)
    buttons = (
        [[Button(ctx.t("team/btn_nudge", count=waiting), "n", (str(dept.department_id),), target=NUDGE_ACTION)]]
        if waiting
        else []
    )
    buttons += [
        [
            Button(
                ctx.t("team/btn_list", label=labels[duty], count=len(owing)),
                "open",
                (str(dept.department_id), duty.value, "0"),
                target=LIST_ACTION,
            )
        ]
        for duty, owing in due.items()
        if len(owing) > NAMES_SHOWN
    ]
    texts = chunks(parts)
    return [Reply(text, buttons if i == len(texts) - 1 else ()) for i, text in enumerate(texts)]


async def open_requests(ctx: FlowContext, dept: DepartmentCompliance) -> list[dict[str, Any]]:
    """The department's onboarding, departure and special-task pledges not signed yet, soonest due first."""
    names = {p.staff_id: p.name for p in dept.people}
    day = ctx.today
    found = [s for s in await pledges.request_standings(ctx.session, names) if s.state is not PledgeState.SIGNED]
    return [
        {
            "name": names[s.staff_id],
            "kind": s.kind.value,
            "title": s.task_title,
            "declined": s.state is PledgeState.DECLINED,
            "due_on": s.due_on,
            "overdue": s.due_on < day,
        }
        for s in sorted(found, key=lambda s: (s.due_on, names[s.staff_id]))
    ]


def nudgeable(dept: DepartmentCompliance, presser_id: int) -> dict[int, list[Duty]]:
    """Who a 催办 can reach (bound, not the one pressing), with every duty they can act on themselves."""
    owing: dict[int, list[Duty]] = {}
    for duty in NUDGE_COMMANDS:
        for person in dept.due(duty):
            if person.bound and person.staff_id != presser_id:
                owing.setdefault(person.staff_id, []).append(duty)
    return owing


class NudgeAction:
    """催办 under /team: one message to each person in the department with everything they still owe, except
    those reminded already today (by anyone) and those the bot cannot reach."""

    prefix = NUDGE_ACTION
    roles = HEADS_AND_OFFICERS

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action != "n" or len(args) != 1 or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        department_id = int(args[0])
        if department_id != ctx.person.department_id and not ctx.person.has(Role.OFFICER):
            return Step(None, toast=ctx.t("core/no_right"))  # a head reminds their own people only
        dept = await load(ctx, self.catalog, department_id)
        owing = nudgeable(dept, ctx.person.id) if dept else {}
        if dept is None or not owing:
            return Step.done(Reply(ctx.t("team/nudge_none")))
        claimed = await compliance.claim_nudges(ctx.session, ctx.now, sorted(owing), ctx.today)
        locales = await people.locales(ctx.session, sorted(claimed))
        # Said as it is: the department's head, or the secrecy office looking at another department.
        by_head = department_id == ctx.person.department_id and ctx.person.has(Role.HEAD)
        outgoing = []
        for staff_id in sorted(claimed):
            locale = locales.get(staff_id, "zh")
            duties = [d.value for d in owing[staff_id]]
            text = ctx.texts.render(
                "team/nudge", locale, duties=duties, sender=ctx.person.name, department=dept.name, by_head=by_head
            )
            buttons = [
                [start_button(ctx.texts.render("team/nudge_btn", locale, duty=d), NUDGE_COMMANDS[Duty(d)])]
                for d in duties
            ]
            outgoing.append(Outgoing(staff_id, Reply(text, buttons), Priority.REMINDER, "nudge"))
        already = [p.name for p in dept.people if p.staff_id in set(owing) - claimed]
        text = ctx.t("team/nudged", nudged=len(claimed), already=already)
        return Step(None, [Reply(text)], outgoing)


class NamesAction:
    """查看名单 under /team: the names still due for one duty, PAGE_SIZE a page, with ◀ ▶."""

    prefix = LIST_ACTION
    roles = HEADS_AND_OFFICERS

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        valid = {d.value for d in DUTIES}
        if action not in ("open", "page") or len(args) != 3 or not args[0].isdigit() or args[1] not in valid:
            return Step(None, toast=ctx.t("core/stale_button"))
        if not args[2].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        department_id, duty = int(args[0]), Duty(args[1])
        if department_id != ctx.person.department_id and not ctx.person.has(Role.OFFICER):
            return Step(None, toast=ctx.t("core/no_right"))
        dept = await load(ctx, self.catalog, department_id)
        owing = dept.due(duty) if dept else []
        page = page_of(len(owing), int(args[2]))
        names = [p.name + ("" if p.bound else "*") for p in owing[page.start : page.start + PAGE_SIZE]]
        text = ctx.t(
            "team/names",
            department=dept.name if dept else "",
            label=duty_labels(ctx)[duty],
            names=names,
            total=len(owing),
            first=page.start + 1,
        )
        nav = [Button(b.label, "page", (args[0], args[1], b.args[0]), target=LIST_ACTION) for b in nav_row(ctx, page)]
        return Step(None, [Reply(text, [nav] if nav else [], replace=action == "page")])


async def load(ctx: FlowContext, catalog: Catalog, department_id: int) -> DepartmentCompliance | None:
    calendar = await work_calendar(ctx.session)
    return await compliance.department(ctx.session, ctx.today, ctx.policy, catalog, calendar, department_id, True)


def duty_labels(ctx: FlowContext) -> dict[Duty, str]:
    return {duty: ctx.t("team/duty", duty=duty.value) for duty in DUTIES}
