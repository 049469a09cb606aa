"""The engine: takes inbox rows in order and, for each, in one transaction, resolves the person, runs one
step of their conversation, saves the new state and writes the replies to the outbox.

A crash anywhere leaves the inbox row pending (processed again after restart, from the old state) or has
committed everything: that is what makes "answered exactly once" hold.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Policy
from bot.core.channel import Channel
from bot.core.events import Attachment, Command, Event, Inbound, Pick, Press, Refused, Text, Throttled
from bot.core.flow import BindHook, Flow, FlowContext, Priority, Reply, SharedReads, Step
from bot.core.intake import SCRUBBED, is_stored, loaded, stored
from bot.core.outbox_rows import add, message_payload, send_to_staff
from bot.core.payload import PayloadError, decode
from bot.core.registry import Registry, allowed
from bot.core.supervise import Pulse, is_outage
from bot.core.todo import KEYBOARD, gather, todo_buttons
from bot.core.typed import offered_buttons, recent_buttons, typed_choice
from bot.db import conversations
from bot.db.conversations import Conversation, StaleState
from bot.db.models import InboxEvent
from bot.db.session import Database, NotLeader
from bot.domain.levels import Role
from bot.services import invitations, people
from bot.services.invitations import Redeemed
from bot.texts import Texts

log = logging.getLogger("baomi.engine")

MAX_ATTEMPTS = 3
BATCH = 200
# A text typed outside any conversation within this long of a message whose 回复 takes typed text (the office's
# question relayed to a reporter) is the answer to it.
TYPED_REPLY_WINDOW = timedelta(hours=48)
# An invitation code typed without /start (letters and digits of the code's alphabet, spaces and dashes ignored).
BARE_CODE = re.compile(r"^[A-Za-z0-9]{10}$")
WELCOME_TODOS = 8  # to-dos listed by name in the welcome (the rest counted): it stays within 20 lines
# Per sender: events taken in any window; more are dropped with one notice. A person answering a quiz presses about
# once a second; a script queuing a thousand messages gets twenty of them handled.
PER_SENDER = 10  # events of one sender in one batch: a backlog is taken a little at a time, between the others'
WRONG_CODE = frozenset({Redeemed.UNKNOWN, Redeemed.USED, Redeemed.EXPIRED})


@dataclass
class Engine:
    db: Database
    clock: Clock
    policy: Policy
    texts: Texts
    registry: Registry
    channels: Mapping[str, Channel]  # by name: each parses its own inbox rows
    on_outbox: Callable[[], None] = lambda: None
    # Called after a person binds (e.g. to start the onboarding pledge); their replies follow the welcome.
    bind_hooks: list[BindHook] = field(default_factory=list)
    public_url: str | None = None  # BAOMI_PUBLIC_URL: links to the web console
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    # One batch at a time in this process (the loop's, a caller's such as the tests' settle): on PostgreSQL two at once
    # could each take one of a person's events (SKIP LOCKED passes over the row the other holds), and the later event
    # could be stepped first, from the same conversation as the earlier one.
    _batches: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event, pulse: Pulse) -> None:
        """Process pending events whenever woken, until `stop` is set. A database outage ends the run (the
        supervisor runs it again): nothing of the batch it met was committed, so the rows are still pending."""
        while not stop.is_set():
            self._wake.clear()
            await self.process_pending()
            pulse.beat()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

    async def process_pending(self) -> int:
        """Process every pending inbox row, oldest first; returns how many were handled."""
        handled = 0
        while True:
            async with self._batches:
                count, more = await self._process_batch()
            handled += count
            # A batch that took all there was ends it: rows stored since then woke the loop, which comes back.
            if not more:
                return handled

    async def has_pending(self) -> bool:
        async with self.db.sessions() as session:
            found = await session.scalar(select(InboxEvent.id).where(InboxEvent.status == "pending").limit(1))
        return found is not None

    async def _process_batch(self) -> tuple[int, bool]:
        """Up to BATCH rows in one transaction, at most PER_SENDER of one sender's; if any of them fails, each is
        then processed on its own, so one bad event neither holds back nor takes down the others. Returns how many
        were handled, and whether there may be more (the batch was full, or a sender had more than their share)."""
        ids: list[int] = []
        try:
            async with self.db.transaction(fenced=True, inline=True) as session:
                query = CLAIM if self.db.is_sqlite else CLAIM.with_for_update(skip_locked=True)  # shared inbox
                rows = round_robin((await session.execute(query)).all())
                ids = [row.id for row in rows]
                if not ids:
                    return 0, False
                shares = Counter((row.channel, row.channel_user_id) for row in rows)
                more = len(ids) == BATCH or max(shares.values()) >= PER_SENDER
                inbounds = [self.inbound(row.channel, row.channel_user_id, row.payload) for row in rows]
                await session.execute(DONE, {"ids": ids, **self._processed()})
                preloaded = await preload(session, inbounds)
                for inbound, shared in self._reports_last(inbounds, preloaded):
                    await self.handle(session, inbound, preloaded, shared)
        except NotLeader:
            raise  # another instance leads now: what this one held is processed there
        except Exception as exc:
            if is_outage(exc):
                raise
            log.info("batch of %s failed (%s); processing one by one", len(ids), type(exc).__name__)
            for row_id in ids:
                await self.process(row_id)
            return len(ids), True
        self.on_outbox()
        return len(ids), more

    async def process(self, row_id: int) -> None:
        """One row in its own transaction, retried when a concurrent step won, recorded when it fails."""
        for _ in range(5):
            try:
                async with self.db.transaction(fenced=True, inline=True) as session:
                    # The row is locked as it is read (PostgreSQL; SQLite's transaction holds the write lock
                    # already): whoever else looks at it afterwards sees it done.
                    row = await session.scalar(
                        select(InboxEvent)
                        .where(InboxEvent.id == row_id, InboxEvent.status == "pending")
                        .with_for_update()
                    )
                    if row is None:
                        return
                    inbound = self.inbound(row.channel, row.channel_user_id, row.payload)
                    await session.execute(
                        update(InboxEvent)
                        .where(InboxEvent.id == row_id)
                        .values(**self._processed())
                        .execution_options(synchronize_session=False)
                    )
                    await self.handle(session, inbound)
                self.on_outbox()
                return
            except StaleState:
                continue
            except NotLeader:
                raise
            except Exception as exc:
                if is_outage(exc):
                    raise  # not the event's fault: it is not counted against it
                # Never log the payload: it may hold what a person typed.
                log.exception("inbox %s failed: %s", row_id, type(exc).__name__)
                await self._record_failure(row_id, exc)
                return

    async def _record_failure(self, row_id: int, exc: Exception) -> None:
        async with self.db.transaction(fenced=True, inline=True) as session:
            row = await session.get(InboxEvent, row_id)
            if row is None:
                return
            row.attempts += 1
            row.error = type(exc).__name__[:200]
            if row.attempts < MAX_ATTEMPTS:
                return
            inbound = self.inbound(row.channel, row.channel_user_id, row.payload)
            for key, value in self._processed("failed").items():
                setattr(row, key, value)
            person = await people.by_binding(session, inbound.channel, inbound.user_id)
            locale = person.locale if person else guess_locale(inbound.language)
            # The person gets an apology instead of silence; their conversation is left as it was.
            add(
                session,
                self.clock.now(),
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                op="send",
                payload=message_payload(Reply(self.texts.render("core/error", locale))),
                priority=Priority.INTERACTIVE,
                staff_id=person.id if person else None,
                source=f"inbox:{row_id}",
            )
            if inbound.callback_id:
                self._answer(session, inbound, None)
        self.on_outbox()

    def inbound(self, channel: str, user_id: str, payload: dict[str, Any]) -> Inbound:
        """The event of an inbox row. A row stored by a channel before intake kept only events (an upgrade with
        rows pending) is parsed by its channel and screened by the guard as intake would have."""
        if is_stored(payload):
            return loaded(channel, user_id, payload)
        parsed = self.channels[channel].parse(payload)
        return loaded(channel, parsed.user_id, stored(parsed, self.policy.guard_extra_terms) or {})

    def _processed(self, status: str = "done") -> dict[str, Any]:
        """A processed row keeps neither what was said nor who said it: only that the update was seen (its dedupe
        key) and when."""
        return {"status": status, "processed_at": self.clock.now(), "channel_user_id": "", "payload": SCRUBBED}

    # --- one event ------------------------------------------------------------------------------------
    def _reports_last(self, inbounds: list[Inbound], preloaded: Preloaded) -> list[tuple[Inbound, SharedReads | None]]:
        """The batch in its order, except the reports (/status: a flow with `reports`) that are their senders' last
        events: those come after all the rest, together. A report changes nothing another person's event reads, and
        read after the rest it shows what they changed; read together, each duty's rows are read once for all of them
        (`FlowContext.once`)."""
        last = {(inbound.channel, inbound.user_id): n for n, inbound in enumerate(inbounds)}
        reports = [
            n
            for n, inbound in enumerate(inbounds)
            if last[key := (inbound.channel, inbound.user_id)] == n
            and key in preloaded.people
            and self._reports(inbound)
        ]
        if not reports:
            return [(inbound, None) for inbound in inbounds]
        people = frozenset(preloaded.people[(inbounds[n].channel, inbounds[n].user_id)].id for n in reports)
        shared = SharedReads(people)
        chosen = set(reports)
        rest = [(inbound, None) for n, inbound in enumerate(inbounds) if n not in chosen]
        return rest + [(inbounds[n], shared) for n in reports]

    def _reports(self, inbound: Inbound) -> bool:
        event = inbound.event
        if isinstance(event, Command):
            entry = self.registry.lookup(event.name)
        elif isinstance(event, Text):
            entry = self.registry.typed(event.text)
        else:
            return False
        return entry is not None and getattr(entry.flow, "reports", False)

    async def handle(
        self,
        session: AsyncSession,
        inbound: Inbound,
        preloaded: Preloaded | None = None,
        shared: SharedReads | None = None,
    ) -> None:
        """One event. `shared`: it is one of the batch's reports, handled together (`_reports_last`)."""
        event = inbound.event
        if event is None:
            return
        now = self.clock.now()
        if isinstance(event, Throttled):
            # Over the intake limit (bot/core/intake.py): the excess was dropped unread; said once, to anyone.
            notice = Reply(self.texts.render("core/too_fast", guess_locale(inbound.language)))
            add(
                session,
                now,
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                op="send",
                payload=message_payload(notice),
                priority=Priority.INTERACTIVE,
            )
            return
        person: people.Person | None
        if preloaded is not None and (key := (inbound.channel, inbound.user_id)) in preloaded.people:
            person = preloaded.people.pop(key)  # used once: this event may change who they are
        else:
            person = await people.by_binding(session, inbound.channel, inbound.user_id)
            await people.reachable_again(session, inbound.channel, {inbound.user_id})
        if person is None:
            person = await self._auto_bind(session, inbound)
        if isinstance(event, Attachment):
            # Material is never carried by the bot: remove it from the chat before anything else.
            if inbound.message_id:
                add(
                    session,
                    now,
                    channel=inbound.channel,
                    chat_id=inbound.chat_id,
                    op="delete",
                    payload={"message_id": inbound.message_id},
                    priority=Priority.INTERACTIVE,
                )
        if person is None:
            log.info("%s %s from a stranger", inbound.channel, describe(event))
            await self._stranger(session, inbound)
            return
        if preloaded is not None and person.id in preloaded.conversations:
            conv = preloaded.conversations.pop(person.id)
        else:
            conv = (await conversations.of(session, [person.id])).get(person.id)
        if (
            isinstance(event, Text)
            and self.registry.typed(event.text) is None
            and (data := await typed_choice(session, inbound.channel, inbound.chat_id, conv, event.text))
        ):
            event = Press(data)  # the option's number, letter or label typed instead of pressing its button
        # One line per event, never with what was typed; nor with who sent it when it goes to a flow whose people
        # may withhold their name (a reporter's steps at the case's timestamps would name them).
        if self._anonymous(event, conv):
            log.info("%s %s in an anonymous flow", inbound.channel, describe(event))
        else:
            log.info("%s %s from staff %s", inbound.channel, describe(event), person.id)
        ctx = FlowContext(
            session,
            now,
            person,
            self.policy,
            self.texts,
            inbound.channel,
            self.registry,
            current_flow=conv.flow if conv else None,
            public_url=self.public_url,
            shared=shared,
        )
        if not person.active:
            self._reply(session, inbound, ctx, Step.done(Reply(ctx.t("core/departed"))), None, None)
            return
        if isinstance(event, Refused):
            # Refused at intake and not stored: said so, and the conversation waits for the text as it was.
            refusal = Reply(ctx.t("guard/refused", category=event.category))
            self._reply(session, inbound, ctx, Step.done(refusal), None, None)
            return
        if isinstance(event, Text) and (entry := self.registry.typed(event.text)):
            event = Command(entry.command)
        if isinstance(event, Command):
            await self._command(session, inbound, ctx, event, conv)
        elif isinstance(event, Press):
            await self._press(session, inbound, ctx, event, conv)
        elif conv is not None:
            flow = self.registry.flows[conv.flow]
            if await self._revoked(session, inbound, ctx, flow, conv):
                return
            step = await flow.on_event(ctx, dict(conv.state), event)
            await self._apply(session, inbound, ctx, flow, conv, step)
        elif isinstance(event, Attachment):
            self._reply(session, inbound, ctx, Step.done(Reply(ctx.t("core/attachment_refused"))), None, None)
        elif not await self._typed_reply(session, inbound, ctx, event):
            await self._not_understood(session, inbound, ctx)

    async def _typed_reply(self, session: AsyncSession, inbound: Inbound, ctx: FlowContext, event: Text) -> bool:
        """A text typed within TYPED_REPLY_WINDOW of a message whose button answers with typed text (回复 on a
        question the office relayed) is taken as that answer, as if 回复 had been pressed first."""
        since = ctx.now - TYPED_REPLY_WINDOW
        for button in await recent_buttons(session, inbound.channel, inbound.chat_id, since):
            try:
                payload = decode(button["data"])
            except PayloadError:
                continue
            action = self.registry.actions.get(payload.prefix)
            if action is None or not getattr(action, "answers_typed_text", False):
                continue
            opened = await action.on_press(ctx, payload.action, payload.args)
            if opened.flow is None or opened.state is None:
                continue  # no longer theirs to answer (another person's case, a closed one)
            flow = self.registry.flows[opened.flow]
            step = await flow.on_event(ctx, dict(opened.state), event)
            await self._apply(session, inbound, ctx, flow, None, step)
            return True
        return False

    async def _not_understood(self, session: AsyncSession, inbound: Inbound, ctx: FlowContext) -> None:
        """No dead end: what the person has to do, as buttons, with 我的待办 and 报告 always there."""
        items = await gather(ctx)
        buttons = todo_buttons(ctx, items, lead=("my_todos",), tail=("report",))
        reply = Reply(ctx.t("core/not_understood", count=len(items)), buttons)
        self._reply(session, inbound, ctx, Step.done(reply), None, None)

    def _anonymous(self, event: Command | Text | Press | Attachment | Refused, conv: Conversation | None) -> bool:
        """Whether the event goes to a flow or action that keeps its people out of the log: the command's flow,
        the button's prefix, else the conversation the person is in."""
        registry = self.registry
        if isinstance(event, Text) and (entry := registry.typed(event.text)):
            return entry.flow.name in registry.anonymous_flows
        if isinstance(event, Command):
            entry = registry.lookup(event.name)
            return entry is not None and entry.flow.name in registry.anonymous_flows
        if isinstance(event, Press):
            return event.data.split(":", 1)[0] in registry.anonymous_prefixes
        if isinstance(event, Text) and conv is None:
            return True  # it may be a reporter's answer to the office, typed under the relayed message
        return conv is not None and conv.flow in registry.anonymous_flows

    async def _stranger(self, session: AsyncSession, inbound: Inbound) -> None:
        event = inbound.event
        locale = guess_locale(inbound.language)
        now = self.clock.now()
        code = None
        if isinstance(event, Command) and event.name == "start" and event.args.strip():
            code = event.args
        elif isinstance(event, Text) and BARE_CODE.match(bare := re.sub(r"[\s-]", "", event.text)):
            code = bare.upper()  # the code typed on its own, as read from paper
        if code is not None:
            if await invitations.locked_out(session, inbound.channel, inbound.user_id, now):
                text = self.texts.render("core/code_locked", locale)
            else:
                result = await invitations.redeem(session, code, inbound.channel, inbound.user_id, inbound.chat_id, now)
                if result.outcome is Redeemed.BOUND and result.staff_id is not None:
                    person = await people.by_id(session, result.staff_id)
                    assert person is not None
                    if result.moved_from is not None and result.moved_from != inbound.chat_id:
                        # The account this one replaced hears of it: a phone changed without them would be news.
                        add(
                            session,
                            now,
                            channel=inbound.channel,
                            chat_id=result.moved_from,
                            op="send",
                            payload=message_payload(Reply(self.texts.render("core/moved", person.locale))),
                            priority=Priority.ALERT,
                        )
                    await self._welcome(session, inbound, person)
                    return
                outcome = f"code_{result.outcome.value}"
                if result.outcome in WRONG_CODE and await invitations.count_wrong_code(
                    session, inbound.channel, inbound.user_id, now
                ):
                    log.warning("%s account locked out after %s wrong codes", inbound.channel, invitations.WRONG_CODES)
                    outcome = "code_locked"
                text = self.texts.render(f"core/{outcome}", locale)
        else:
            text = self.texts.render("core/stranger", locale)
        if inbound.callback_id:
            self._answer(session, inbound, None)
        add(
            session,
            now,
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            op="send",
            payload=message_payload(Reply(text)),
            priority=Priority.INTERACTIVE,
        )

    async def _auto_bind(self, session: AsyncSession, inbound: Inbound) -> people.Person | None:
        """Bind an unknown account if its channel can tell who it is; they are welcomed before their event is
        handled."""
        channel = self.channels.get(inbound.channel)
        if channel is None or inbound.event is None:
            return None
        staff_id = await channel.auto_bind(session, inbound.user_id, self.clock.now())
        if staff_id is None:
            return None
        person = await people.by_id(session, staff_id)
        assert person is not None
        await self._welcome(session, inbound, person)
        return person

    async def _welcome(self, session: AsyncSession, inbound: Inbound, person: people.Person) -> None:
        """The first words to a person just bound: who they are and what they have to do, as buttons (the
        commands are under /help); on a channel with a keyboard of its own, the main actions stay there."""
        now = self.clock.now()
        ctx = FlowContext(session, now, person, self.policy, self.texts, inbound.channel, self.registry)
        hooked = [reply for hook in self.bind_hooks for reply in await hook(session, ctx)]  # e.g. opens a pledge
        items = await gather(ctx)
        text = ctx.t("core/bound", person=person, todos=items[:WELCOME_TODOS], count=len(items))
        replies = [Reply(text, todo_buttons(ctx, items, tail=("help",)))]
        if getattr(self.channels.get(inbound.channel), "keyboard", False):
            keys = [ctx.t("core/word", key=key) for key in KEYBOARD]
            replies.append(Reply(ctx.t("core/keyboard"), keyboard=(tuple(keys[:3]), tuple(keys[3:]))))
        replies += hooked
        self._reply(session, inbound, ctx, Step(None, replies), None, None)
        if ctx.person.roles != {Role.STAFF}:
            # Heads and officers get their own command menu in their chat.
            add(
                session,
                now,
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                op="menu",
                payload={"commands": self._menu(ctx)},
                priority=Priority.INTERACTIVE,
                staff_id=person.id,
            )

    async def _command(
        self, session: AsyncSession, inbound: Inbound, ctx: FlowContext, event: Command, conv: Conversation | None
    ) -> None:
        if event.name == "start":
            if event.args.strip():
                text = ctx.t("core/code_already_bound")
            else:
                text = ctx.t("core/welcome_back", person=ctx.person)
            self._reply(session, inbound, ctx, Step.done(Reply(text)), None, None)
            return
        entry = self.registry.lookup(event.name)
        if entry is None:
            self._reply(
                session, inbound, ctx, Step.done(Reply(ctx.t("core/unknown_command", command=event.name))), None, None
            )
            return
        if not allowed(entry.flow.roles, ctx.person.roles):
            self._reply(session, inbound, ctx, Step.done(Reply(ctx.t("core/no_right"))), None, None)
            return
        step = await entry.flow.start(ctx, event.args)
        if entry.instant:
            # Help, status and the like answer without leaving the conversation the person is in.
            self._reply(session, inbound, ctx, step, None, None)
            return
        await self._apply(session, inbound, ctx, entry.flow, conv, step)

    async def _press(
        self, session: AsyncSession, inbound: Inbound, ctx: FlowContext, event: Press, conv: Conversation | None
    ) -> None:
        try:
            payload = decode(event.data)
        except PayloadError:
            self._reply(session, inbound, ctx, Step(None, toast=ctx.t("core/stale_button")), None, None)
            return
        action = self.registry.actions.get(payload.prefix)
        if action is not None:
            if not allowed(action.roles, ctx.person.roles):
                self._reply(session, inbound, ctx, Step(None, toast=ctx.t("core/no_right")), None, None)
                return
            step = await action.on_press(ctx, payload.action, payload.args)
            if step.flow is not None:
                # The action opens a conversation (回复 on a relayed message waits for the text to relay).
                await self._apply(session, inbound, ctx, self.registry.flows[step.flow], conv, step)
                return
            self._reply(session, inbound, ctx, step, None, None)
            for out in step.outgoing:
                await send_to_staff(session, ctx.now, out.staff_id, out.reply, out.priority, out.source)
            return
        flow = self.registry.by_prefix.get(payload.prefix)
        if flow is None or conv is None or conv.flow != flow.name or conv.version != payload.version:
            # An old button, or the second tap of a double tap: the step it asked for has happened or gone.
            self._reply(session, inbound, ctx, Step(None, toast=ctx.t("core/stale_button")), None, None)
            return
        if await self._revoked(session, inbound, ctx, flow, conv):
            return
        step = await flow.on_event(ctx, dict(conv.state), Pick(payload.action, payload.args))
        await self._apply(session, inbound, ctx, flow, conv, step)

    async def _revoked(
        self, session: AsyncSession, inbound: Inbound, ctx: FlowContext, flow: Flow, conv: Conversation
    ) -> bool:
        """Whether the person lost the role the conversation needs since it started (a roster import demoted
        them): then it ends here, unfinished, and they are told so. Asked at every step, not only at the start."""
        if allowed(flow.roles, ctx.person.roles):
            return False
        await conversations.end(session, conv)
        self._reply(session, inbound, ctx, Step.done(Reply(ctx.t("core/right_withdrawn"))), None, None)
        return True

    async def _apply(
        self,
        session: AsyncSession,
        inbound: Inbound,
        ctx: FlowContext,
        flow: Flow,
        conv: Conversation | None,
        step: Step,
    ) -> None:
        """Save the conversation (its version checked) and queue the replies."""
        version: int | None = None
        if step.state is None:
            if conv is not None:
                await conversations.end(session, conv)
        else:
            # An equal state at the same instant is still a new step: the buttons just drawn carry the new version.
            version = 1 if conv is None else conv.version + 1
            offered = offered_buttons(step.replies, flow.prefix, version)
            await conversations.save(session, ctx.person.id, conv, flow.name, step.state, offered, ctx.now)
        now = ctx.now
        self._reply(session, inbound, ctx, step, flow.prefix, version)
        for out in step.outgoing:
            await send_to_staff(session, now, out.staff_id, out.reply, out.priority, out.source)

    def _reply(
        self,
        session: AsyncSession,
        inbound: Inbound,
        ctx: FlowContext,
        step: Step,
        prefix: str | None,
        version: int | None,
    ) -> None:
        if inbound.callback_id:
            # Answered at once (the spinner stops), whatever waits in the chat before the replies.
            self._answer(session, inbound, step.toast)
        for index, reply in enumerate(step.replies):
            payload = message_payload(reply, prefix, version)
            if index == 0 and inbound.callback_id:
                payload["pressed"] = inbound.callback_id  # for a channel that marks the pressed card (WeCom)
            if reply.replace and inbound.callback_id and inbound.message_id and not (reply.document or reply.chart):
                payload["message_id"] = inbound.message_id
                op = "edit"
            else:
                op = "send"
            add(
                session,
                ctx.now,
                channel=inbound.channel,
                chat_id=inbound.chat_id,
                op=op,
                payload=payload,
                priority=Priority.INTERACTIVE,
                staff_id=ctx.person.id,
            )

    def _answer(self, session: AsyncSession, inbound: Inbound, toast: str | None) -> None:
        add(
            session,
            self.clock.now(),
            channel=inbound.channel,
            chat_id=inbound.chat_id,
            op="answer",
            payload={"callback_id": inbound.callback_id, "text": toast or ""},
            priority=Priority.INTERACTIVE,
        )

    def _menu(self, ctx: FlowContext) -> list[dict[str, str]]:
        return [
            {"command": e.command, "description": ctx.t(f"menu/{e.command}")}
            for e in self.registry.menu(ctx.person.roles)
        ]


@dataclass
class Preloaded:
    """People and conversations of a batch, read in one query per channel; each entry is used at most once."""

    people: dict[tuple[str, str], people.Person]
    conversations: dict[int, Conversation | None]


# The batch's people with the conversations they are in: one statement instead of one for each.
PRELOAD = people.BY_BINDINGS.add_columns(*conversations.COLUMNS).outerjoin(
    conversations.TABLE, conversations.TABLE.c.staff_id == people.STAFF.c.id
)
_CONVERSATION_AT = len(people.BY_BINDINGS.selected_columns)


async def preload(session: AsyncSession, inbounds: list[Inbound]) -> Preloaded:
    """The batch's people and conversations; whoever wrote is reachable again."""
    wanted: dict[str, set[str]] = {}
    for inbound in inbounds:
        if inbound.event is not None:
            wanted.setdefault(inbound.channel, set()).add(inbound.user_id)
    found: dict[tuple[str, str], people.Person] = {}
    convs: dict[int, Conversation | None] = {}
    for channel, user_ids in wanted.items():
        unreachable: set[str] = set()
        for row in (await session.execute(PRELOAD, {"channel": channel, "users": list(user_ids)})).all():
            person = people.person_of(row)
            found[(channel, row.channel_user_id)] = person
            convs[person.id] = conversations.joined(row[_CONVERSATION_AT:])
            if row.unreachable_at is not None:
                unreachable.add(row.channel_user_id)
        if unreachable:
            await people.reachable_again(session, channel, unreachable)
    return Preloaded(found, convs)


INBOX = cast(Table, InboxEvent.__table__)
# Round-robin across people: everyone's first pending event, then everyone's second, and so on (at most PER_SENDER of
# one sender's), so that one person's backlog cannot hold back another's step.
_TURN = (
    func.row_number().over(partition_by=(INBOX.c.channel, INBOX.c.channel_user_id), order_by=INBOX.c.id).label("turn")
)
_RANKED = select(INBOX.c.id, _TURN).where(INBOX.c.status == "pending").subquery()
CLAIM = select(INBOX.c.id, INBOX.c.channel, INBOX.c.channel_user_id, INBOX.c.payload).where(
    INBOX.c.id.in_(
        select(_RANKED.c.id).where(_RANKED.c.turn <= PER_SENDER).order_by(_RANKED.c.turn, _RANKED.c.id).limit(BATCH)
    )
)


DONE = update(INBOX).where(INBOX.c.id.in_(bindparam("ids", expanding=True)))  # values: Engine._processed


def round_robin(rows: Sequence[Any]) -> list[Any]:
    """Rows in turns: each sender's first, then each sender's second, and so on; each sender's in order."""
    turns: dict[tuple[str, str], int] = {}
    keyed = []
    for row in sorted(rows, key=lambda r: r.id):
        key = (row.channel, row.channel_user_id)
        turns[key] = turns.get(key, 0) + 1
        keyed.append((turns[key], row.id, row))
    return [row for _, _, row in sorted(keyed, key=lambda k: (k[0], k[1]))]


def describe(event: Event) -> str:
    """What kind of event this is, for the log: the command or button, never the text."""
    if isinstance(event, Command):
        return f"command /{event.name}"
    if isinstance(event, Text):
        return f"text ({len(event.text)} characters)"
    if isinstance(event, Press):
        return "press " + ":".join(event.data.split(":")[:3:2])
    if isinstance(event, Refused):
        return f"refused text ({event.category})"
    if isinstance(event, Throttled):
        return "over the intake limit"
    return f"attachment {event.kind.value}"


def guess_locale(language: str | None) -> str:
    return "en" if language and language.lower().startswith("en") else "zh"
