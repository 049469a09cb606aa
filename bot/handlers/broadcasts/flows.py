"""/broadcast: an officer writes a notice, chooses who receives it, previews it and sends it. /broadcasts:
recent notices with their delivery and acknowledgement figures, and a nudge to those still silent. 已阅 on a
notice: the recipient acknowledges it.

A sent notice is one outbox row per reachable chat account of each recipient, written in the same
transaction as the broadcast, so the outbox's guarantees (pacing, retries, crash rule) apply unchanged."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.events import FlowEvent, Pick, Text
from bot.core.flow import EVERYONE, OFFICERS, Button, FlowContext, Outgoing, Priority, Reply, Step
from bot.core.guarding import refuse_marked
from bot.core.outbox_rows import send_to_many
from bot.core.paging import PAGE_SIZE, matching, nav_row, page_of
from bot.domain.levels import Level, Role
from bot.handlers.broadcasts import service as broadcasts
from bot.handlers.broadcasts.rules import (
    ACK_DAY_CHOICES,
    MAX_TEXT,
    SELECTABLE_ROLES,
    Audience,
    Tally,
    ack_deadline,
    bar,
)
from bot.handlers.broadcasts.service import AudienceCount, BroadcastInfo, Reader
from bot.services import audit, people, team
from bot.texts import Texts

PEOPLE_FOUND = 6  # people a typed word offers to name, as buttons

ACK_ACTION = "ba"  # the 已阅 button on a notice
SHOWN = 30  # people listed by name in a report or a detail view
RECENT = 8


def notice_text(texts: Texts, locale: str, text: str, author: str, sent_at: datetime, deadline: datetime | None) -> str:
    return texts.render("broadcast/notice", locale, text=text, author=author, sent_at=sent_at, deadline=deadline)


def ack_buttons(texts: Texts, locale: str, broadcast_id: int) -> list[list[Button]]:
    return [[Button(texts.render("broadcast/btn_ack", locale), "ack", (str(broadcast_id),), target=ACK_ACTION)]]


async def queue_notices(
    session: AsyncSession,
    now: datetime,
    texts: Texts,
    info: BroadcastInfo,
    author: str,
    readers: list[Reader],
    source: str,
    nudge: bool = False,
) -> int:
    """Queue the notice to every reader, in their language (rendered once per language); returns the rows."""
    replies: dict[str, Reply] = {}
    for locale in {r.locale for r in readers}:
        text = notice_text(texts, locale, info.text, author, info.created_at, info.ack_deadline)
        if nudge:
            text = texts.render("broadcast/nudge", locale, notice=text)
        buttons = ack_buttons(texts, locale, info.id) if info.ack_required else []
        replies[locale] = Reply(text, buttons)
    messages = [(r.staff_id, replies[r.locale]) for r in readers]
    return await send_to_many(session, now, messages, Priority.BROADCAST, source)


def progress_text(texts: Texts, locale: str, broadcast_id: int, tally: Tally) -> str:
    return texts.render("broadcast/progress", locale, id=broadcast_id, tally=tally, bar=bar(tally.done_fraction))


class BroadcastState(StrEnum):
    WRITING = "writing"  # typing the notice
    CHOOSING = "choosing"  # toggling departments, levels, roles
    DEADLINE = "deadline"  # acknowledgement required, and by when
    PREVIEWING = "previewing"  # 发送 / 修改 / 取消


class BroadcastFlow:
    name = "broadcast"
    prefix = "bc"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Asks for the text of the notice."""
        return Step(
            {"state": BroadcastState.WRITING, "audience": Audience().to_dict()},
            [Reply(ctx.t("broadcast/ask_text", limit=MAX_TEXT))],
        )

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match BroadcastState(state["state"]), event:
            case BroadcastState.WRITING, Text(text):
                return await self.take_text(ctx, state, text)
            case BroadcastState.CHOOSING, Pick("next"):
                return await self.ask_deadline(ctx, state)
            case BroadcastState.CHOOSING, Pick("page", (number,)) if number.isdigit():
                return await self.choose(ctx, {**state, "page": int(number)}, replace=True)
            case BroadcastState.CHOOSING, Text(text):
                if refusal := refuse_marked(ctx, text):
                    return Step(state, [refusal])
                word = text.strip()[:20]
                return await self.choose(ctx, {**state, "search": "" if word in ("全部", "all") else word, "page": 0})
            case BroadcastState.CHOOSING, Pick(action, args):
                if (audience := _toggled(Audience.from_dict(state["audience"]), action, args)) is not None:
                    return await self.choose(ctx, {**state, "audience": audience.to_dict()}, replace=True)
            case BroadcastState.DEADLINE, Pick("ack", (days,)) if days == "0" or days in map(str, ACK_DAY_CHOICES):
                return await self.preview(ctx, state, int(days))
            case BroadcastState.PREVIEWING, Pick("send"):
                return await self.send(ctx, state)
            case BroadcastState.PREVIEWING, Pick("edit"):
                return await self.start_over(ctx, state)
            case BroadcastState.PREVIEWING, Pick("cancel"):
                return Step.done(Reply(ctx.t("broadcast/cancelled"), replace=True))
        return await self.not_understood(ctx, state)

    async def take_text(self, ctx: FlowContext, state: dict[str, Any], text: str) -> Step:
        """Checks the text (length, no classified markings), then shows the audience to choose."""
        notice = text.strip()
        if not notice or len(notice) > MAX_TEXT:
            return Step(state, [Reply(ctx.t("broadcast/text_length", limit=MAX_TEXT))])
        if refusal := refuse_marked(ctx, notice):
            return Step(state, [refusal])
        return await self.choose(ctx, {**state, "state": BroadcastState.CHOOSING, "text": notice})

    async def choose(self, ctx: FlowContext, state: dict[str, Any], replace: bool = False) -> Step:
        """Draws the audience with ✓ on what is chosen and the number of people it reaches."""
        audience = Audience.from_dict(state["audience"])
        reply = await self._audience(ctx, audience, replace, state.get("page", 0), state.get("search") or "")
        return Step(state, [reply])

    async def ask_deadline(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Asks whether acknowledgement is required, and by when; an audience of nobody is sent back."""
        count = await broadcasts.count_audience(ctx.session, Audience.from_dict(state["audience"]))
        if count.recipients == 0:
            return Step(state, [Reply(ctx.t("broadcast/no_recipients"))])
        buttons = [
            [Button(ctx.t("broadcast/btn_no_ack"), "ack", ("0",))],
            [Button(ctx.t("broadcast/btn_ack_days", days=d), "ack", (str(d),)) for d in ACK_DAY_CHOICES],
        ]
        return Step({**state, "state": BroadcastState.DEADLINE}, [Reply(ctx.t("broadcast/ask_ack"), buttons)])

    async def preview(self, ctx: FlowContext, state: dict[str, Any], days: int) -> Step:
        """Shows the notice as recipients will see it, the exact number of recipients and of those unreachable."""
        deadline = None
        if days:
            local_today = ctx.today
            deadline = ack_deadline(local_today, days, ctx.policy.working_hours_end, ctx.texts.timezone)
        state = {
            **state,
            "state": BroadcastState.PREVIEWING,
            "deadline": deadline.isoformat() if deadline else None,
        }
        return Step(state, [await self._preview(ctx, state)])

    async def send(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Records the broadcast and queues one row per reachable account; the officer gets a progress message."""
        deadline = datetime.fromisoformat(state["deadline"]) if state.get("deadline") else None
        audience = Audience.from_dict(state["audience"])
        created = await broadcasts.create(ctx.session, ctx.now, ctx.person.id, state["text"], audience, deadline)
        info = await broadcasts.info(ctx.session, created.broadcast_id)
        assert info is not None
        source = broadcasts.source_of(info.id)
        await queue_notices(ctx.session, ctx.now, ctx.texts, info, ctx.person.name, created.readers, source)
        await audit.record(
            ctx.session,
            ctx.now,
            ctx.person.id,
            "broadcast.sent",
            source,
            recipients=created.recipients,
            unreachable=created.unreachable,
            audience=audience.to_dict(),
        )
        tally = Tally(pending=len(created.readers), unreachable=created.unreachable)
        progress = Reply(progress_text(ctx.texts, ctx.locale, info.id, tally))
        return Step(
            None,
            [Reply(ctx.t("broadcast/submitted", id=info.id, recipients=created.recipients), replace=True)],
            [Outgoing(ctx.person.id, progress, Priority.INTERACTIVE, broadcasts.progress_source(info.id))],
        )

    async def start_over(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Asks for the text again; the audience chosen is kept."""
        return Step(
            {"state": BroadcastState.WRITING, "audience": state["audience"]},
            [Reply(ctx.t("broadcast/ask_text", limit=MAX_TEXT))],
        )

    async def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Repeats what is expected at this point."""
        current = BroadcastState(state["state"])
        if current is BroadcastState.CHOOSING:
            return await self.choose(ctx, state)
        if current is BroadcastState.DEADLINE:
            return await self.ask_deadline(ctx, state)
        if current is BroadcastState.PREVIEWING:
            return Step(state, [await self._preview(ctx, state)])
        return Step(state, [Reply(ctx.t("broadcast/ask_text", limit=MAX_TEXT))])

    async def _audience(
        self, ctx: FlowContext, audience: Audience, replace: bool, page_number: int = 0, search: str = ""
    ) -> Reply:
        """Everyone, PAGE_SIZE departments a page in natural order (a typed word narrows them and finds people by
        name or employee id, to name one by one), levels, roles."""
        departments = await team.departments(ctx.session)
        listed = matching(departments, search, lambda d: d.name) if search else departments
        page = page_of(len(listed), page_number)
        count = await broadcasts.count_audience(ctx.session, audience)

        def mark(label: str, chosen: bool) -> str:
            return f"✓ {label}" if chosen else label

        level_names = {level: ctx.t("broadcast/level", level=level.value) for level in Level}
        role_names = {role: ctx.t("broadcast/role", role=role.value) for role in SELECTABLE_ROLES}
        buttons: list[list[Button]] = [[Button(mark(ctx.t("broadcast/btn_everyone"), audience.is_everyone), "all")]]
        shown = listed[page.start : page.start + PAGE_SIZE]
        dept_buttons = [Button(mark(d.name, d.id in audience.departments), "d", (str(d.id),)) for d in shown]
        buttons += [dept_buttons[i : i + 2] for i in range(0, len(dept_buttons), 2)]
        if nav := nav_row(ctx, page):
            buttons.append(nav)
        # A typed name or employee id also finds people, to name one by one.
        found = await people.search(ctx.session, search, PEOPLE_FOUND) if search else []
        person_buttons = [
            Button(mark(f"{p.name} {p.employee_id}", p.id in audience.people), "p", (str(p.id),)) for p in found
        ]
        buttons += [person_buttons[i : i + 2] for i in range(0, len(person_buttons), 2)]
        named = [p for p in [await people.by_id(ctx.session, i) for i in sorted(audience.people)] if p is not None]
        buttons.append([Button(mark(level_names[v], v in audience.levels), "l", (v.value,)) for v in Level])
        buttons.append([Button(mark(role_names[r], r in audience.roles), "r", (r.value,)) for r in SELECTABLE_ROLES])
        buttons.append([Button(ctx.t("broadcast/btn_next"), "next")])
        text = ctx.t(
            "broadcast/audience",
            everyone=audience.is_everyone,
            departments=[d.name for d in departments if d.id in audience.departments],
            levels=[level_names[v] for v in Level if v in audience.levels],
            roles=[role_names[r] for r in SELECTABLE_ROLES if r in audience.roles],
            named=[p.name for p in named],
            count=count,
            search=search,
            found=len(listed),
            people_found=len(found),
            paged=page.count > 1 or bool(search),
        )
        return Reply(text, buttons, replace=replace)

    async def _preview(self, ctx: FlowContext, state: dict[str, Any]) -> Reply:
        deadline = datetime.fromisoformat(state["deadline"]) if state.get("deadline") else None
        count: AudienceCount = await broadcasts.count_audience(ctx.session, Audience.from_dict(state["audience"]))
        notice = notice_text(ctx.texts, ctx.locale, state["text"], ctx.person.name, ctx.now, deadline)
        buttons = [
            [
                Button(ctx.t("broadcast/btn_send"), "send"),
                Button(ctx.t("broadcast/btn_edit"), "edit"),
                Button(ctx.t("broadcast/btn_cancel"), "cancel"),
            ]
        ]
        return Reply(ctx.t("broadcast/preview", notice=notice, count=count, deadline=deadline), buttons)


def _toggled(audience: Audience, action: str, args: tuple[str, ...]) -> Audience | None:
    """The audience after a press on one of its buttons; None for a press that means nothing here."""
    if action == "all":
        return Audience()
    if action == "d" and args and args[0].isdigit():
        return audience.toggle_department(int(args[0]))
    if action == "l" and args and args[0] in {v.value for v in Level}:
        return audience.toggle_level(Level(args[0]))
    if action == "r" and args and args[0] in {r.value for r in SELECTABLE_ROLES}:
        return audience.toggle_role(Role(args[0]))
    if action == "p" and args and args[0].isdigit():
        return audience.toggle_person(int(args[0]))
    return None


class BroadcastsState(StrEnum):
    LISTING = "listing"  # recent notices, one button each
    VIEWING = "viewing"  # one notice: who has not acknowledged, 提醒


class BroadcastsFlow:
    name = "broadcasts"
    prefix = "bx"
    roles = OFFICERS

    async def start(self, ctx: FlowContext, args: str) -> Step:
        """Lists recent notices with delivery and acknowledgement figures."""
        return await self.listing(ctx, replace=False)

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step:
        match BroadcastsState(state["state"]), event:
            case BroadcastsState.LISTING, Pick("show", (number,)) if number.isdigit():
                return await self.detail(ctx, int(number))
            case BroadcastsState.VIEWING, Pick("nudge"):
                return await self.nudge(ctx, state)
            case BroadcastsState.VIEWING, Pick("back"):
                return await self.listing(ctx, replace=True)
        return self.not_understood(ctx, state)

    async def listing(self, ctx: FlowContext, replace: bool) -> Step:
        """The recent notices, newest first."""
        items = await broadcasts.recent(ctx.session, RECENT)
        if not items:
            return Step.done(Reply(ctx.t("broadcast/list_empty"), replace=replace))
        buttons = [
            [Button(f"#{s.info.id}", "show", (str(s.info.id),)) for s in items[i : i + 4]]
            for i in range(0, len(items), 4)
        ]
        return Step({"state": BroadcastsState.LISTING}, [Reply(ctx.t("broadcast/list", items=items), buttons, replace)])

    async def detail(self, ctx: FlowContext, broadcast_id: int) -> Step:
        """One notice: its figures and who has not acknowledged yet."""
        standing = await broadcasts.standing(ctx.session, broadcast_id)
        if standing is None:
            return await self.listing(ctx, replace=True)
        buttons = []
        if standing.info.ack_required and standing.silent:
            buttons.append(Button(ctx.t("broadcast/btn_nudge"), "nudge"))
        buttons.append(Button(ctx.t("broadcast/btn_back"), "back"))
        reply = Reply(ctx.t("broadcast/detail", s=standing, limit=SHOWN), [buttons], replace=True)
        return Step({"state": BroadcastsState.VIEWING, "id": broadcast_id}, [reply])

    async def nudge(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Sends the notice again to those who have not acknowledged it, at most once a day."""
        info = await broadcasts.info(ctx.session, state["id"])
        readers = await broadcasts.silent_readers(ctx.session, state["id"]) if info and info.ack_required else []
        if info is None or not readers:
            return Step(state, [Reply(ctx.t("broadcast/nudge_none"))])
        local_day = ctx.today.isoformat()
        if not await broadcasts.claim_nudge(ctx.session, ctx.now, info.id, local_day):
            return Step(state, [Reply(ctx.t("broadcast/nudge_limit"))])
        author = await people.by_id(ctx.session, info.author_staff_id)
        source = f"{broadcasts.source_of(info.id)}:nudge"
        name = author.name if author else ""
        await queue_notices(ctx.session, ctx.now, ctx.texts, info, name, readers, source, nudge=True)
        return Step(state, [Reply(ctx.t("broadcast/nudged", people=len(readers)))])

    def not_understood(self, ctx: FlowContext, state: dict[str, Any]) -> Step:
        """Points at the buttons."""
        return Step(state, [Reply(ctx.t("broadcast/list_hint"))])


class AckAction:
    """已阅 on a notice: records the acknowledgement and marks the message as read."""

    prefix = ACK_ACTION
    roles = EVERYONE

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step:
        if action != "ack" or not args or not args[0].isdigit():
            return Step(None, toast=ctx.t("core/stale_button"))
        broadcast_id = int(args[0])
        outcome = await broadcasts.acknowledge(ctx.session, ctx.now, broadcast_id, ctx.person.id)
        if outcome is broadcasts.Ack.NOT_RECIPIENT:
            return Step(None, toast=ctx.t("broadcast/ack_unknown"))
        if outcome is broadcasts.Ack.ALREADY:
            return Step(None, toast=ctx.t("broadcast/ack_already"))
        info = await broadcasts.info(ctx.session, broadcast_id)
        assert info is not None
        author = await people.by_id(ctx.session, info.author_staff_id)
        notice = notice_text(
            ctx.texts, ctx.locale, info.text, author.name if author else "", info.created_at, info.ack_deadline
        )
        reply = Reply(ctx.t("broadcast/acked", notice=notice, at=ctx.now), replace=True)
        return Step(None, [reply], toast=ctx.t("broadcast/ack_recorded"))
