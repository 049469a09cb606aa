"""The WeCom (企业微信) channel of a self-built application: callbacks into the inbox, WeCom messages into
neutral events, outbox rows into WeCom API calls. Thin on purpose: it knows WeCom and nothing about flows.

Inbound. A callback's whole body is read (WeCom may post it in several TCP segments), verified and decrypted, its
message committed to the inbox under WeCom's MsgId (events: sender, time and key) and only then answered 200, so
WeCom's retries of it are processed once. What WeCom says about members is applied to their bindings in the same
transaction (directory.py): subscribe and enter_agent make a member reachable again, a renamed userid moves the
binding, a deleted member's binding is deactivated.

Outbound. A reply with buttons is a text (safe=1) that ends with its options numbered, then a
`button_interaction` template card whose button keys carry the engine's payload; a press comes back as a
`template_card_event` and becomes `Press(payload)`. Cards need WeCom 3.1.6 or later: the WeChat plugin (微工作台)
and older clients show none, so the numbered options are what those people answer by typing (bot/core/typed.py).
A label longer than a card button shows (about 10 characters) is replaced by the button's short form (the quiz's
A–D), the full text being in the message. Replacing the pressed message (a Telegram edit) greys the card's buttons
with `update_template_card` and says the new content as a new message. Texts go out with safe=1: no forwarding, a
watermark. (Markdown and cards cannot carry safe=1, so whatever the person reads at length is a text message.)

Card task ids are unique to the installation forever: a random prefix drawn at its first start and kept in the
database, the outbox row and the card's place in it. WeCom refuses a task id it has seen (42014: the database was
restored, or another installation shares the application): the prefix is drawn anew and the card sent again.

Limits (quotas.py). WeCom drops, without saying so, what exceeds 30 messages a minute or 1,000 an hour to one
member: the channel counts every message it sends per member on the injected clock and defers a row that would
exceed either (Outcome.DEFERRED), keeping some room for replies when proactive messages fill the quota. It counts
the application's daily total too (account limit × 200 person-messages): reminders and notices stop at 90 % of it
and wait for the next working morning, which the log and the officers' weekly digest say. When WeCom blocks the
application (45009: a minute, an hour or the rest of the day), is busy (-1, 45033), or refuses the setup (60020: the
server's IP is not trusted, 48002, a wrong secret), no call is made until the block is over or the setup may have
been fixed, and rows stay pending without losing an attempt: DEFERRED, on the injected clock.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.channels.wecom.binding import RosterBindingSweep
from bot.channels.wecom.client import WeComApiError, WeComClient, WeComUnavailable
from bot.channels.wecom.crypto import (
    MAX_CALLBACK_BYTES,
    BadReceiveId,
    BadSignature,
    MalformedPayload,
    StaleTimestamp,
    WeComCrypto,
    WeComCryptoError,
    WrongAgent,
)
from bot.channels.wecom.directory import apply_contact_change, apply_member_event
from bot.channels.wecom.messages import (
    ContactChange,
    InboundMedia,
    InboundText,
    OtherEvent,
    TemplateCardClick,
    dedupe_key,
    parse_inbound,
)
from bot.channels.wecom.quotas import (
    BEIJING,
    HOUR,
    PER_ACCOUNT_A_DAY,
    DailyTotal,
    Gate,
    MemberWindows,
    busy_minute,
    next_midnight,
)
from bot.clock import Clock
from bot.config import ConfigError, Settings
from bot.core.channel import (
    Channel,
    ChannelEnv,
    Limits,
    Operation,
    Outcome,
    Rejections,
    Result,
    Route,
    StartContext,
)
from bot.core.events import Attachment, AttachmentKind, Command, Inbound, Press, Text
from bot.core.flow import Priority
from bot.core.intake import Intake
from bot.core.render import TEXT_LIMITS, split, utf8_bytes
from bot.core.supervise import Loop
from bot.core.sweep import Sweep
from bot.db.models import Binding, InstallationValue, OutboxMessage, Staff
from bot.db.session import Database
from bot.db.upsert import insert_ignore
from bot.services import audit, delivery

log = logging.getLogger("baomi.wecom")

CHANNEL = "wecom"
CALLBACK_PATH = "/wecom/callback"
# The application's API quota is generous (thousands of calls a minute); the per-member windows are what bind.
# A notice on a pressed card is said as a message (WeCom shows none): only deletions and menus, which are no
# calls at all, are outside the chats' order.
LIMITS = Limits(per_second=100.0, chat_interval=0.0, concurrency=16, uncounted=frozenset({"delete", "menu"}))

# --- WeCom's rules ----------------------------------------------------------------------------------------------
TEXT_BYTES = TEXT_LIMITS[CHANNEL].message  # a text message's content; WeCom cuts off the rest
TITLE_CHARS = 36  # a card's main title (WeCom's advice; longer titles are cut in the client)
CARD_BUTTONS = 6
BUTTON_CHARS = 10  # a card button's text (WeCom's advice: 建议不超过10个字; longer ones are cut in the client)
TASK_ID_BYTES = 128  # letters, digits and _-@ only
# Resending an identical request within this interval is collapsed by WeCom. Longer than a restart after a crash,
# shorter than the shortest repeat of a proactive message (unacknowledged leak alerts: every 15 minutes).
DUPLICATE_CHECK_SECONDS = 600

BLOCKED = 45009  # API frequency: blocked for a minute, an hour or the rest of the day
BUSY = frozenset({-1, 45033})  # system busy, API concurrency
BUSY_PAUSE = timedelta(minutes=1)
TASK_ID_TAKEN = 42014  # "taskid has existed or empty or exceed max len"
UNREACHABLE = frozenset({60111, 81013})  # no such member, or outside the application's visible range
SETUP = {
    60020: "add this server's public IP to the application's trusted IPs (企业可信IP)",
    40001: "check BAOMI_WECOM_SECRET",
    40013: "check BAOMI_WECOM_CORP_ID",
    40056: "check BAOMI_WECOM_AGENT_ID",
    48002: "the application lacks the permission for this API",
    TASK_ID_TAKEN: "card task ids are refused even after drawing a new prefix",
}
# Rows wait this long between tries while the setup is wrong: the operator fixes it in the admin console.
SETUP_PAUSE = timedelta(minutes=5)
NETWORK_SETUP = {
    aiohttp.ClientConnectorCertificateError: "WeCom's TLS certificate is not trusted: set BAOMI_WECOM_CA_FILE",
    aiohttp.ClientProxyConnectionError: "the proxy cannot be reached: check HTTPS_PROXY",
}
RECOUNT_ACCOUNTS = timedelta(minutes=10)  # the roster's WeCom accounts, counted again at most this often
TASK_PREFIX = "wecom.task_prefix"  # installation_value keys
SENT_TODAY = "wecom.sent_today"  # "<Beijing date> <person-messages>", at most CHECKPOINT_EVERY old
CHECKPOINT_EVERY = timedelta(minutes=1)

MEDIA_KINDS = {
    "image": AttachmentKind.PHOTO,
    "voice": AttachmentKind.VOICE,
    "video": AttachmentKind.VIDEO,
    "file": AttachmentKind.DOCUMENT,
    "location": AttachmentKind.LOCATION,
    "link": AttachmentKind.LINK,
}
SLASHES = ("/", "／")  # a Chinese input method types the full-width one
CALLBACK_WINDOW = timedelta(minutes=5)  # how far a callback's signed timestamp may be from now


class NotDelivered(Exception):
    """WeCom answered ok but names the member among those it did not deliver to (invaliduser, unlicenseduser)."""

    def __init__(self, field: str) -> None:
        super().__init__(field)
        self.field = field


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
    return WeComChannel(
        WeComClient(settings.wecom, env.clock),
        crypto,
        env.db,
        env.clock,
        env.intake,
        settings.wecom.agent_id,
        account_limit=settings.wecom.account_limit,
        routine_resumes=(settings.policy.working_hours_start, settings.timezone),
    )


class WeComChannel(Channel):
    name = CHANNEL

    def __init__(
        self,
        client: WeComClient,
        crypto: WeComCrypto,
        db: Database,
        clock: Clock,
        intake: Intake,
        agent_id: int,
        limits: Limits = LIMITS,
        account_limit: int | None = None,
        routine_resumes: tuple[time, ZoneInfo] = (time(9), BEIJING),
    ) -> None:
        self.client = client
        self.crypto = crypto
        self.db = db
        self.clock = clock
        self.intake = intake
        self.agent_id = agent_id
        self.rejections = Rejections(log, "WeCom callback rejected")
        self.limits = limits
        self.windows = MemberWindows()
        self.daily = DailyTotal()
        self.gate = Gate()
        # 账号上限数 from the settings; else the roster's WeCom accounts, counted again when they matter.
        self.account_limit = account_limit
        # Held-back routine messages go out at the start of the next working morning (the bureau's hours).
        self.routine_resumes = routine_resumes
        self.task_prefix = ""
        self._accounts_counted_at = datetime.min.replace(tzinfo=UTC)
        self._saved_at = datetime.min.replace(tzinfo=UTC)  # when today's total was last saved

    # --- life ---------------------------------------------------------------------------------------------------
    async def start(self, ctx: StartContext) -> list[Loop]:
        """Nothing to poll: WeCom posts callbacks to `baomi serve`. The quotas resume where they were."""
        self.task_prefix = await self.load_task_prefix()
        await self.load_windows()
        await self.count_accounts()
        return []

    async def lead(self) -> None:
        """What the previous leader sent to each member and today counts here from now on."""
        self.windows, self.daily = MemberWindows(), DailyTotal()
        await self.load_windows()
        await self.count_accounts()

    async def stop(self) -> None:
        try:
            await self.save_daily_total()
        finally:
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
            return self._rejected(exc)
        return web.Response(text=echo)

    async def http_callback(self, request: web.Request) -> web.Response:
        """Commit the message to the inbox and answer 200 with an empty body, well within WeCom's 5 seconds; the
        reply goes out through the outbox."""
        body = await read_body(request.content, MAX_CALLBACK_BYTES)
        if body is None:
            log.warning("WeCom callback rejected (body over %s bytes)", MAX_CALLBACK_BYTES)
            return web.Response(status=413)
        try:
            await self.receive(body, request.query)
        except WeComCryptoError as exc:
            return self._rejected(exc)
        return web.Response()

    def verify_url(self, query: Mapping[str, str]) -> str:
        """WeCom's GET check of the callback URL: the decrypted echo to answer with."""
        signature, timestamp, nonce, echostr = _params(query, "msg_signature", "timestamp", "nonce", "echostr")
        echo = self.crypto.verify_url(signature, timestamp, nonce, echostr)
        self._check_time(timestamp)
        return echo

    async def receive(self, body: bytes, query: Mapping[str, str]) -> None:
        """Verify, decrypt and commit one callback (one of WeCom's retries of it is dropped as a duplicate); what
        it says about a member is applied to their binding in the same transaction. Raises WeComCryptoError for
        anything that must not be trusted."""
        signature, timestamp, nonce = _params(query, "msg_signature", "timestamp", "nonce")
        message = parse_inbound(self.crypto.decrypt_callback(body, signature, timestamp, nonce))
        self._check_time(timestamp)
        if message.agent_id is not None and message.agent_id != self.agent_id:
            raise WrongAgent(f"AgentID {message.agent_id}")
        kinds = {InboundText: "text", InboundMedia: "media", TemplateCardClick: "card", ContactChange: "contact"}
        inbound = self.parse({"type": kinds.get(type(message), "event"), **asdict(message)})
        now = self.clock.now()

        async def apply(session: AsyncSession, fresh: int) -> None:
            if fresh and isinstance(message, ContactChange):
                await apply_contact_change(session, CHANNEL, message, now)
            elif fresh and isinstance(message, OtherEvent):
                await apply_member_event(session, CHANNEL, message, now)

        # A directory event is nothing for the engine, but its empty row marks the callback as seen: WeCom's retries
        # of it are not applied twice.
        await self.intake.store(CHANNEL, [(dedupe_key(message), inbound)], keep_empty=True, also=apply)

    def _check_time(self, timestamp: str) -> None:
        """A signed callback is accepted within CALLBACK_WINDOW of now: a recorded one cannot be replayed later."""
        try:
            sent = datetime.fromtimestamp(int(timestamp), UTC)
        except (ValueError, OverflowError, OSError) as exc:
            raise MalformedPayload("timestamp is not a time") from exc
        if abs(self.clock.now() - sent) > CALLBACK_WINDOW:
            raise StaleTimestamp(f"timestamp {timestamp}")

    def _rejected(self, exc: WeComCryptoError) -> web.Response:
        """403 for what is not WeCom's or not for us, 400 for what cannot be read. Logged by kind only (the message
        of a decryption error may quote what was received), at most once a minute for each kind, with how many
        went unsaid: forged callbacks by the thousand must not flood the log."""
        self.rejections.say(type(exc).__name__, self.clock.now())
        trusted = not isinstance(exc, BadSignature | BadReceiveId | StaleTimestamp | WrongAgent)
        return web.Response(status=400 if trusted else 403)

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
            calls = plan(op, self.task_prefix)
        except ValueError as exc:
            return Result(Outcome.FAILED, error=str(exc)[:200])
        now = self.clock.now()
        if (closed := self.gate.wait(now)) > 0:
            return Result(Outcome.DEFERRED, retry_after=closed)
        counted = sum(1 for call in calls if call.counted)
        if counted:
            routine = op.priority >= Priority.REMINDER
            if routine and (busy := busy_minute(now)) > 0:
                return Result(Outcome.DEFERRED, retry_after=busy)
            if routine and (held := await self._hold_routine(counted, now)) > 0:
                return Result(Outcome.DEFERRED, retry_after=held)
            wait = self.windows.reserve(op.chat_id, counted, now, proactive=op.priority > Priority.INTERACTIVE)
            if wait > 0:
                return Result(Outcome.DEFERRED, retry_after=wait)
            self.daily.add(counted, now)
        message_id: str | None = None
        done = 0
        renewed = False
        try:
            while done < len(calls):
                try:
                    message_id = await self._call(calls[done]) or message_id
                except WeComApiError as exc:
                    if exc.errcode != TASK_ID_TAKEN or renewed:
                        raise  # a task id refused under a prefix drawn just now: a setup error
                    await self._new_prefix(exc)
                    renewed = True
                    calls = plan(op, self.task_prefix)  # the same calls, the cards with task ids never used
                    continue
                done += 1
        except WeComApiError as exc:
            self._give_back(op, calls, done)
            return self._refused(op, exc)
        except NotDelivered as exc:
            log.warning("WeCom did not deliver outbox %s: the member is listed as %s", op.id, exc.field)
            return Result(Outcome.UNREACHABLE, error=f"wecom {exc.field}")
        except (aiohttp.ClientConnectorCertificateError, aiohttp.ClientProxyConnectionError) as exc:
            # The network's setup, not WeCom's: the operator sets BAOMI_WECOM_CA_FILE or fixes HTTPS_PROXY.
            self._give_back(op, calls, done)
            return self._setup_error(op, type(exc).__name__, NETWORK_SETUP[type(exc)], str(exc))
        except (aiohttp.ClientError, TimeoutError, WeComUnavailable) as exc:
            self._give_back(op, calls, done)
            return Result(Outcome.RETRY, error=type(exc).__name__)
        self.gate.opened()
        if counted and now - self._saved_at >= CHECKPOINT_EVERY:
            await self.save_daily_total()
        return Result(Outcome.SENT, message_id)

    async def _call(self, call: Call) -> str | None:
        if call.api == "update":
            try:
                await self.client.update_template_card(call.body)
            except WeComApiError as exc:
                if exc.errcode == BLOCKED or exc.errcode in BUSY or exc.errcode in SETUP:
                    raise
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
        # A 200 can still leave the member out: not in the directory (invaliduser) or without a licence to use
        # WeCom's API (unlicenseduser, 接口许可). WeCom lists them in lower case, "|"-separated.
        for listing in ("invaliduser", "unlicenseduser"):
            listed = {user.lower() for user in str(answer.get(listing) or "").split("|") if user}
            if str(body["touser"]).lower() in listed:
                raise NotDelivered(listing)
        return str(answer.get("msgid") or "") or None

    def _refused(self, op: Operation, exc: WeComApiError) -> Result:
        """What WeCom's refusal means for the row: wait without losing an attempt (a block, busy, a setup to fix),
        unreachable, or failed for good."""
        now = self.clock.now()
        if exc.errcode == BLOCKED:
            new_block = self.gate.wait(now) <= 0  # else a call already in flight when the block began
            until = self.gate.block(now, whole_day=self.daily.reached(now))
            if new_block:
                log.warning(
                    "WeCom blocked the application (errcode %s: %s); nothing is sent until %s",
                    exc.errcode,
                    exc.errmsg,
                    _beijing(until),
                )
            return Result(Outcome.DEFERRED, retry_after=self.gate.wait(now))
        if exc.errcode in BUSY:
            self.gate.close(now + BUSY_PAUSE)
            return Result(Outcome.DEFERRED, retry_after=self.gate.wait(now))
        error = f"wecom errcode {exc.errcode}"
        if exc.errcode in UNREACHABLE:
            return Result(Outcome.UNREACHABLE, error=error)
        if hint := SETUP.get(exc.errcode):
            # WeCom's errmsg says what it refused, e.g. the IP address to add to the trusted IPs.
            return self._setup_error(op, f"errcode {exc.errcode}", hint, exc.errmsg)
        return Result(Outcome.FAILED, error=f"{error}: {exc.errmsg}"[:200])

    def _setup_error(self, op: Operation, what: str, hint: str, detail: str) -> Result:
        """Rows wait, pending and without losing attempts, until the operator may have fixed it; said once a try."""
        now = self.clock.now()
        if self.gate.wait(now) <= 0:
            log.error(
                "WeCom refused outbox %s: %s (%s): %s; rows wait, tried again every %s minutes",
                op.id,
                what,
                hint,
                detail,
                int(SETUP_PAUSE.total_seconds() // 60),
            )
        self.gate.close(now + SETUP_PAUSE)
        return Result(Outcome.DEFERRED, retry_after=self.gate.wait(now))

    def _give_back(self, op: Operation, calls: list[Call], done: int) -> None:
        """Nothing reached the member: what was counted for the row is not spent."""
        if done == 0 and (counted := sum(1 for call in calls if call.counted)):
            self.windows.release(op.chat_id, counted)
            self.daily.release(counted)

    async def _hold_routine(self, count: int, now: datetime) -> float:
        """Seconds to hold a routine message back (0: send it): today's total is near the application's daily
        limit, and what remains is kept for answers and alerts. Said once a day, in the log and to the officers."""
        if self.daily.routine_room(count, now):
            return 0.0
        today = self.daily.roll(now)
        # The roster may have grown since it was counted: counted again before holding back, then now and then.
        recount = self.daily.held_on != today or now - self._accounts_counted_at >= RECOUNT_ACCOUNTS
        if self.account_limit is None and recount:
            await self.count_accounts()
            if self.daily.routine_room(count, now):
                return 0.0
        resume = self._routine_resumes(now)
        if self.daily.held_on != today:
            self.daily.held_on = today
            log.warning(
                "WeCom daily total: %s of %s person-messages sent today (accounts × %s); reminders and notices are "
                "held back until %s",
                self.daily.sent,
                self.daily.limit,
                PER_ACCOUNT_A_DAY,
                _beijing(resume),
            )
            async with self.db.transaction() as session:
                await delivery.record_held_back(session, now, CHANNEL, today, self.daily.sent, self.daily.limit, resume)
        return (resume - now).total_seconds()

    def _routine_resumes(self, now: datetime) -> datetime:
        """The start of working hours on the day after today's (Beijing) date, in the bureau's time zone."""
        start, zone = self.routine_resumes
        tomorrow = next_midnight(now).date()
        return max(datetime.combine(tomorrow, start, zone), next_midnight(now))

    async def count_accounts(self) -> None:
        """The application's daily total: the configured account limit, or the roster's WeCom accounts."""
        accounts = self.account_limit
        if accounts is None:
            async with self.db.sessions() as session:
                accounts = await session.scalar(
                    select(func.count(Staff.id)).where(
                        Staff.active.is_(True), Staff.wecom_userid.is_not(None), Staff.wecom_userid != ""
                    )
                )
            self._accounts_counted_at = self.clock.now()
        self.daily.limit = max(1, accounts or 0) * PER_ACCOUNT_A_DAY

    async def find_delivered(self, op: Operation) -> str | None:
        """Always None: a send in flight at a crash is sent again. WeCom cannot be asked whether a message
        arrived, but its duplicate check (enable_duplicate_check) collapses the identical request: cards (their
        task id is unique to the row) and proactive messages carry it. A reply of plain text to a person in a
        conversation does not, since the same words may rightly be said twice: such a reply in flight at a
        crash may arrive twice."""
        return None

    # --- the installation's task-id prefix ----------------------------------------------------------------------
    async def load_task_prefix(self) -> str:
        """This installation's prefix, drawn at its first start."""
        async with self.db.transaction() as session:
            row = {"key": TASK_PREFIX, "value": _draw_prefix(), "updated_at": self.clock.now()}
            await insert_ignore(session, InstallationValue, [row], ["key"])
            prefix = await session.scalar(select(InstallationValue.value).where(InstallationValue.key == TASK_PREFIX))
        assert prefix is not None
        return prefix

    async def _new_prefix(self, exc: WeComApiError) -> None:
        """WeCom has seen one of our task ids (42014): another installation uses this application, or this one's
        database was restored to an earlier state. A new prefix, stored for good."""
        fresh = _draw_prefix()
        async with self.db.transaction() as session:
            await session.execute(
                update(InstallationValue)
                .where(InstallationValue.key == TASK_PREFIX)
                .values(value=fresh, updated_at=self.clock.now())
            )
        log.error(
            "WeCom refused a card task id as used before (errcode %s: %s): the database was restored or another "
            "installation sends through this application; card task ids now start %s",
            exc.errcode,
            exc.errmsg,
            fresh,
        )
        self.task_prefix = fresh

    async def save_daily_total(self) -> None:
        """Keep today's total in the database, so that a restart need not recount the day's rows."""
        now = self.clock.now()
        row = {"key": SENT_TODAY, "value": f"{self.daily.roll(now).isoformat()} {self.daily.sent}", "updated_at": now}
        async with self.db.transaction() as session:
            if not await insert_ignore(session, InstallationValue, [row], ["key"]):
                await session.execute(
                    update(InstallationValue)
                    .where(InstallationValue.key == SENT_TODAY)
                    .values(value=row["value"], updated_at=now)
                )
        self._saved_at = now

    async def load_windows(self) -> None:
        """Count what was sent to each member in the last hour, and today's total (as last saved, and what was
        sent after), so that a restart resets neither."""
        now = self.clock.now()
        hour_ago = now - HOUR
        today = self.daily.roll(now)
        since = next_midnight(now) - timedelta(days=1)
        async with self.db.sessions() as session:
            saved = (
                await session.execute(
                    select(InstallationValue.value, InstallationValue.updated_at).where(
                        InstallationValue.key == SENT_TODAY
                    )
                )
            ).first()
            from_saved = saved is not None and saved[0].split()[0] == today.isoformat()
            if saved is not None and from_saved:
                self.daily.sent, since = int(saved[0].split()[1]), saved[1]
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
                        OutboxMessage.sent_at >= min(hour_ago, since),
                    )
                    .order_by(OutboxMessage.sent_at)
                )
            ).all()
        for row_id, chat_id, kind, payload, priority, sent_at in rows:
            calls = plan(Operation(row_id, chat_id, kind, dict(payload), priority, channel=CHANNEL), self.task_prefix)
            counted = sum(1 for c in calls if c.counted)
            if sent_at >= hour_ago:
                self.windows.record(chat_id, counted, sent_at)
            if sent_at > since or (sent_at == since and not from_saved):
                self.daily.sent += counted  # what was sent after the total was saved (or since midnight)


async def read_body(stream: aiohttp.StreamReader, limit: int) -> bytes | None:
    """The whole request body, however many TCP segments it came in; None when it exceeds `limit` bytes."""
    body = bytearray()
    while chunk := await stream.read(limit + 1 - len(body)):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _draw_prefix() -> str:
    return "bm" + secrets.token_hex(5)


def _beijing(at: datetime) -> str:
    return f"{at.astimezone(BEIJING):%Y-%m-%d %H:%M} (Beijing)"


# --- rows into calls --------------------------------------------------------------------------------------------
def plan(op: Operation, task_prefix: str = "baomi") -> list[Call]:
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
    if op.op == "edit" and p.get("refresh"):
        return []  # a message already sent, brought up to date: WeCom edits only a pressed card
    calls: list[Call] = []
    if op.op == "edit" and (pressed := _read_press(p.get("pressed"))) is not None:
        response_code, label = pressed
        replace = {"replace_name": f"✓ {label}" if label else "✓"}
        calls.append(Call("update", {"userids": [user], "response_code": response_code, "button": replace}))
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
    # Clients without cards (the WeChat plugin, WeCom before 3.1.6) show the text alone: it ends with the options
    # numbered, to be answered by typing one.
    labels = card_labels(buttons)
    calls += _texts(user, numbered(text, labels), proactive)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else "…"
    title = last if len(last) <= TITLE_CHARS else last[: TITLE_CHARS - 1] + "…"
    for index in range(0, len(buttons), CARD_BUTTONS):
        card = {
            "card_type": "button_interaction",
            "main_title": {"title": title},
            # Unique to the installation and the row, and the same when the row is sent again: WeCom's duplicate
            # check then applies.
            "task_id": f"{task_prefix}_{op.id}_{index // CARD_BUTTONS}",
            "button_list": [
                {"text": label, "style": 1, "key": button_key(b["data"], label)}
                for b, label in zip(
                    buttons[index : index + CARD_BUTTONS], labels[index : index + CARD_BUTTONS], strict=True
                )
            ],
        }
        calls.append(Call("send", {"touser": user, "msgtype": "template_card", "template_card": card, **_once()}))
    return calls


def card_labels(buttons: list[dict[str, str]]) -> list[str]:
    """What each button shows: its label, or its short form (the quiz's option letter) for all that have one
    when any of them is longer than a card button shows."""
    narrow = any(b.get("short") and len(b["text"]) > BUTTON_CHARS for b in buttons)
    return [b["short"] if narrow and b.get("short") else b["text"] for b in buttons]


def numbered(text: str, labels: list[str]) -> str:
    """The text, then its options by number: "[1] 同意  [2] 不同意"."""
    options = "  ".join(f"[{number}] {label}" for number, label in enumerate(labels, 1))
    return f"{text.rstrip()}\n\n{options}" if text.strip() else options


def _texts(user: str, text: str, proactive: bool) -> list[Call]:
    extra = _once() if proactive else {}
    return [
        Call("send", {"touser": user, "msgtype": "text", "text": {"content": part}, "safe": 1, **extra})
        for part in split_text(text)
    ]


def _once() -> dict[str, int]:
    return {"enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}


def split_text(text: str, limit: int = TEXT_BYTES) -> list[str]:
    """Parts of at most `limit` UTF-8 bytes, cut between lines where possible (bot/core/render.py's `split`): the
    engine's rows fit already, and this catches what the numbered options add."""
    return [part.strip() for part in split(text.strip(), limit, utf8_bytes) if part.strip()]


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
    if kind == "event" and payload.get("event") == "click" and payload.get("event_key"):
        # An entry of the application's menu (`baomi wecom menu`): its key is the word it stands for, as typed.
        return Inbound(CHANNEL, user, user, Text(str(payload["event_key"])))
    return Inbound(CHANNEL, user, user, None)  # entering the app, subscribing


def _text_event(content: str) -> Command | Text:
    text = content.strip()
    if text[:1] in SLASHES and len(text) > 1 and not text[1].isspace():
        name, _, args = text[1:].partition(" ")
        return Command(name.lower(), args.strip())
    return Text(text)


def _params(query: Mapping[str, str], *names: str) -> list[str]:
    missing = [name for name in names if not query.get(name)]
    if missing:
        raise MalformedPayload(f"callback lacks {', '.join(missing)}")
    return [query[name] for name in names]
