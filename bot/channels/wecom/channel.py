"""The WeCom (企业微信) channel of a self-built application: callbacks into the inbox, WeCom messages into
neutral events, outbox rows into WeCom API calls. Thin on purpose: it knows WeCom and nothing about flows.

Inbound. A callback is verified and decrypted, its message committed to the inbox under WeCom's MsgId (events:
sender, time and key) and only then answered 200, so WeCom's retries of it are processed once.

Outbound. A reply with buttons becomes a `button_interaction` template card whose button keys carry the
engine's payload; a press comes back as a `template_card_event` and becomes `Press(payload)`. Replacing the
pressed message (a Telegram edit) greys the card's buttons with `update_template_card` and says the new
content as a new message. Texts go out with safe=1: no forwarding, a watermark. (Markdown and cards cannot
carry safe=1, so whatever the person reads at length is a text message; cards hold at most a short question.)

WeCom drops, without saying so, what exceeds 30 messages a minute or 1,000 an hour to one member. The
channel counts every message it sends per member on the injected clock and defers a row that would
exceed either (Outcome.DEFERRED), keeping some room for replies when proactive messages fill the quota.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import json
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wecom.binding import RosterBindingSweep
from bot.channels.wecom.client import WeComApiError, WeComClient, WeComUnavailable
from bot.channels.wecom.crypto import (
    MAX_CALLBACK_BYTES,
    BadReceiveId,
    BadSignature,
    MalformedPayload,
    WeComCrypto,
    WeComCryptoError,
)
from bot.channels.wecom.messages import InboundMedia, InboundText, TemplateCardClick, dedupe_key, parse_inbound
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.core.channel import Channel, ChannelEnv, Limits, Operation, Outcome, Result, Route, StartContext
from bot.core.events import Attachment, AttachmentKind, Command, Inbound, Press, Text
from bot.core.flow import Priority
from bot.core.sweep import Sweep
from bot.db.models import Binding, InboxEvent, OutboxMessage, Staff
from bot.db.session import Database
from bot.db.upsert import insert_ignore
from bot.services import audit

log = logging.getLogger("baomi.wecom")

CHANNEL = "wecom"
CALLBACK_PATH = "/wecom/callback"
# The application's API quota is generous (thousands of calls a minute); the per-member windows are what bind.
LIMITS = Limits(per_second=100.0, burst=100, chat_interval=0.0, concurrency=16)

# --- WeCom's rules ----------------------------------------------------------------------------------------------
PER_MINUTE, PER_HOUR = 30, 1000  # messages to one member; WeCom silently drops the excess
# Proactive messages stop short of the quota, so that a person in a conversation is still answered.
PROACTIVE_PER_MINUTE, PROACTIVE_PER_HOUR = 25, 950
# Our requests reach WeCom after varying delays: counting over slightly longer windows keeps us under its count.
MINUTE = timedelta(seconds=65)
HOUR = timedelta(seconds=3605)
TEXT_BYTES = 2048  # a text message's content; WeCom cuts off the rest
TITLE_CHARS = 36  # a card's main title (WeCom's advice; longer titles are cut in the client)
CARD_BUTTONS = 6
# Resending an identical request within this interval is collapsed by WeCom. Longer than a restart after a crash,
# shorter than the shortest repeat of a proactive message (unacknowledged leak alerts: every 15 minutes).
DUPLICATE_CHECK_SECONDS = 600
# Everyone's scheduled pushes crowd WeCom at :00 and :30 (Beijing time); WeCom asks apps to avoid them.
BEIJING = ZoneInfo("Asia/Shanghai")

RETRYABLE = frozenset({-1, 45009, 45033})  # system busy, API frequency, API concurrency
UNREACHABLE = frozenset({60111, 81013})  # no such member, or outside the application's visible range
SETUP = {
    60020: "add this server's public IP to the application's trusted IPs (企业可信IP)",
    40001: "check BAOMI_WECOM_SECRET",
    40013: "check BAOMI_WECOM_CORP_ID",
    40056: "check BAOMI_WECOM_AGENT_ID",
    48002: "the application lacks the permission for this API",
}

MEDIA_KINDS = {
    "image": AttachmentKind.PHOTO,
    "voice": AttachmentKind.VOICE,
    "video": AttachmentKind.VIDEO,
    "file": AttachmentKind.DOCUMENT,
    "location": AttachmentKind.LOCATION,
    "link": AttachmentKind.LINK,
}
SLASHES = ("/", "／")  # a Chinese input method types the full-width one


@dataclass(frozen=True)
class Call:
    """One WeCom API call of an outbox row: `send` (message/send), `file` or `image` (upload, then send) or
    `update`."""

    api: str
    body: dict[str, Any]

    @property
    def counted(self) -> bool:
        """Whether WeCom counts it against the member's quota."""
        return self.api != "update"


def configure(settings: Settings, env: ChannelEnv) -> WeComChannel | None:
    """The channel when its five settings are given (Settings refuses only some of them)."""
    if settings.wecom is None:
        return None
    try:
        crypto = WeComCrypto(settings.wecom.token, settings.wecom.aes_key, settings.wecom.corp_id)
    except ValueError as exc:
        raise ConfigError(f"BAOMI_WECOM_TOKEN / BAOMI_WECOM_AES_KEY: {exc}") from exc
    if not env.serving:
        log.warning("WeCom is configured, but only `baomi serve` receives its callbacks: this process only sends")
    return WeComChannel(WeComClient(settings.wecom, env.clock), crypto, env.db, env.clock, env.on_inbox)


class WeComChannel(Channel):
    name = CHANNEL

    def __init__(
        self,
        client: WeComClient,
        crypto: WeComCrypto,
        db: Database,
        clock: Clock,
        on_inbox: Callable[[], None],
        limits: Limits = LIMITS,
    ) -> None:
        self.client = client
        self.crypto = crypto
        self.db = db
        self.clock = clock
        self.on_inbox = on_inbox
        self.limits = limits
        self.windows = MemberWindows()

    # --- life ---------------------------------------------------------------------------------------------------
    async def start(self, ctx: StartContext) -> list[asyncio.Task[None]]:
        """Nothing to poll: WeCom posts callbacks to `baomi serve`. The quotas resume where they were."""
        await self.load_windows()
        return []

    async def stop(self) -> None:
        await self.client.close()

    def routes(self) -> list[Route]:
        return [Route("GET", CALLBACK_PATH, self.http_verify), Route("POST", CALLBACK_PATH, self.http_callback)]

    def sweeps(self) -> list[Sweep]:
        # The roster's accounts are bound every tick, before the duties run, so that reminders reach them.
        return [RosterBindingSweep(CHANNEL)]

    # --- inbound ------------------------------------------------------------------------------------------------
    async def http_verify(self, request: web.Request) -> web.Response:
        """WeCom checks the URL when the callback is set up: answer the decrypted echo, as plain text."""
        try:
            echo = self.verify_url(request.query)
        except WeComCryptoError as exc:
            return _rejected(exc)
        return web.Response(text=echo)

    async def http_callback(self, request: web.Request) -> web.Response:
        """Commit the message to the inbox and answer 200 with an empty body, well within WeCom's 5 seconds; the
        reply goes out through the outbox."""
        body = await request.content.read(MAX_CALLBACK_BYTES + 1)
        if len(body) > MAX_CALLBACK_BYTES:
            log.warning("WeCom callback rejected (body over %s bytes)", MAX_CALLBACK_BYTES)
            return web.Response(status=413)
        try:
            await self.receive(body, request.query)
        except WeComCryptoError as exc:
            return _rejected(exc)
        return web.Response()

    def verify_url(self, query: Mapping[str, str]) -> str:
        """WeCom's GET check of the callback URL: the decrypted echo to answer with."""
        signature, timestamp, nonce, echostr = _params(query, "msg_signature", "timestamp", "nonce", "echostr")
        return self.crypto.verify_url(signature, timestamp, nonce, echostr)

    async def receive(self, body: bytes, query: Mapping[str, str]) -> None:
        """Verify, decrypt and commit one callback (one of WeCom's retries of it is dropped as a duplicate).
        Raises WeComCryptoError for anything that must not be trusted."""
        signature, timestamp, nonce = _params(query, "msg_signature", "timestamp", "nonce")
        message = parse_inbound(self.crypto.decrypt_callback(body, signature, timestamp, nonce))
        kind = {InboundText: "text", InboundMedia: "media", TemplateCardClick: "card"}.get(type(message), "event")
        row = {
            "channel": CHANNEL,
            "dedupe_key": dedupe_key(message),
            "channel_user_id": message.from_user,
            "payload": {"type": kind, **asdict(message)},
            "received_at": self.clock.now(),
            "status": "pending",
            "attempts": 0,
        }
        async with self.db.transaction() as session:
            await insert_ignore(session, InboxEvent, [row], ["channel", "dedupe_key"])
        self.on_inbox()

    def parse(self, payload: dict[str, Any]) -> Inbound:
        return inbound_of(payload)

    async def auto_bind(self, session: AsyncSession, user_id: str, now: datetime) -> int | None:
        """WeCom accounts are the enterprise's own: an active roster entry with this userid is bound without an
        invitation code, at its first message unless the roster sweep (bot/jobs/bindings.py) bound it already.
        Returns the staff id, or None (a stranger)."""
        # WeCom treats userids case-insensitively (its API answers them in lower case).
        staff = await session.scalar(
            select(Staff).where(func.lower(Staff.wecom_userid) == user_id.lower(), Staff.active.is_(True))
        )
        if staff is None:
            return None
        existing = await session.scalar(select(Binding).where(Binding.staff_id == staff.id, Binding.channel == CHANNEL))
        if existing is not None:
            # Bound from the roster under another spelling of the same userid: WeCom's own spelling from now on.
            existing.channel_user_id, existing.chat_id, existing.unreachable_at = user_id, user_id, None
            await session.flush()
            return staff.id
        session.add(
            Binding(staff_id=staff.id, channel=CHANNEL, channel_user_id=user_id, chat_id=user_id, created_at=now)
        )
        await session.flush()
        await audit.record(session, now, staff.id, "binding.create", f"staff:{staff.id}", channel=CHANNEL, via="roster")
        return staff.id

    # --- outbound -----------------------------------------------------------------------------------------------
    async def perform(self, op: Operation) -> Result:
        try:
            calls = plan(op)
        except ValueError as exc:
            return Result(Outcome.FAILED, error=str(exc)[:200])
        counted = sum(1 for call in calls if call.counted)
        if counted:
            now = self.clock.now()
            if op.priority >= Priority.REMINDER and (busy := _busy_minute(now)) > 0:
                return Result(Outcome.DEFERRED, retry_after=busy)
            wait = self.windows.reserve(op.chat_id, counted, now, proactive=op.priority > Priority.INTERACTIVE)
            if wait > 0:
                return Result(Outcome.DEFERRED, retry_after=wait)
        message_id: str | None = None
        try:
            for call in calls:
                message_id = await self._call(call) or message_id
        except WeComApiError as exc:
            return _failure(op, exc)
        except (aiohttp.ClientError, TimeoutError, WeComUnavailable) as exc:
            return Result(Outcome.RETRY, error=type(exc).__name__)
        return Result(Outcome.SENT, message_id)

    async def _call(self, call: Call) -> str | None:
        if call.api == "update":
            try:
                await self.client.update_template_card(call.body)
            except WeComApiError as exc:
                # The code is spent or older than 72 hours: the card keeps its buttons, and a press on one of them
                # is answered as a stale button. Not a reason to withhold the new content.
                log.info("card update refused (errcode %s)", exc.errcode)
            return None
        body = call.body
        if call.api in ("file", "image"):
            media = body[call.api]
            media_id = await self.client.upload_file(
                media["filename"], base64.b64decode(media["content"]), kind=call.api
            )
            body = {**body, call.api: {"media_id": media_id}}
        answer = await self.client.send(body)
        return str(answer.get("msgid") or "") or None

    async def find_delivered(self, op: Operation) -> str | None:
        """Always None: a send in flight at a crash is sent again. WeCom cannot be asked whether a message
        arrived, but its duplicate check (enable_duplicate_check) collapses the identical request: cards (their
        task id is unique to the row) and proactive messages carry it. A reply of plain text to a person in a
        conversation does not, since the same words may rightly be said twice: such a reply in flight at a
        crash may arrive twice."""
        return None

    async def load_windows(self) -> None:
        """Count what was sent to each member in the last hour, so that a restart does not reset the quotas."""
        since = self.clock.now() - HOUR
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxMessage.id,
                        OutboxMessage.chat_id,
                        OutboxMessage.op,
                        OutboxMessage.payload,
                        OutboxMessage.priority,
                        OutboxMessage.sent_at,
                    )
                    .where(
                        OutboxMessage.channel == CHANNEL,
                        OutboxMessage.status == "sent",
                        OutboxMessage.sent_at >= since,
                    )
                    .order_by(OutboxMessage.sent_at)
                )
            ).all()
        for row_id, chat_id, kind, payload, priority, sent_at in rows:
            calls = plan(Operation(row_id, chat_id, kind, dict(payload), priority, channel=CHANNEL))
            self.windows.record(chat_id, sum(1 for c in calls if c.counted), sent_at)


# --- rows into calls --------------------------------------------------------------------------------------------
def plan(op: Operation) -> list[Call]:
    """The WeCom API calls that perform one outbox row, in order. Pure: also used to recount past rows."""
    p = op.payload
    user = op.chat_id
    proactive = op.priority > Priority.INTERACTIVE
    if op.op == "answer":
        # WeCom has no notice on a pressed button: the notice (e.g. "this button is no longer valid") is said.
        return _texts(user, p.get("text") or "", proactive)
    if op.op in ("delete", "menu"):
        # A person's message cannot be deleted through the API (it is refused, never stored), and an
        # application's menu is set for everyone in the admin console, not per person.
        return []
    if op.op not in ("send", "edit"):
        raise ValueError(f"unknown operation {op.op}")
    calls: list[Call] = []
    if op.op == "edit" and (pressed := _read_press((p.get("answer") or {}).get("callback_id"))) is not None:
        response_code, label = pressed
        replace = {"replace_name": f"✓ {label}" if label else "✓"}
        calls.append(Call("update", {"userids": [user], "response_code": response_code, "button": replace}))
    if toast := (p.get("answer") or {}).get("text"):
        # No notice pops up on a pressed card: the notice that came with the press is said before the reply.
        calls += _texts(user, toast, proactive)
    text = p.get("text") or ""
    buttons = [button for row in p.get("buttons") or [] for button in row]
    if doc := p.get("document"):
        calls += _texts(user, doc.get("caption") or text, proactive)
        file = {"filename": doc["filename"], "content": doc["content_b64"]}
        calls.append(Call("file", {"touser": user, "msgtype": "file", "file": file, "safe": 1}))
        text = ""
    if image := p.get("image"):
        calls += _texts(user, image.get("caption") or text, proactive)
        picture = {"filename": image["filename"], "content": image["content_b64"]}
        calls.append(Call("image", {"touser": user, "msgtype": "image", "image": picture, "safe": 1}))
        text = ""
    if not buttons:
        return calls + _texts(user, text, proactive)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) == 1 and len(lines[0]) <= TITLE_CHARS:
        title = lines[0]
    else:
        # The words go where safe=1 protects them; the card asks the question in a short title.
        calls += _texts(user, text, proactive)
        last = lines[-1] if lines else "…"
        title = last if len(last) <= TITLE_CHARS else last[: TITLE_CHARS - 1] + "…"
    for index in range(0, len(buttons), CARD_BUTTONS):
        card = {
            "card_type": "button_interaction",
            "main_title": {"title": title},
            # Unique to the row, and the same when the row is sent again: the duplicate check then applies.
            "task_id": f"baomi_{op.id}_{index // CARD_BUTTONS}",
            "button_list": [
                {"text": b["text"], "style": 1, "key": button_key(b["data"], b["text"])}
                for b in buttons[index : index + CARD_BUTTONS]
            ],
        }
        calls.append(Call("send", {"touser": user, "msgtype": "template_card", "template_card": card, **_once()}))
    return calls


def _texts(user: str, text: str, proactive: bool) -> list[Call]:
    extra = _once() if proactive else {}
    return [
        Call("send", {"touser": user, "msgtype": "text", "text": {"content": part}, "safe": 1, **extra})
        for part in split_text(text)
    ]


def _once() -> dict[str, int]:
    return {"enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}


def split_text(text: str, limit: int = TEXT_BYTES) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, cut between lines where possible."""
    parts: list[str] = []
    current = ""
    for line in text.strip().splitlines(keepends=True):
        if len((current + line).encode()) <= limit:
            current += line
            continue
        if current:
            parts.append(current)
        current = ""
        while len(line.encode()) > limit:
            cut = limit // 4  # a safe number of characters, then as many more as fit
            while len(line[: cut + 1].encode()) <= limit:
                cut += 1
            parts.append(line[:cut])
            line = line[cut:]
        current = line
    if current.strip():
        parts.append(current)
    return [part.strip() for part in parts if part.strip()]


def button_key(data: str, label: str) -> str:
    """A card button's key: the engine's payload, and the label to show on the greyed card once it is pressed
    (well within WeCom's 1,024 bytes)."""
    return json.dumps([data, label], ensure_ascii=False)


def read_key(key: str) -> tuple[str, str]:
    """(payload, label) from a pressed button's key; a key not of ours is passed on as the payload."""
    try:
        data, label = json.loads(key)
    except (ValueError, TypeError):
        return key, ""
    if not isinstance(data, str) or not isinstance(label, str):
        return key, ""
    return data, label


def _read_press(callback_id: str | None) -> tuple[str, str] | None:
    if not callback_id:
        return None
    try:
        response_code, label = json.loads(callback_id)
    except (ValueError, TypeError):
        return None
    return str(response_code), str(label)


def inbound_of(payload: dict[str, Any]) -> Inbound:
    """The neutral event of a stored callback."""
    user = str(payload["from_user"])
    kind = payload["type"]
    if kind == "text":
        return Inbound(CHANNEL, user, user, _text_event(payload["content"]), message_id=payload["msg_id"])
    if kind == "media":
        event = Attachment(MEDIA_KINDS.get(payload["kind"], AttachmentKind.OTHER))
        return Inbound(CHANNEL, user, user, event, message_id=payload["msg_id"])
    if kind == "card":
        data, label = read_key(payload["event_key"])
        return Inbound(
            CHANNEL,
            user,
            user,
            Press(data),
            message_id=payload["task_id"],
            callback_id=json.dumps([payload["response_code"], label], ensure_ascii=False),
        )
    return Inbound(CHANNEL, user, user, None)  # entering the app, subscribing, menu clicks


def _text_event(content: str) -> Command | Text:
    text = content.strip()
    if text[:1] in SLASHES and len(text) > 1 and not text[1].isspace():
        name, _, args = text[1:].partition(" ")
        return Command(name.lower(), args.strip())
    return Text(text)


def _busy_minute(now: datetime) -> float:
    """Seconds until the end of the minute if it is :00 or :30 in Beijing, else 0."""
    local = now.astimezone(BEIJING)
    if local.minute % 30:
        return 0.0
    return 60.0 - local.second - local.microsecond / 1e6


def _failure(op: Operation, exc: WeComApiError) -> Result:
    error = f"wecom errcode {exc.errcode}"
    if exc.errcode in RETRYABLE:
        return Result(Outcome.RETRY, error=error)
    if exc.errcode in UNREACHABLE:
        return Result(Outcome.UNREACHABLE, error=error)
    if hint := SETUP.get(exc.errcode):
        log.error("WeCom refused outbox %s: errcode %s (%s)", op.id, exc.errcode, hint)
        return Result(Outcome.RETRY, error=error)
    return Result(Outcome.FAILED, error=f"{error}: {exc.errmsg}"[:200])


def _rejected(exc: WeComCryptoError) -> web.Response:
    # The kind of failure only: the message of a decryption error may quote what was received.
    log.warning("WeCom callback rejected (%s)", type(exc).__name__)
    return web.Response(status=403 if isinstance(exc, BadSignature | BadReceiveId) else 400)


def _params(query: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise MalformedPayload(f"callback lacks {', '.join(missing)}")
    return [query[name] for name in names]


class MemberWindows:
    """When each member was sent each message, over the last hour, on the injected clock."""

    def __init__(self) -> None:
        self._sent: dict[str, deque[datetime]] = {}

    def reserve(self, user: str, count: int, now: datetime, proactive: bool) -> float:
        """Take `count` messages of the member's quota now and return 0, or return the seconds until they fit."""
        per_minute, per_hour = (PROACTIVE_PER_MINUTE, PROACTIVE_PER_HOUR) if proactive else (PER_MINUTE, PER_HOUR)
        sent = self._sent.setdefault(user, deque())
        while sent and sent[0] <= now - HOUR:
            sent.popleft()
        wait = 0.0
        times = list(sent)
        for window, cap in ((MINUTE, per_minute), (HOUR, per_hour)):
            recent = times[bisect.bisect_right(times, now - window) :]
            excess = min(len(recent), len(recent) + count - cap)
            if excess > 0:
                # The oldest `excess` of them must leave the window first.
                wait = max(wait, (recent[excess - 1] + window - now).total_seconds())
        if wait > 0:
            return wait
        self.record(user, count, now)
        return 0.0

    def record(self, user: str, count: int, at: datetime) -> None:
        self._sent.setdefault(user, deque()).extend([at] * count)
