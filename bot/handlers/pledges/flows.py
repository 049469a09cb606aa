"""/pledge: a person reads the pledge they owe, page by page, agrees and signs with their name, and gets a
receipt. Also the pledge's part of /status, and the onboarding pledge asked for on binding."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, Button, FlowContext, Outgoing, Priority, Reply, Step, ToDo
from bot.core.guarding import refuse_marked
from bot.core.shortcut import start_button
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import PledgeBook
from bot.handlers.pledges.rules import Catalog, PledgeKind, PledgeState, cycle_of, name_matches, pages, takes_up_post
from bot.handlers.pledges.service import Owed, Receipt, Shown
from bot.services import people

PAGE_CHARS = 400  # about one phone screen of Chinese text (some 20 lines of 20 characters)
PAGE_CHARS_EN = 1400  # English spells the same text in some 3.5 times the characters: as many pages as in Chinese


def page_chars(locale: str) -> int:
    return PAGE_CHARS_EN if locale == "en" else PAGE_CHARS


MAX_TRIES = 3
DEPARTURES_COMMAND = "depart"  # where the office follows departures (bot.handlers.departures)


class PledgeStep(StrEnum):
    READING = "reading"  # paging through the text; agree, later or decline on the last page
    DECLINING = "declining"  # asked to confirm a refusal, which is recorded and shown to the head
    SIGNING = "signing"  # typing the full name as the signature


def current_cycle(ctx: FlowContext) -> int:
    return cycle_of(ctx.today, ctx.policy.pledge_cycle_start_month)


def render_pledge(ctx: FlowContext, book: PledgeBook, owed: Owed) -> tuple[int, str]:
    """The version in force and its text for this person, exactly as it will be shown and stored."""
    version = book.catalog.current(owed.kind, ctx.today)
    text = book.render(
        version,
        ctx.locale,
        ctx.texts.timezone,
        person=ctx.person,
        bureau=ctx.policy.bureau_name,
        cycle=owed.cycle,
        departure=owed.departure,
        task=owed.task_title,
    )
    return version.number, text


class PledgeFlow:
    name = "pledge"
    prefix = "pl"
    roles = EVERYONE

    def __init__(self, book: PledgeBook) -> None:
        self.book = book

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Shows the first page of the most pressing pledge owed, or the receipt when all are signed."""
        owed = await pledges.owed(
            ctx.session, ctx.person.id, ctx.today, current_cycle(ctx), ctx.policy, self.book.catalog
        )
        if not owed:
            receipt = await pledges.latest_signed(ctx.session, ctx.person.id)
            assert receipt is not None  # nothing owed means the pledge of the cycle is signed
            return Step.done(self._receipt(ctx, receipt, fresh=False))
        first = owed[0]
        version, text = render_pledge(ctx, self.book, first)
        state = {
            "state": PledgeStep.READING,
            "kind": first.kind.value,
            "request": first.request_id,
            "cycle": first.cycle,
            "version": version,
            "text": text,
            "page": 0,
        }
        return Step(state, [self._page(ctx, state, replace=False)])

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match PledgeStep(state["state"]), event:
            case PledgeStep.READING, Pick("next" | "prev" as direction):
                return self.turn(ctx, state, 1 if direction == "next" else -1)
            case PledgeStep.READING, Pick("agree"):
                return self.ask_name(ctx, state)
            case PledgeStep.READING, Pick("later"):
                return self.later(ctx, state)
            case PledgeStep.READING, Pick("decline"):
                return self.ask_decline(ctx, state)
            case PledgeStep.DECLINING, Pick("confirm_decline"):
                return await self.decline(ctx, state)
            case PledgeStep.DECLINING, Pick("back"):
                return self.turn(ctx, {**state, "state": PledgeStep.READING}, 0)
            case PledgeStep.SIGNING, Text(text):
                return await self.take_name(ctx, state, text)
        return self.not_understood(ctx, state)

    def turn(self, ctx: FlowContext, state: dict[str, Any], delta: int) -> Step:
        """Shows the next or previous page in place of the current one."""
        count = len(pages(state["text"], page_chars(ctx.locale)))
        new = {**state, "page": max(0, min(count - 1, state["page"] + delta))}
        return Step(new, [self._page(ctx, new, replace=True)])

    def ask_name(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Asks for the full name as the signature."""
        return Step({**state, "state": PledgeStep.SIGNING, "tries": 0}, [Reply(ctx.t("pledge/ask_name"))])

    async def take_name(self, ctx: FlowContext, state: dict[str, Any], typed: str) -> Step:
        """Signs when the name equals the roster name; explains a mismatch; gives up after three."""
        if refusal := refuse_marked(ctx, typed):
            return Step(state, [refusal])
        if not name_matches(typed, ctx.person.name):
            tries = state["tries"] + 1
            if tries >= MAX_TRIES:
                return Step.done(Reply(ctx.t("pledge/name_failed", tries=MAX_TRIES)))
            return Step({**state, "tries": tries}, [Reply(ctx.t("pledge/name_mismatch", left=MAX_TRIES - tries))])
        shown = self._shown(state)
        if await pledges.already_answered(ctx.session, ctx.person.id, shown, ctx.today, self.book.catalog):
            receipt = await pledges.latest_signed(ctx.session, ctx.person.id)
            assert receipt is not None
            return Step.done(self._receipt(ctx, receipt, fresh=False))
        receipt = await pledges.sign(ctx.session, ctx.now, ctx.person.id, shown, ctx.person.name, ctx.channel)
        return Step(None, [self._receipt(ctx, receipt, fresh=True)], await departure_notices(ctx, shown, signed=True))

    def later(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Ends the reading without recording anything: the pledge stays owed as it was."""
        return Step.done(Reply(ctx.t("pledge/later", kind=state["kind"]), replace=True))

    def ask_decline(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Says what a refusal means before recording it: one mis-tap must not become a refusal on file."""
        buttons = [
            [Button(ctx.t("pledge/word", key="confirm_decline"), "confirm_decline")],
            [Button(ctx.t("pledge/word", key="back"), "back")],
        ]
        text = ctx.t("pledge/confirm_decline", kind=state["kind"])
        return Step({**state, "state": PledgeStep.DECLINING}, [Reply(text, buttons, replace=True)])

    async def decline(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the confirmed refusal and says what follows; the head sees it in /team."""
        shown = self._shown(state)
        receipt = await pledges.decline(ctx.session, ctx.now, ctx.person.id, shown, ctx.channel)
        told = await departure_notices(ctx, shown, signed=False)
        return Step(None, [Reply(ctx.t("pledge/declined", receipt=receipt), replace=True)], told)

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        if PledgeStep(state["state"]) is PledgeStep.SIGNING:
            return Step(state, [Reply(ctx.t("pledge/ask_name"))])
        if PledgeStep(state["state"]) is PledgeStep.DECLINING:
            return self.ask_decline(ctx, state)
        return Step(state, [self._page(ctx, state, replace=False)])

    def _page(self, ctx: FlowContext, state: dict[str, Any], *, replace: bool) -> Reply:
        screens = pages(state["text"], page_chars(ctx.locale))
        index = state["page"]
        last = index == len(screens) - 1
        nav = []
        if index > 0:
            nav.append(Button(ctx.t("pledge/word", key="prev"), "prev"))
        if not last:
            nav.append(Button(ctx.t("pledge/word", key="next"), "next"))
        rows = [nav] if nav else []
        if last:
            rows.append([Button(ctx.t("pledge/word", key="agree"), "agree")])
            rows.append([Button(ctx.t("pledge/word", key="later"), "later")])
            rows.append([Button(ctx.t("pledge/word", key="decline"), "decline")])
        text = ctx.t("pledge/page", page=index + 1, pages=len(screens), body=screens[index], last=last)
        return Reply(text, rows, replace=replace)

    def _receipt(self, ctx: FlowContext, receipt: Receipt, *, fresh: bool) -> Reply:
        return Reply(ctx.t("pledge/receipt", receipt=receipt, fresh=fresh))

    @staticmethod
    def _shown(state: dict[str, Any]) -> Shown:
        return Shown(PledgeKind(state["kind"]), state["request"], state["cycle"], state["version"], state["text"])


async def departure_notices(ctx: FlowContext, shown: Shown, *, signed: bool) -> list[Outgoing]:
    """The office hears of a departure pledge signed or refused while the departure is under way: signing is the
    last precondition of approval, refusing forbids it (教育局保密工作制度篇3 第十三条)."""
    if shown.kind is not PledgeKind.DEPARTURE or shown.request_id is None:
        return []
    found = await pledges.departure_under_way(ctx.session, shown.request_id)
    if found is None:
        return []
    _, officers = found
    out = []
    for staff_id in officers:
        officer = await people.by_id(ctx.session, staff_id)
        if officer is None:
            continue
        text = ctx.texts.render("pledge/departure_office", officer.locale, person=ctx.person, signed=signed)
        button = start_button(ctx.texts.render("pledge/word", officer.locale, key="departures"), DEPARTURES_COMMAND)
        out.append(Outgoing(staff_id, Reply(text, [[button]]), Priority.REMINDER, "pledge:departure"))
    return out


# --- /status, binding --------------------------------------------------------------------------------------
class PledgeStatus:
    """The person's pledges in /status: the pledge of the cycle and any open request."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, ctx: FlowContext) -> str | None:
        day, cycle = ctx.today, current_cycle(ctx)
        annual, every = await standings(ctx, self.catalog)
        requests = [
            s for s in every if s.state is not PledgeState.SIGNED or (s.record is not None and s.record.cycle == cycle)
        ]
        return ctx.t("pledge/status", cycle=cycle, annual=annual, requests=requests, today=day)


async def standings(ctx: FlowContext, catalog: Catalog) -> tuple[pledges.Standing, list[pledges.Standing]]:
    """The person's pledges, read once for the section and the to-dos."""
    cycle = current_cycle(ctx)
    return await ctx.once(
        ("pledges", cycle), lambda people: pledges.standings(ctx.session, people, ctx.today, cycle, ctx.policy, catalog)
    )


class PledgeToDo:
    """Each pledge the person still owes, as a to-do with 签承诺书."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    async def __call__(self, ctx: FlowContext) -> list[ToDo]:
        day = ctx.today
        read = await standings(ctx, self.catalog)
        owed = await pledges.owed(ctx.session, ctx.person.id, day, current_cycle(ctx), ctx.policy, self.catalog, read)
        label = ctx.t("core/word", key="pledge")
        return [ToDo(ctx.later("pledge/todo", owed=o, overdue=o.due_on < day), "pledge", label) for o in owed]


class OnboardingHook:
    """On binding, a classified person taking up a post is asked for the onboarding pledge (第七条 4, 第十二条);
    those already in post when the bureau started using the bot are not (rules.takes_up_post)."""

    async def __call__(self, session: AsyncSession, ctx: FlowContext) -> list[Reply]:
        if not ctx.person.level.is_classified:
            return []
        added_on, launch = await pledges.roster_dates(session, ctx.person.id, ctx.policy, ctx.texts.timezone)
        if not takes_up_post(ctx.person.hired_on, added_on, launch):
            return []
        due = ctx.today + timedelta(days=ctx.policy.pledge_due_days)
        if not await pledges.open_onboarding(session, ctx.now, ctx.person.id, due):
            return []
        return [Reply(ctx.t("pledge/onboarding_prompt", due=due))]
