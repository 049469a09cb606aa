"""The channel-neutral vocabulary of conversations: what a flow answers with (replies, steps) and what it works
in (FlowContext). Flows never see a Telegram or WeCom object; channels translate to and from these types."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Policy
from bot.core.events import FlowEvent
from bot.domain.levels import Role
from bot.services.people import Person
from bot.texts import Later, Texts

if TYPE_CHECKING:
    from bot.core.registry import Registry

T = TypeVar("T")


# --- replies ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Button:
    """A button. `target` None means the current conversation; else the prefix of a standalone action. `short`
    is what a channel with narrow buttons shows instead of a long label (the quiz's option letter, whose full
    text is in the message), and what a person may type to pick it."""

    label: str
    action: str
    args: tuple[str, ...] = ()
    target: str | None = None
    short: str | None = None


@dataclass(frozen=True)
class Document:
    filename: str
    content_b64: str
    caption: str = ""


@dataclass(frozen=True)
class Chart:
    """A picture drawn when it is sent, not inside the flow's transaction: `data` holds the figures as plain JSON
    (bot.handlers.compliance.charts.ChartData), the dispatcher draws them into a PNG shown with `caption` under it."""

    filename: str
    data: dict[str, Any]
    caption: str = ""


# Draws a chart's figures into the image a channel sends ({"filename", "content_b64"}), or None when it cannot.
ChartDrawer = Callable[[Mapping[str, Any]], dict[str, str] | None]


@dataclass(frozen=True)
class Export:
    """A file made when it is sent, not inside the flow's transaction nor on the event loop (a workbook of the whole
    bureau takes seconds): `kind` names the maker a capability registered (`Wiring.export`), `params` are plain
    JSON. The reply's text is sent alone if the file cannot be made."""

    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class ExportContext:
    """What a file maker works with: a session of its own (reading only), and the texts and policy."""

    session: AsyncSession
    now: datetime
    policy: Policy
    texts: Texts


# Makes an export's file (with its caption) from the database.
ExportMaker = Callable[[ExportContext, Mapping[str, Any]], Awaitable[Document]]


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: Sequence[Sequence[Button]] = ()
    # Replace the message whose button was pressed (Telegram edit, WeCom card update) instead of sending.
    replace: bool = False
    document: Document | None = None
    chart: Chart | None = None
    export: Export | None = None
    # Rows of labels a channel with a keyboard of its own (Telegram's reply keyboard) keeps under the input field;
    # each label is typed as it stands (an alias of its command). Only on a reply without buttons.
    keyboard: tuple[tuple[str, ...], ...] = ()


class Priority(IntEnum):
    """Lower goes first: a person waiting for an answer beats everything."""

    INTERACTIVE = 0
    ALERT = 1
    REMINDER = 2
    BROADCAST = 3


@dataclass(frozen=True)
class Outgoing:
    """A message to another person (or the same person, proactively), sent to all their bindings."""

    staff_id: int
    reply: Reply
    priority: Priority = Priority.ALERT
    source: str | None = None


@dataclass(frozen=True)
class Step:
    """What a flow returns: the new state (None when the conversation is over) and what to say."""

    state: dict[str, Any] | None
    replies: list[Reply] = field(default_factory=list)
    outgoing: list[Outgoing] = field(default_factory=list)
    toast: str | None = None  # a short notice on the pressed button (Telegram's callback answer)
    flow: str | None = None  # from an Action: the state is a new conversation of this flow

    @classmethod
    def done(cls, *replies: Reply, toast: str | None = None) -> Step:
        return cls(None, list(replies), toast=toast)


# --- context ----------------------------------------------------------------------------------------
@dataclass
class SharedReads:
    """The people of a batch whose reports (a flow with `reports`, /status) the engine handles together, after the
    batch's other events, and what `FlowContext.once` has read for all of them at once."""

    people: frozenset[int]
    memo: dict[Hashable, Mapping[int, Any]] = field(default_factory=dict)


@dataclass
class FlowContext:
    session: AsyncSession
    now: datetime
    person: Person
    policy: Policy
    texts: Texts
    channel: str
    registry: Registry  # every command and action (/help lists them, buttons start them)
    current_flow: str | None = None  # the conversation the person was in when this event arrived
    public_url: str | None = None  # where people open the web console (BAOMI_PUBLIC_URL); None: not served
    # What this event's steps read more than once (a duty's /status section and its to-do): see `once`.
    memo: dict[Hashable, Mapping[int, Any]] = field(default_factory=dict)
    shared: SharedReads | None = None  # this event is one of the batch's reports, handled together

    @property
    def locale(self) -> str:
        return self.person.locale

    @property
    def today(self) -> date:
        """Today in the bureau's time zone."""
        return self.now.astimezone(self.texts.timezone).date()

    def t(self, name: str, /, **context: Any) -> str:
        """Render in the person's language; `channel` is known to every template (what a channel can do differs:
        Telegram deletes a refused attachment, WeCom cannot)."""
        context.setdefault("channel", self.channel)
        return self.texts.render(name, self.locale, **context)

    def later(self, name: str, /, **context: Any) -> Later:
        """`t`, rendered only when shown."""
        context.setdefault("channel", self.channel)
        return Later(self.texts, name, self.locale, context)

    async def once(self, key: Hashable, load: Callable[[list[int]], Awaitable[Mapping[int, T]]]) -> T:
        """The person's value of `load(people)` (which has one for each person asked), read once for this event:
        /status and the welcome ask every duty for its section and its to-dos, which read the same rows. For one of
        the batch's reports, read once for all of them. Whoever changes those rows in the same event `forget`s
        `key`."""
        # Shared unless the account was bound to someone else by an earlier event of the batch.
        shared = self.shared if self.shared is not None and self.person.id in self.shared.people else None
        memo = self.memo if shared is None else shared.memo
        if key not in memo:
            memo[key] = await load([self.person.id] if shared is None else sorted(shared.people))
        return memo[key][self.person.id]

    def forget(self, key: Hashable) -> None:
        """What `once` read for `key` is read again: this event has changed it."""
        self.memo.pop(key, None)
        if self.shared is not None:
            self.shared.memo.pop(key, None)

    def export(self, kind: str, **params: Any) -> Reply:
        """A reply whose file (`kind`'s maker, in the person's language) is made when it is sent; its text says the
        file could not be made, and is replaced by the file's caption when it is."""
        return Reply(self.t("core/export_failed"), export=Export(kind, {**params, "locale": self.locale}))


class Flow(Protocol):
    """A conversation. States are a StrEnum at the top of its module; steps in the order a user meets them."""

    name: str
    prefix: str  # short and unique: it starts every button payload of this flow
    roles: frozenset[Role]  # who may start it (any of these)

    async def start(self, ctx: FlowContext, args: str) -> Step: ...

    async def on_event(self, ctx: FlowContext, state: dict[str, Any], event: FlowEvent) -> Step: ...


class Action(Protocol):
    """A standalone button that does not belong to a conversation (an acknowledgement, an alert's 受理)."""

    prefix: str
    roles: frozenset[Role]

    async def on_press(self, ctx: FlowContext, action: str, args: tuple[str, ...]) -> Step: ...


EVERYONE: frozenset[Role] = frozenset({Role.STAFF})
OFFICERS: frozenset[Role] = frozenset({Role.OFFICER})
HEADS_AND_OFFICERS: frozenset[Role] = frozenset({Role.HEAD, Role.OFFICER})


# A section of /status: the person's own standing on one duty, or None when there is nothing to say.
StatusSection = Callable[[FlowContext], Awaitable[str | None]]


@dataclass(frozen=True)
class ToDo:
    """Something the person has to do now: one line saying what and by when, and the command that does it with
    the label of its button ("签承诺书")."""

    text: Later  # rendered only where it is shown (the welcome)
    command: str
    label: str


# A capability's to-dos for the person (the welcome, the fallback to an unknown text, /status and 今日待办 list them).
ToDoSource = Callable[[FlowContext], Awaitable[list[ToDo]]]
# Called after a person binds (e.g. to ask for the onboarding pledge); its replies follow the welcome.
BindHook = Callable[[AsyncSession, FlowContext], Awaitable[list[Reply]]]
