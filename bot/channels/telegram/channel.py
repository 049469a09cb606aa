"""The Telegram channel: long polling (or a webhook under `baomi serve`) into the inbox, Telegram updates into
neutral events, outbox rows into Bot API calls. Thin on purpose: it knows Telegram and nothing about flows.

python-telegram-bot's own Updater confirms updates as soon as they are queued in memory, so a crash would
lose them. Here an update is confirmed (the next getUpdates offset, or the webhook's 200) only after its inbox
row is committed.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InputFile,
)
from telegram.constants import MessageAttachmentType
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application

from bot.channels.telegram.http import AiohttpRequest
from bot.config import ConfigError, Settings, scrub
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
from bot.core.intake import Intake
from bot.core.supervise import Loop, Outage, Pulse
from bot.services import invitations

log = logging.getLogger("baomi.telegram")

CHANNEL = "telegram"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
POLL_TIMEOUT = 25
POLL_STALE = timedelta(minutes=2)  # a getUpdates returns within POLL_TIMEOUT
CONFLICT_BACKOFF = (1.0, 60.0)  # seconds before polling again after a 409, doubling from the first to the second
# Only what the bot answers: edits, channel posts and membership changes are not even asked for.
ALLOWED_UPDATES = ["message", "callback_query"]
# python-telegram-bot 22 reports 429 waits as timedelta only with this set (else it warns); read at use.
os.environ.setdefault("PTB_TIMEDELTA", "true")


def limits(per_second: float) -> Limits:
    """Telegram: about 30 messages a second overall, one a second in one chat; answers to presses, deletions and
    command menus are not messages. 0 lifts both caps (benchmarks against a fake that enforces none)."""
    return Limits(
        per_second=per_second or float("inf"),
        chat_interval=1.0 if per_second else 0.0,
        concurrency=32,
        uncounted=frozenset({"answer", "delete", "menu"}),
    )


PROBE_WINDOW = 6  # message ids looked at above the last known one when resolving a send after a crash
PROBE_WAITS = 5  # 429s a probe waits out before it gives up and the message is sent again


@dataclass(frozen=True)
class Webhook:
    url: str  # public URL of WEBHOOK_PATH
    secret: str  # sent back by Telegram with every update


async def bot_username(settings: Settings) -> str:
    """The bot's @username (for t.me deep links), asked of the Bot API."""
    async with Bot(settings.require_token(), base_url=settings.telegram_api_url) as bot:
        return bot.username


def configure(settings: Settings, env: ChannelEnv) -> TelegramChannel | None:
    """The channel when a token is set. Under `baomi serve` with a webhook URL, updates are posted to the server;
    otherwise they are long-polled."""
    if not settings.telegram_token:
        return None
    builder = Application.builder().token(settings.telegram_token).base_url(settings.telegram_api_url)
    ptb = builder.request(AiohttpRequest()).updater(None).job_queue(None).build()
    webhook = None
    if env.serving and settings.telegram_webhook_url is not None:
        assert settings.telegram_webhook_secret is not None  # Settings requires it with the URL
        webhook = Webhook(settings.telegram_webhook_url, settings.telegram_webhook_secret)
    return TelegramChannel(
        ptb,
        env.intake,
        limits(settings.telegram_rate),
        webhook,
        settings.telegram_api_url,
        settings.connect_timeout,
        env,
        delete_webhook=settings.telegram_delete_webhook,
    )


class TelegramChannel(Channel):
    name = CHANNEL

    def __init__(
        self,
        ptb: Application,
        intake: Intake,
        limits: Limits,
        webhook: Webhook | None,
        api_url: str,
        connect_timeout: float,  # seconds to reach the Bot API at start
        env: ChannelEnv,
        delete_webhook: bool = False,
    ) -> None:
        self.env = env
        self.ptb = ptb
        self.bot: Bot = ptb.bot
        self.intake = intake
        self.rejections = Rejections(log, "Telegram webhook rejected")
        self.limits = limits
        self.webhook = webhook
        self.polls = webhook is None
        self.keyboard = True  # the main actions stay under the input field (a reply's `keyboard`)
        self.api_url = api_url
        self.connect_timeout = connect_timeout
        # Polling takes over from a webhook that is set (by `baomi serve`) only when told to.
        self.delete_webhook = delete_webhook

    # --- life -----------------------------------------------------------------------------------------------
    async def start(self, ctx: StartContext) -> list[Loop]:
        """Check the token (getMe), set the default command menus, then register the webhook or poll. A service
        that cannot be reached is tried again until `connect_timeout` has passed; then, as for a token the Bot API
        refuses, one line says what to fix."""
        deadline = asyncio.get_running_loop().time() + self.connect_timeout
        retries = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    await self._connect(ctx)
                break
            except InvalidToken as exc:
                raise ConfigError(
                    f"the Telegram Bot API at {self.api_url} refused the token ({self._scrub(exc)}): check "
                    "BAOMI_TELEGRAM_TOKEN (the token from @BotFather) and BAOMI_TELEGRAM_API_URL"
                ) from exc
            except BadRequest as exc:  # before NetworkError, which it derives from
                raise self._refused_setup(exc) from exc
            except (NetworkError, TimeoutError) as exc:
                delay = min(5.0, 0.5 * 2**retries)
                if asyncio.get_running_loop().time() + delay >= deadline:
                    raise ConfigError(
                        f"cannot reach the Telegram Bot API at {self.api_url} within {self.connect_timeout:g} s "
                        f"({self._scrub(exc)}): check the network, the proxy and BAOMI_TELEGRAM_API_URL"
                    ) from exc
                retries += 1
                await asyncio.sleep(delay)
            except TelegramError as exc:
                raise self._refused_setup(exc) from exc
        log.info("started as @%s", self.bot.username)
        async with self.env.db.transaction() as session:  # for the t.me links of /invite
            await invitations.remember_telegram_username(session, self.bot.username, self.env.clock.now())
        if self.webhook is not None:
            return []
        return [Loop("poll", self.poll, POLL_STALE, cancel_on_stop=True)]

    async def _connect(self, ctx: StartContext) -> None:
        await self.ptb.initialize()
        await self.set_default_commands(ctx.commands)
        if self.webhook is not None:
            # The server listens already: Telegram posts at once.
            await self.bot.set_webhook(
                self.webhook.url, secret_token=self.webhook.secret, allowed_updates=ALLOWED_UPDATES
            )
        else:
            # A webhook makes every getUpdates fail. This process never sets one when it polls, so one that is set
            # belongs to `baomi serve` (perhaps running now): it is deleted only when the operator says so.
            if registered := (await self.bot.get_webhook_info()).url:
                if not self.delete_webhook:
                    raise ConfigError(
                        f"a Telegram webhook is set ({registered}), by `baomi serve`: polling would take its "
                        "updates. Stop that instance and start this one with --delete-webhook, or run `baomi serve`"
                    )
                log.warning("deleting the Telegram webhook %s (--delete-webhook)", registered)
                await self.bot.delete_webhook()

    def _refused_setup(self, exc: TelegramError) -> ConfigError:
        return ConfigError(
            f"the Telegram Bot API refused the bot's setup ({self._scrub(exc)}): check BAOMI_TELEGRAM_WEBHOOK_URL "
            "if a webhook is set, and BAOMI_TELEGRAM_API_URL"
        )

    def _scrub(self, exc: BaseException) -> str:
        """The error in a line, without the token (python-telegram-bot quotes it when the token is refused)."""
        text = f"{type(exc).__name__}: {exc}" if str(exc).strip() else type(exc).__name__
        return scrub(text.replace(self.bot.token, "<token>")).splitlines()[0]

    async def stop(self) -> None:
        await self.ptb.shutdown()
        await self.bot.shutdown()  # the connections of a start that failed, which the Application does not close

    def routes(self) -> list[Route]:
        return [Route("POST", WEBHOOK_PATH, self.receive)] if self.webhook is not None else []

    # --- inbound ------------------------------------------------------------------------------------------
    async def receive(self, request: web.Request) -> web.Response:
        """An update posted by Telegram: checked by the secret it was given, stored as long polling stores it."""
        assert self.webhook is not None
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.webhook.secret.encode()):
            self.rejections.say("wrong or missing secret token", self.intake.clock.now())
            return web.Response(status=401)
        try:
            update = await request.json()
        except ValueError:
            update = None
        inbound = self.read(update) if isinstance(update, dict) else None
        if inbound is None:
            self.rejections.say("not an update", self.intake.clock.now())
            return web.Response(status=400)
        assert isinstance(update, dict)
        await self.intake.store(CHANNEL, [(str(update["update_id"]), inbound)])
        return web.Response()

    async def poll(self, stop: asyncio.Event, pulse: Pulse) -> None:
        """Long-poll getUpdates; store each batch, then confirm it by asking for the next offset. An outage (the Bot
        API or the database) ends the run, which the supervisor starts again: what was not stored is not confirmed
        and comes again."""
        offset: int | None = None
        conflicts = 0
        while not stop.is_set():
            try:
                # The updates as Telegram sent them: stored as they are, and read once by `parse` (python-telegram-
                # bot's get_updates would build objects here only for them to be turned back into dictionaries).
                # Method names are case-insensitive in the Bot API; in lower case python-telegram-bot does not
                # mistake the raw request for a missed get_updates (and warn).
                updates: list[dict[str, Any]] = await self.bot.do_api_request(
                    "getupdates",
                    api_kwargs={"offset": offset, "timeout": POLL_TIMEOUT, "allowed_updates": ALLOWED_UPDATES},
                    read_timeout=POLL_TIMEOUT + 10,
                )
            except RetryAfter as exc:
                await _sleep_or_stop(stop, _seconds(exc.retry_after))
                continue
            except (InvalidToken, EndPointNotFound) as exc:  # the raw request reports a refused token as the latter
                raise ConfigError(
                    f"the Telegram Bot API refused the token while polling ({self._scrub(exc)}): the token was "
                    "revoked or replaced; set BAOMI_TELEGRAM_TOKEN to the current one from @BotFather"
                ) from exc
            except Conflict:
                # Telegram answers 409 to a poll while another poll with this token runs, or a webhook is set.
                conflicts += 1
                first, most = CONFLICT_BACKOFF
                delay = min(most, first * 2 ** (conflicts - 1))
                log.error("getUpdates refused (409 Conflict): %s; polling again in %.0f s", await self._rival(), delay)
                await _sleep_or_stop(stop, delay)
                continue
            except NetworkError as exc:  # TimedOut too
                raise Outage("Telegram Bot API", self._scrub(exc)) from exc
            conflicts = 0
            if updates:
                await self.store(updates)
                offset = updates[-1]["update_id"] + 1
            pulse.beat()

    async def _rival(self) -> str:
        """Who else takes this bot's updates, as far as the Bot API tells."""
        try:
            registered = (await self.bot.get_webhook_info()).url
        except TelegramError:
            registered = ""
        if registered:
            return f"a webhook is set ({registered}), by `baomi serve`; stop one of the two"
        return "another process polls with this token (another `baomi run`, or `baomi serve` without a webhook)"

    async def store(self, payloads: list[dict[str, Any]]) -> int:
        """Commit what the engine reads of these updates to the inbox (duplicates, edits, groups and anything
        unreadable dropped) and wake the engine; returns how many were new."""
        events = [(str(p["update_id"]), inbound) for p in payloads if (inbound := self.read(p)) is not None]
        return await self.intake.store(CHANNEL, events)

    def read(self, payload: dict[str, Any]) -> Inbound | None:
        """The event of an update, or None when it is not one the Bot API would send (it is logged by its shape,
        never its content)."""
        try:
            if not isinstance(payload.get("update_id"), int):
                raise ValueError("no update_id")
            return self.parse(payload)
        except Exception as exc:  # a field missing or of another type: malformed
            log.warning("Telegram update not understood (%s): dropped", type(exc).__name__)
            return None

    def parse(self, payload: dict[str, Any]) -> Inbound:
        """The update as Telegram sent it, read as it is (python-telegram-bot's objects would cost more than the
        rest of intake); what is read is checked for the type the Bot API gives it."""
        query = payload.get("callback_query")
        if query is not None:
            presser = str(_int(query["from"]["id"]))
            callback_id = _str(query["id"])
            message = query.get("message")  # absent for a button of an inline message
            if message is None:
                chat, message_id = presser, None
            else:
                chat_id, chat_type = _chat(message)
                if chat_type != "private":
                    return Inbound(CHANNEL, presser, chat_id, None)
                chat, message_id = chat_id, str(_int(message["message_id"]))
            return Inbound(
                CHANNEL,
                presser,
                chat,
                Press(_str(query.get("data") or "")),
                message_id=message_id,
                callback_id=callback_id,
                language=query["from"].get("language_code"),
            )
        message = payload.get("message")
        if message is None:
            return Inbound(CHANNEL, "", "", None)  # edits, channel posts, membership changes: not stored
        chat_id, chat_type = _chat(message)
        message_id = str(_int(message["message_id"]))
        _int(message["date"])
        sender = message.get("from")
        if sender is None:
            return Inbound(CHANNEL, "", "", None)  # a channel's post: not stored
        user_id = str(_int(sender["id"]))
        if chat_type != "private":
            return Inbound(CHANNEL, user_id, chat_id, None)  # it answers people, not groups
        return Inbound(
            CHANNEL, user_id, chat_id, _event(message), message_id=message_id, language=sender.get("language_code")
        )

    # --- outbound -----------------------------------------------------------------------------------------
    async def perform(self, op: Operation) -> Result:
        try:
            return await self._perform(op)
        except RetryAfter as exc:
            return Result(Outcome.RETRY, retry_after=_seconds(exc.retry_after), error="429")
        except Forbidden as exc:
            return Result(Outcome.UNREACHABLE, error=str(exc)[:200])
        except BadRequest as exc:
            return self._bad_request(op, exc)
        except InvalidToken as exc:
            return Result(Outcome.RETRY, error=str(exc)[:200])
        except (TimedOut, NetworkError, TelegramError) as exc:
            return Result(Outcome.RETRY, error=f"{type(exc).__name__}: {exc}"[:200])

    async def _perform(self, op: Operation) -> Result:
        p = op.payload
        chat = int(op.chat_id)
        if op.op == "send":
            markup = _markup(p.get("buttons") or [])
            if markup is None and p.get("keyboard"):
                rows = [[{"text": label} for label in row] for row in p["keyboard"]]
                markup = {"keyboard": rows, "resize_keyboard": True, "is_persistent": True}
            # A document or an image, captioned with the message's text.
            if kind := next((k for k in ("document", "image") if p.get(k)), None):
                item = p[kind]
                file = InputFile(base64.b64decode(item["content_b64"]), filename=item["filename"])
                method, field = ("sendDocument", "document") if kind == "document" else ("sendPhoto", "photo")
                sent = await self._call(
                    method,
                    chat_id=chat,
                    **{field: file},
                    caption=item.get("caption") or p.get("text") or None,
                    reply_markup=markup,
                    protect_content=True,
                )
            else:
                sent = await self._call(
                    "sendMessage", chat_id=chat, text=p["text"], reply_markup=markup, protect_content=True
                )
            return Result(Outcome.SENT, str(sent["message_id"]))
        if op.op == "edit":
            try:
                await self._call(
                    "editMessageText",
                    chat_id=chat,
                    message_id=int(p["message_id"]),
                    text=p["text"],
                    reply_markup=_markup(p.get("buttons") or []),
                )
            except BadRequest as exc:
                if "not modified" in exc.message:
                    return Result(Outcome.SENT, str(p["message_id"]))
                if p.get("refresh") and ("not found" in exc.message or "can't be edited" in exc.message):
                    return Result(Outcome.SENT)  # an update of a message the person deleted: nothing to say anew
                if "not found" in exc.message or "can't be edited" in exc.message:
                    # Too old or gone: say it as a new message rather than not at all.
                    sent = await self._call(
                        "sendMessage",
                        chat_id=chat,
                        text=p["text"],
                        reply_markup=_markup(p.get("buttons") or []),
                        protect_content=True,
                    )
                    return Result(Outcome.SENT, str(sent["message_id"]))
                raise
            return Result(Outcome.SENT, str(p["message_id"]))
        if op.op == "answer":
            await self._answer(p)
            return Result(Outcome.SENT)
        if op.op == "delete":
            await self._call("deleteMessage", chat_id=chat, message_id=int(p["message_id"]))
            return Result(Outcome.SENT)
        if op.op == "menu":
            commands = [BotCommand(c["command"], c["description"]) for c in p["commands"]]
            await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat))
            return Result(Outcome.SENT)
        return Result(Outcome.FAILED, error=f"unknown operation {op.op}")

    async def _call(self, method: str, **params: Any) -> Any:
        """A Bot API method with its parameters as Telegram reads them (None left out); returns the result as Telegram
        sent it. python-telegram-bot sends it and raises its errors (RetryAfter, Forbidden, BadRequest, ...), but builds
        no objects for the request or the answer: they cost more than the rest of a send."""
        # In lower case (the Bot API's method names are case-insensitive): python-telegram-bot warns about a raw request
        # for a method it has.
        api_kwargs = {key: value for key, value in params.items() if value is not None}
        return await self.bot.do_api_request(method.lower(), api_kwargs=api_kwargs)

    async def _answer(self, answer: dict[str, str]) -> None:
        """Stop the spinner on a pressed button (with a short notice, if any)."""
        try:
            await self._call(
                "answerCallbackQuery", callback_query_id=answer["callback_id"], text=answer.get("text") or None
            )
        except BadRequest as exc:
            text = exc.message.lower()
            if "too old" not in text and "query id is invalid" not in text:
                raise
            # The press expired on Telegram's side, or this is a retry after it was answered: nothing to do.

    def _bad_request(self, op: Operation, exc: BadRequest) -> Result:
        text = exc.message.lower()
        if op.op == "delete" and ("not found" in text or "can't be deleted" in text):
            return Result(Outcome.SENT)
        if "chat not found" in text:
            return Result(Outcome.UNREACHABLE, error=exc.message[:200])
        return Result(Outcome.FAILED, error=exc.message[:200])

    async def find_delivered(self, op: Operation) -> str | None:
        """Probe the ids above the last message we know in this chat with a no-op markup edit. Telegram
        answers "not modified" for a bot message that is there (ours: sends to one chat go one at a time),
        "can't be edited" for the person's own messages and "not found" for ids unused or deleted. The log names the
        outbox row, never the chat: a chat id names a person (a reporter who withheld their name, say)."""
        markup = _markup(op.payload.get("buttons") or [])
        candidate = int(op.probe_after or 0)
        misses = 0
        waits = 0
        while misses < PROBE_WINDOW:
            candidate += 1
            try:
                await self._call(
                    "editMessageReplyMarkup", chat_id=int(op.chat_id), message_id=candidate, reply_markup=markup
                )
            except RetryAfter as exc:
                # Flood control says nothing about the message: ask again once allowed, rather than guess.
                waits += 1
                if waits > PROBE_WAITS:
                    log.warning("probe for outbox %s kept meeting flood control: sending again", op.id)
                    return None
                await asyncio.sleep(_seconds(exc.retry_after))
                candidate -= 1
                continue
            except BadRequest as exc:
                text = exc.message.lower()
                if "not modified" in text:
                    return str(candidate)
                misses = 0 if "can't be edited" in text else misses + 1
                continue
            except TelegramError as exc:
                log.warning("probe for outbox %s failed (%s): sending again", op.id, type(exc).__name__)
                return None
            log.warning("probe for outbox %s found it with other buttons", op.id)
            return str(candidate)
        return None

    async def set_default_commands(self, commands_by_locale: Mapping[str, list[tuple[str, str]]]) -> None:
        for locale, commands in commands_by_locale.items():
            await self.bot.set_my_commands(
                [BotCommand(c, d) for c, d in commands],
                scope=BotCommandScopeDefault(),
                language_code=None if locale == "zh" else locale,
            )


# What a message may carry instead of text, by the field Telegram sends it in, as python-telegram-bot's
# Message.effective_attachment knows them.
ATTACHMENTS = tuple(kind.value for kind in MessageAttachmentType)
KINDS = (
    ("photo", AttachmentKind.PHOTO),
    ("document", AttachmentKind.DOCUMENT),
    ("voice", AttachmentKind.VOICE),
    ("audio", AttachmentKind.VOICE),
    ("video_note", AttachmentKind.VOICE),
    ("video", AttachmentKind.VIDEO),
    ("animation", AttachmentKind.VIDEO),
    ("sticker", AttachmentKind.STICKER),
    ("contact", AttachmentKind.CONTACT),
    ("location", AttachmentKind.LOCATION),
    ("venue", AttachmentKind.LOCATION),
)


def _event(message: dict[str, Any]) -> Command | Text | Attachment | None:
    if message.get("forward_origin") is not None:
        return Attachment(AttachmentKind.FORWARD)
    for field, kind in KINDS:
        if message.get(field):
            return Attachment(kind)
    text = message.get("text")
    if text is None:
        return Attachment(AttachmentKind.OTHER) if any(message.get(field) for field in ATTACHMENTS) else None
    _str(text)
    entities = message.get("entities")
    entity = entities[0] if entities else None
    if entity is not None and entity["type"] == "bot_command" and _int(entity["offset"]) == 0:
        length = _int(entity["length"])
        name = text[1:length].split("@", 1)[0].lower()
        return Command(name, text[length:].strip())
    return Text(text)


def _chat(message: dict[str, Any]) -> tuple[str, str]:
    """A message's chat: its id and its type (private, group, ...)."""
    chat = message["chat"]
    return str(_int(chat["id"])), _str(chat["type"])


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError(f"an integer expected, not {type(value).__name__}")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a string expected, not {type(value).__name__}")
    return value


def _markup(rows: list[list[dict[str, str]]]) -> dict[str, Any] | None:
    if not rows:
        return None
    return {"inline_keyboard": [[{"text": b["text"], "callback_data": b["data"]} for b in row] for row in rows]}


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
