"""A fake Telegram Bot API server for end-to-end tests, benchmarks and the in-terminal console.

The real python-telegram-bot ``Bot``/``Application`` talks to it over loopback HTTP, so everything
between the bot's handlers and the wire is exercised for real. It answers like Telegram does
(``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": ..., "description": ...}`` with
Telegram's own description strings), so PTB raises its own ``BadRequest``/``Forbidden``/``RetryAfter``.

Only private chats exist: the chat of user ``U`` has id ``U``, and message ids are one sequence per chat
shared by the user's and the bot's messages. ``parse_mode="HTML"`` is parsed into text + entities the way
Telegram does (including its "can't parse entities" errors); Markdown parse modes are not implemented
and answer 400 so that a test relying on them fails loudly. Webhooks are only recorded, never delivered.

Bot API methods served: getMe, getUpdates (long polling), setWebhook, deleteWebhook, getWebhookInfo,
setMyCommands, getMyCommands, deleteMyCommands, set/getMyDescription, set/getMyShortDescription,
set/getMyName, sendMessage, editMessageText, editMessageReplyMarkup, deleteMessage, answerCallbackQuery,
sendDocument, sendPhoto, sendChatAction, getFile, and file downloads under ``base_file_url``.

Test API (``api = FakeBotApi(token="123456:TEST", bot_username="baomi_test_bot", clock=None,
record_calls=True)``; message dates follow ``clock``)::

    await api.start()  /  await api.stop()  /  async with FakeBotApi() as api: ...
    api.base_url, api.base_file_url     # pass to Bot(..., base_url=..., base_file_url=...)
    api.global_rate = RateLimit(per_second=30, burst=30)   # or None (default); api.per_chat_rate too

    # the users' side: each queues an Update and returns the user's Message dict
    await api.send_text(user_id, "/start abc", first_name="张三", language_code="zh-hans", reply_to=None)
    await api.send_photo(user_id) / send_document(user_id, file_name="a.pdf", data=b"...")
    await api.send_voice / send_video / send_sticker / send_location / send_contact(user_id)
    await api.send_forwarded(user_id, "text", origin_name="李四")
    await api.press(user_id, message_id, "callback_data") -> callback query id   # or text="Button label"
    api.block(user_id) / api.unblock(user_id)           # also queue my_chat_member updates

    # failure injection, consumed by the next call of that method
    api.fail_next("sendMessage", status=500)            # or status=429, retry_after=7
    api.drop_next("sendMessage", processed=True)        # drop the connection (after the call took effect)

    # observing the bot
    await api.next_message(chat_id, timeout=5.0)        # next new bot message (as sent), else TimeoutError
    await api.wait_for(lambda api: ..., timeout=5.0)    # re-checked whenever a call arrives or state changes
    api.calls(method=None, chat_id=None) -> list[Call]  # method, params, time (monotonic), status, result
    api.chat(chat_id) -> list[dict]                     # current visible messages, user's and bot's, in order
    api.message(chat_id, message_id) -> dict | None     # current state; None once deleted
    api.buttons(message) -> list[(text, callback_data or url)]
    api.callback_answer(query_id) -> dict | None
    api.commands(scope="default", language_code="") -> list[{"command", "description"}]
    api.protected_message_ids(chat_id), api.reply_keyboard(chat_id), api.chat_action(chat_id)
    api.file(file_id) -> StoredFile                     # what the bot uploaded or a user sent
    api.pending_updates_count, api.confirmed_update_id, api.count_429, api.bot_messages_sent
    api.is_polling (a long poll is waiting: the bot is up), api.is_blocked(user_id), api.stats()
    api.add_listener(callback) -> remove                # ChatEvent per bot send/edit/delete/action/answer

Message dicts handed out are the server's own state: treat them as read-only.

Standalone (for benchmarks): ``python -m bot.testing.fake_bot_api --port 8081`` serves until killed and
prints its base URL. Its users' side is reachable as JSON over ``POST /_control/<action>`` (``send_text``,
``press``, ``next_message``, ``stats``, ``calls``, ``set_rates``, ...); a JSON list body runs a batch.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import inspect
import json
import math
import mimetypes
import re
import signal
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from itertools import islice
from typing import Any

from aiohttp import web

from bot.clock import Clock, SystemClock

JsonDict = dict[str, Any]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_WRONG_FILE = "Bad Request: wrong file identifier/HTTP URL specified"
_POLL_TERMINATED = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_TEXT_BUTTON = "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"

# Parameters Telegram types as plain String; every other form value is JSON-encoded by clients.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "business_connection_id",
        "message_effect_id",
        "inline_message_id",
        "callback_query_id",
        "url",
        "action",
        "language_code",
        "secret_token",
        "ip_address",
        "file_id",
        "name",
        "description",
        "short_description",
        "document",
        "photo",
        "thumbnail",
    }
)
_SENDING_METHODS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "editMessageText", "editMessageReplyMarkup"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_BOT_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@/])")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``burst`` requests at once, refilled at ``per_second``. With ``sliding``, strict instead:
    at most ``burst`` requests in any window of ``burst / per_second`` seconds (``RateLimit(30, 30, sliding=True)``:
    30 in any one second, however they bunch)."""

    per_second: float
    burst: float = 1.0
    sliding: bool = False

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ValueError("RateLimit needs per_second > 0 and burst >= 1")


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file part of a multipart request, as the bot uploaded it."""

    file_name: str | None
    mime_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file known to the server under a file_id: uploaded by the bot or sent by a user."""

    file_id: str
    file_unique_id: str
    file_path: str
    file_name: str | None
    mime_type: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API request. ``status`` is None when the connection was dropped; ``result`` is then set
    only if the call took effect before the drop."""

    method: str
    params: JsonDict
    time: float
    status: int | None
    result: Any = None
    description: str | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == HTTPStatus.OK


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """Something the bot did in a chat. ``kind`` is sent/edited/deleted (``data`` is the message),
    action (``{"action": ...}``) or callback_answer (the answer, with ``callback_query_id``)."""

    kind: str
    chat_id: int
    data: JsonDict


class ApiError(Exception):
    """An error response, exactly as Telegram words it."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = int(status)
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True, slots=True)
class _Drop:
    processed: bool


class _Signal:
    """Wakes every waiter on notify(); costs nothing while nobody waits, which keeps requests lean."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        if self._event is None:
            self._event = asyncio.Event()
        await self._event.wait()


class _TokenBucket:
    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.rate = limit.per_second
        self.burst = limit.burst
        self.tokens = limit.burst
        self.stamp = now

    def shortfall(self, now: float) -> float:
        """Seconds until a token is available (0 when one is)."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self.tokens -= 1


class _SlidingWindow:
    __slots__ = ("accepted", "count", "seconds")

    def __init__(self, limit: RateLimit, now: float) -> None:
        self.count = int(limit.burst)
        self.seconds = limit.burst / limit.per_second
        self.accepted: deque[float] = deque()

    def shortfall(self, now: float) -> float:
        while self.accepted and self.accepted[0] <= now - self.seconds:
            self.accepted.popleft()
        if len(self.accepted) < self.count:
            return 0.0
        return self.accepted[len(self.accepted) - self.count] + self.seconds - now

    def take(self, now: float) -> None:
        self.accepted.append(now)


def _limiter(limit: RateLimit, now: float) -> _TokenBucket | _SlidingWindow:
    return _SlidingWindow(limit, now) if limit.sliding else _TokenBucket(limit, now)


@dataclass(slots=True, eq=False)
class _Chat:
    user: JsonDict
    info: JsonDict
    instance: str
    messages: dict[int, JsonDict] = field(default_factory=dict)
    unread: deque[JsonDict] = field(default_factory=deque)
    protected: set[int] = field(default_factory=set)
    next_message_id: int = 1
    blocked: bool = False
    reply_keyboard: JsonDict | None = None
    last_action: str | None = None


@dataclass(slots=True)
class _CallbackQuery:
    user_id: int
    answer: JsonDict | None = None


def utf16_length(text: str) -> int:
    """Length as Telegram counts it: in UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _bad(description: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, f"Bad Request: {description}")


# ---------------------------------------------------------------------------------------------------------
# HTML parse mode, following Telegram's parser (tdlib parse_html): same tags, same errors.

_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_SPECIAL = re.compile(r"[<&]")
_HTML_CHAR_REF = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,8}));")


def _html_error(problem: str, source: str, index: int, detail: str = "") -> ApiError:
    return _bad(f"can't parse entities: {problem} at byte offset {len(source[:index].encode())}{detail}")


def _unescape(source: str, start: int) -> tuple[str, int]:
    """The character a ``&...;`` reference at ``start`` stands for, and where parsing resumes.
    Unknown references stay literal, as in Telegram."""
    match = _HTML_CHAR_REF.match(source, start)
    if match is not None:
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            char = _NAMED_HTML_ENTITIES.get(name)
            if char is not None:
                return char, match.end()
        else:
            code = int(decimal) if decimal is not None else int(hexadecimal, 16)
            if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                return chr(code), match.end()
    return "&", start + 1


def _unescape_all(value: str) -> str:
    parts: list[str] = []
    index = 0
    while (amp := value.find("&", index)) >= 0:
        parts.append(value[index:amp])
        char, index = _unescape(value, amp)
        parts.append(char)
    parts.append(value[index:])
    return "".join(parts)


def _parse_html_attributes(source: str, index: int, tag_start: int) -> tuple[dict[str, str], int]:
    attributes: dict[str, str] = {}
    length = len(source)
    while True:
        while index < length and source[index].isspace():
            index += 1
        if index >= length:
            raise _html_error("Unclosed start tag", source, tag_start)
        if source[index] == ">":
            return attributes, index + 1
        name_start = index
        while index < length and not source[index].isspace() and source[index] not in "=>":
            index += 1
        name = source[name_start:index].lower()
        while index < length and source[index].isspace():
            index += 1
        if index >= length or source[index] != "=":
            attributes[name] = ""
            continue
        index += 1
        while index < length and source[index].isspace():
            index += 1
        if index >= length:
            raise _html_error("Unclosed start tag", source, tag_start)
        quote = source[index]
        if quote in "\"'":
            end = source.find(quote, index + 1)
            if end < 0:
                raise _html_error("Unclosed start tag", source, tag_start)
            attributes[name] = _unescape_all(source[index + 1 : end])
            index = end + 1
        else:
            value_start = index
            while index < length and (source[index].isalnum() or source[index] in "._-"):
                index += 1
            attributes[name] = source[value_start:index]


def parse_html(source: str) -> tuple[str, list[JsonDict]]:
    """Text and entities of an HTML-formatted message; raises ApiError like Telegram for bad markup."""
    out: list[str] = []
    position = 0  # UTF-16 offset into the output
    # (tag, attributes, UTF-16 start, index of the tag in source)
    stack: list[tuple[str, dict[str, str], int, int]] = []
    entities: list[JsonDict] = []
    index = 0
    length = len(source)
    while index < length:
        special = _HTML_SPECIAL.search(source, index)
        stop = special.start() if special is not None else length
        if stop > index:
            chunk = source[index:stop]
            out.append(chunk)
            position += utf16_length(chunk)
            index = stop
            if index >= length:
                break
        if source[index] == "&":
            char, index = _unescape(source, index)
            out.append(char)
            position += utf16_length(char)
            continue
        tag_start = index
        if source.startswith("</", index):
            if not stack:
                raise _html_error("Unexpected end tag", source, index)
            index += 2
            name_start = index
            while index < length and not source[index].isspace() and source[index] != ">":
                index += 1
            end_name = source[name_start:index].lower()
            while index < length and source[index].isspace():
                index += 1
            if index >= length or source[index] != ">":
                raise _html_error("Unclosed end tag", source, tag_start)
            index += 1
            tag, attributes, start, _ = stack.pop()
            if end_name and end_name != tag:
                expected = f', expected "</{tag}>", found "</{end_name}>"'
                raise _html_error("Unmatched end tag", source, tag_start, expected)
            language = attributes.get("class", "")
            if (
                tag == "code"
                and language.startswith("language-")
                and stack
                and stack[-1][0] == "pre"
                and stack[-1][2] == start
            ):
                stack[-1][1]["language"] = language.removeprefix("language-")
                continue
            if position > start and (tag != "a" or attributes.get("href")):
                entities.append(_html_entity(tag, attributes, start, position - start))
            continue
        index += 1
        name_start = index
        while index < length and not source[index].isspace() and source[index] != ">":
            index += 1
        if index >= length:
            raise _html_error("Unclosed start tag", source, tag_start)
        tag = source[name_start:index].lower()
        if tag not in _HTML_ENTITY_TYPES:
            raise _html_error(f'Unsupported start tag "{tag}"', source, tag_start)
        attributes, index = _parse_html_attributes(source, index, tag_start)
        if tag == "span" and attributes.get("class") != "tg-spoiler":
            raise _html_error('Tag "span" must have class "tg-spoiler"', source, tag_start)
        stack.append((tag, attributes, position, tag_start))
    if stack:
        raise _bad(f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1][0]}\"")
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return "".join(out), entities


def _html_entity(tag: str, attributes: dict[str, str], offset: int, length: int) -> JsonDict:
    entity: JsonDict = {"type": _HTML_ENTITY_TYPES[tag], "offset": offset, "length": length}
    if tag == "a":
        entity["url"] = attributes["href"]
    elif tag == "pre" and attributes.get("language"):
        entity["language"] = attributes["language"]
    elif tag == "blockquote" and "expandable" in attributes:
        entity["type"] = "expandable_blockquote"
    elif tag == "tg-emoji":
        entity["custom_emoji_id"] = attributes.get("emoji-id", "")
    return entity


def _command_entities(text: str) -> list[JsonDict]:
    return [
        {"type": "bot_command", "offset": utf16_length(text[: match.start()]), "length": len(match.group())}
        for match in _BOT_COMMAND_RE.finditer(text)
    ]


def _without_reply(message: JsonDict) -> JsonDict:
    """A message as nested in reply_to_message / callback_query: Telegram does not nest replies further."""
    if "reply_to_message" not in message:
        return message
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _scope_key(scope: str | Mapping[str, Any] | None) -> str:
    if scope is None:
        return "default"
    if isinstance(scope, str):
        return scope
    kind = str(scope.get("type", "default"))
    if "chat_id" in scope:
        kind += f":{scope['chat_id']}"
    if "user_id" in scope:
        kind += f":{scope['user_id']}"
    return kind


class FakeBotApi:
    """The fake server plus the users' side of every private chat. See the module docstring."""

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "baomi_test_bot",
        *,
        bot_first_name: str = "保密助手",
        clock: Clock | None = None,
        record_calls: bool = True,
        first_update_id: int = 1,
    ) -> None:
        """`first_update_id`: where update ids start (a bot that kept the ids it saw must not see them again)."""
        bot_id = _as_int(token.partition(":")[0])
        if bot_id is None:
            raise ValueError("a bot token starts with the bot's numeric id: '<id>:<secret>'")
        self.token = token
        self.record_calls = record_calls
        self._clock: Clock = clock or SystemClock()
        self._bot_from: JsonDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._me: JsonDict = {
            **self._bot_from,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._chats: dict[int, _Chat] = {}
        self._updates: deque[JsonDict] = deque()
        self._last_update_id = first_update_id - 1
        self._confirmed_update_id = first_update_id - 1
        self._allowed_updates: frozenset[str] = frozenset()
        self._poll_generation = 0
        self._polling = 0
        self._webhook_url = ""
        self._calls: list[Call] = []
        self._call_counts: Counter[str] = Counter()
        self._count_429 = 0
        self._bot_messages_sent = 0
        self._faults: dict[str, deque[ApiError | _Drop]] = {}
        self._global_rate: RateLimit | None = None
        self._per_chat_rate: RateLimit | None = None
        self._global_bucket: _TokenBucket | _SlidingWindow | None = None
        self._chat_buckets: dict[int | str, _TokenBucket | _SlidingWindow] = {}
        self._queries: dict[str, _CallbackQuery] = {}
        self._next_query_id = 0
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._commands: dict[tuple[str, str], list[JsonDict]] = {}
        self._profile: dict[tuple[str, str], str] = {}
        self._listeners: list[Callable[[ChatEvent], None]] = []
        self._state_signal = _Signal()
        self._updates_signal = _Signal()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._port = 0
        self._host = "127.0.0.1"
        self._methods: dict[str, tuple[str, Callable[[JsonDict], Any]]] = {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._profile_setter("description"),
                "getMyDescription": self._profile_getter("description"),
                "setMyShortDescription": self._profile_setter("short_description"),
                "getMyShortDescription": self._profile_getter("short_description"),
                "setMyName": self._profile_setter("name"),
                "getMyName": self._profile_getter("name"),
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "sendDocument": self._send_document,
                "sendPhoto": self._send_photo,
                "sendChatAction": self._send_chat_action,
                "getFile": self._get_file,
                "getUpdates": self._get_updates,
            }.items()
        }

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port``; port 0 picks a free one."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_request)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file_download)
        app.router.add_post("/_control/{action}", self._handle_control)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        self._runner = runner
        self._host = host
        self._port = runner.addresses[0][1]
        self._closing = False

    async def stop(self) -> None:
        """Stop listening; waiting long polls return at once."""
        self._closing = True
        self._updates_signal.notify()
        self._state_signal.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._runner is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self._host}:{self.port}/file/bot"

    @property
    def bot_user(self) -> JsonDict:
        return self._me

    # -- rate limits -----------------------------------------------------------------------------------

    @property
    def global_rate(self) -> RateLimit | None:
        return self._global_rate

    @global_rate.setter
    def global_rate(self, limit: RateLimit | None) -> None:
        self._global_rate = limit
        self._global_bucket = None if limit is None else _limiter(limit, time.monotonic())

    @property
    def per_chat_rate(self) -> RateLimit | None:
        return self._per_chat_rate

    @per_chat_rate.setter
    def per_chat_rate(self, limit: RateLimit | None) -> None:
        self._per_chat_rate = limit
        self._chat_buckets.clear()

    def _check_rates(self, params: JsonDict, now: float) -> None:
        buckets: list[_TokenBucket | _SlidingWindow] = []
        if self._global_bucket is not None:
            buckets.append(self._global_bucket)
        if self._per_chat_rate is not None:
            key = params.get("chat_id")
            if isinstance(key, int | str):
                bucket = self._chat_buckets.get(key)
                if bucket is None:
                    bucket = self._chat_buckets[key] = _limiter(self._per_chat_rate, now)
                buckets.append(bucket)
        if not buckets:
            return
        wait = max(bucket.shortfall(now) for bucket in buckets)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(HTTPStatus.TOO_MANY_REQUESTS, f"Too Many Requests: retry after {retry_after}", retry_after)
        for bucket in buckets:
            bucket.take(now)

    # -- failure injection -----------------------------------------------------------------------------

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        return entry[0]

    def fail_next(
        self, method: str, status: int = 500, description: str | None = None, retry_after: int | None = None
    ) -> None:
        """Answer the next call of ``method`` with this error instead of handling it (stackable)."""
        if status == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        if description is None:
            if status == HTTPStatus.TOO_MANY_REQUESTS:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                try:
                    description = HTTPStatus(status).phrase
                except ValueError:
                    description = "Error"
        fault = ApiError(status, description, retry_after)
        self._faults.setdefault(self._canonical(method), deque()).append(fault)

    def drop_next(self, method: str, *, processed: bool = False) -> None:
        """Close the connection of the next call of ``method`` without answering. With ``processed`` the
        call takes effect first (a message really gets sent), so only the response is lost."""
        self._faults.setdefault(self._canonical(method), deque()).append(_Drop(processed))

    # -- HTTP ------------------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> JsonDict:
        params: JsonDict = {}
        for name, value in request.query.items():
            params[name] = value if name in _STRING_PARAMS else _decode(value)
        if not request.body_exists:
            return params
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                body = None
            if not isinstance(body, dict):
                raise _bad("parameters must be a JSON object")
            for name, value in body.items():
                is_encoded = isinstance(value, str) and name not in _STRING_PARAMS
                params[name] = _decode(value) if is_encoded else value
            return params
        form = await request.post()
        for name, part in form.items():
            if isinstance(part, str):
                params[name] = part if name in _STRING_PARAMS else _decode(part)
            elif isinstance(part, bytes | bytearray):
                params[name] = UploadedFile(None, None, bytes(part))
            else:
                with part.file:
                    data = part.file.read()
                params[name] = UploadedFile(part.filename or None, part.content_type or None, data)
        return params

    async def _handle_bot_request(self, request: web.Request) -> web.StreamResponse:
        started = time.monotonic()
        name = request.match_info["method"]
        entry = self._methods.get(name.lower())
        method = name if entry is None else entry[0]
        params: JsonDict = {}
        result: Any = None
        error: ApiError | None = None
        fault: ApiError | _Drop | None = None
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized")
            if entry is None:
                raise ApiError(HTTPStatus.NOT_FOUND, "Not Found")
            params = await self._read_params(request)
            pending = self._faults.get(method)
            if pending:
                fault = pending.popleft()
                if isinstance(fault, ApiError):
                    raise fault
            if not isinstance(fault, _Drop) or fault.processed:
                if method in _SENDING_METHODS:
                    self._check_rates(params, started)
                result = entry[1](params)
                if method == "getUpdates":
                    result = await result
        except ApiError as exc:
            error = exc
        if isinstance(fault, _Drop):
            self._record(Call(method, params, started, None, result if error is None else None))
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        if error is None:
            status = 200
            self._record(Call(method, params, started, status, result))
            body = {"ok": True, "result": result}
        else:
            if error.status == HTTPStatus.TOO_MANY_REQUESTS:
                self._count_429 += 1
            self._record(Call(method, params, started, error.status, None, error.description, error.retry_after))
            body = error.payload()
            status = error.status
        return web.Response(
            body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
            status=status,
            content_type="application/json",
        )

    def _record(self, call: Call) -> None:
        self._call_counts[call.method] += 1
        if self.record_calls:
            self._calls.append(call)
        self._state_signal.notify()

    async def _handle_file_download(self, request: web.Request) -> web.StreamResponse:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(ApiError(HTTPStatus.NOT_FOUND, "Not Found").payload(), status=404)
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # -- getUpdates and webhooks -----------------------------------------------------------------------

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self._webhook_url:
            raise ApiError(
                HTTPStatus.CONFLICT,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset"))
        limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
        timeout = params.get("timeout") or 0
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed)
        if offset is not None:
            self._confirm(offset)
        self._poll_generation += 1
        generation = self._poll_generation
        # Wakes a poll still waiting, so that it ends with 409 as Telegram's does.
        self._updates_signal.notify()
        if not self._updates and isinstance(timeout, int | float) and timeout > 0 and not self._closing:
            self._polling += 1
            self._state_signal.notify()
            try:
                async with asyncio.timeout(timeout):
                    while not self._updates and generation == self._poll_generation and not self._closing:
                        await self._updates_signal.wait()
            except TimeoutError:
                pass
            finally:
                self._polling -= 1
            if generation != self._poll_generation:
                raise ApiError(HTTPStatus.CONFLICT, _POLL_TERMINATED)
        return list(islice(self._updates, limit))

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            while len(updates) > -offset:
                self._confirmed_update_id = updates.popleft()["update_id"]
            return
        while updates and updates[0]["update_id"] < offset:
            updates.popleft()
        self._confirmed_update_id = max(self._confirmed_update_id, min(offset - 1, self._last_update_id))

    def _set_webhook(self, params: JsonDict) -> bool:
        self._webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: JsonDict) -> JsonDict:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _enqueue(self, kind: str, payload: JsonDict) -> None:
        if self._allowed_updates and kind not in self._allowed_updates:
            return
        self._last_update_id += 1
        self._updates.append({"update_id": self._last_update_id, kind: payload})
        self._updates_signal.notify()
        self._state_signal.notify()

    # -- bot profile -----------------------------------------------------------------------------------

    def _get_me(self, params: JsonDict) -> JsonDict:
        return self._me

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or not all(isinstance(item, dict) for item in commands):
            raise _bad("can't parse commands JSON object")
        normalized = []
        for item in commands:
            command = str(item.get("command", "")).removeprefix("/")
            if not _COMMAND_RE.fullmatch(command):
                raise _bad("BOT_COMMAND_INVALID")
            normalized.append({"command": command, "description": str(item.get("description", ""))})
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        if normalized:
            self._commands[key] = normalized
        else:
            self._commands.pop(key, None)
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        key = (_scope_key(params.get("scope")), str(params.get("language_code") or ""))
        return list(self._commands.get(key, []))

    def _delete_my_commands(self, params: JsonDict) -> bool:
        self._commands.pop((_scope_key(params.get("scope")), str(params.get("language_code") or "")), None)
        return True

    def _profile_setter(self, field_name: str) -> Callable[[JsonDict], bool]:
        def handler(params: JsonDict) -> bool:
            self._profile[(field_name, str(params.get("language_code") or ""))] = str(params.get(field_name) or "")
            return True

        return handler

    def _profile_getter(self, field_name: str) -> Callable[[JsonDict], JsonDict]:
        def handler(params: JsonDict) -> JsonDict:
            language = str(params.get("language_code") or "")
            return {field_name: self._profile.get((field_name, language), "")}

        return handler

    # -- sending ---------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock.now().timestamp())

    def _chat_for_bot(self, params: JsonDict, *, allow_blocked: bool = False) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat_id = _as_int(raw)
        chat = None if chat_id is None else self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        if chat.blocked and not allow_blocked:
            raise ApiError(HTTPStatus.FORBIDDEN, "Forbidden: bot was blocked by the user")
        return chat

    @staticmethod
    def _message_id(params: JsonDict) -> int:
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise _bad("message identifier is not specified")
        return message_id

    @staticmethod
    def _formatted(
        params: JsonDict, text_key: str, entities_key: str, limit: int, *, required: bool
    ) -> tuple[str, list[JsonDict]]:
        raw = params.get(text_key)
        text = "" if raw is None else str(raw)
        entities = params.get(entities_key)
        parse_mode = params.get("parse_mode")
        if isinstance(entities, list):
            parsed = [entity for entity in entities if isinstance(entity, dict)]
        elif parse_mode:
            mode = str(parse_mode).lower()
            if mode == "html":
                text, parsed = parse_html(text)
            elif mode in ("markdown", "markdownv2"):
                raise _bad(f"parse_mode {parse_mode} is not implemented by the fake Bot API; use HTML")
            else:
                raise _bad("unsupported parse_mode")
        else:
            parsed = []
        if required and not text.strip():
            raise _bad("message text is empty")
        if utf16_length(text) > limit:
            raise _bad("message is too long" if required else "message caption is too long")
        return text, parsed

    @staticmethod
    def _inline_markup(markup: Any) -> JsonDict | None:
        """The inline keyboard to attach, validated like Telegram; None for none or an empty one."""
        if markup is None:
            return None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse reply keyboard markup JSON object")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
                data = button.get("callback_data")
                if data is not None:
                    if len(str(data).encode()) > MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
                elif not any(action in button for action in _INLINE_BUTTON_ACTIONS):
                    raise _bad(_TEXT_BUTTON)
        return markup if any(rows) else None

    def _reply_target(self, chat: _Chat, params: JsonDict) -> JsonDict | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = _as_int(reply.get("message_id"))
            lenient = bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = _as_int(params.get("reply_to_message_id"))
            lenient = bool(params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        target = chat.messages.get(message_id)
        if target is None:
            if lenient:
                return None
            raise _bad("message to be replied not found")
        return _without_reply(target)

    def _deliver(self, chat: _Chat, params: JsonDict, content: JsonDict) -> JsonDict:
        """Validate what every send method shares, then store and announce the bot's new message."""
        markup = params.get("reply_markup")
        is_inline = not isinstance(markup, dict) or "inline_keyboard" in markup
        inline = self._inline_markup(markup) if is_inline else None
        reply_to = self._reply_target(chat, params)
        if isinstance(markup, dict) and not is_inline:
            if "keyboard" in markup:
                chat.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message: JsonDict = {
            "message_id": message_id,
            "from": self._bot_from,
            "chat": chat.info,
            "date": self._now(),
        }
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        message.update(content)
        if inline is not None:
            message["reply_markup"] = inline
        if params.get("protect_content"):
            message["has_protected_content"] = True
            chat.protected.add(message_id)
        chat.messages[message_id] = message
        chat.unread.append(message)
        self._bot_messages_sent += 1
        self._emit("sent", chat, message)
        return message

    def _send_message(self, params: JsonDict) -> JsonDict:
        chat = self._chat_for_bot(params)
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH, required=True)
        content: JsonDict = {"text": text}
        if entities:
            content["entities"] = entities
        return self._deliver(chat, params, content)

    def _caption(self, params: JsonDict) -> JsonDict:
        caption, entities = self._formatted(params, "caption", "caption_entities", MAX_CAPTION_LENGTH, required=False)
        content: JsonDict = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content

    def _send_document(self, params: JsonDict) -> JsonDict:
        chat = self._chat_for_bot(params)
        content = self._caption(params)
        stored = self._input_file(params, "document", "documents")
        document: JsonDict = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return self._deliver(chat, params, {"document": document, **content})

    def _send_photo(self, params: JsonDict) -> JsonDict:
        chat = self._chat_for_bot(params)
        content = self._caption(params)
        stored = self._input_file(params, "photo", "photos")
        return self._deliver(chat, params, {"photo": [self._photo_size(stored, 1280, 960)], **content})

    @staticmethod
    def _photo_size(stored: StoredFile, width: int, height: int) -> JsonDict:
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "width": width,
            "height": height,
        }

    def _input_file(self, params: JsonDict, name: str, folder: str) -> StoredFile:
        value = params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            return self._store_file(folder, value.file_name, value.mime_type, value.data)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {name} in the request")
        known = self._files.get(value)
        if known is not None:
            return known
        if value.startswith(("http://", "https://")):
            file_name = value.rstrip("/").rpartition("/")[2] or None
            return self._store_file(folder, file_name, None, b"")
        raise _bad(_WRONG_FILE.removeprefix("Bad Request: "))

    def _store_file(self, folder: str, file_name: str | None, mime_type: str | None, data: bytes) -> StoredFile:
        number = len(self._files) + 1
        prefix = {"photos": "AgAC", "voice": "AwAC", "videos": "BAAC", "stickers": "CAAC"}.get(folder, "BQAC")
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rpartition(".")[2]
        stored = StoredFile(
            file_id=f"{prefix}AgADfake{number:08d}",
            file_unique_id=f"AQADfake{number:06d}",
            file_path=f"{folder}/file_{number}{suffix}",
            file_name=file_name,
            mime_type=mime_type,
            data=data,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _get_file(self, params: JsonDict) -> JsonDict:
        stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise _bad("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _send_chat_action(self, params: JsonDict) -> bool:
        chat = self._chat_for_bot(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat.last_action = str(action)
        self._emit("action", chat, {"action": action})
        return True

    # -- editing and deleting --------------------------------------------------------------------------

    def _editable(self, params: JsonDict) -> tuple[_Chat, JsonDict]:
        chat = self._chat_for_bot(params)
        message = chat.messages.get(self._message_id(params))
        if message is None:
            raise _bad("message to edit not found")
        if not message["from"]["is_bot"]:
            raise _bad("message can't be edited")
        return chat, message

    def _replace(self, chat: _Chat, message: JsonDict, changes: JsonDict) -> JsonDict:
        """Apply ``changes`` (a None value removes the field) as a new dict, so that messages handed out
        earlier stay snapshots of what they were."""
        edited = {**message, **changes}
        for key, value in changes.items():
            if value is None:
                del edited[key]
        chat.messages[edited["message_id"]] = edited
        self._emit("edited", chat, edited)
        return edited

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        chat, message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", MAX_TEXT_LENGTH, required=True)
        # Telegram drops the inline keyboard when an edit does not repeat it.
        markup = self._inline_markup(params.get("reply_markup"))
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        changes = {
            "text": text,
            "entities": entities or None,
            "reply_markup": markup,
            "edit_date": self._now(),
        }
        return self._replace(chat, message, changes)

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        chat, message = self._editable(params)
        markup = self._inline_markup(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        return self._replace(chat, message, {"reply_markup": markup})

    def _delete_message(self, params: JsonDict) -> bool:
        chat = self._chat_for_bot(params, allow_blocked=True)
        message = chat.messages.pop(self._message_id(params), None)
        if message is None:
            raise _bad("message to delete not found")
        self._emit("deleted", chat, message)
        return True

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        query = self._queries.get(query_id)
        if query is None or query.answer is not None:
            raise _bad(_QUERY_INVALID.removeprefix("Bad Request: "))
        answer: JsonDict = {"callback_query_id": query_id}
        for key in ("text", "show_alert", "url", "cache_time"):
            if key in params:
                answer[key] = params[key]
        query.answer = answer
        chat = self._chats.get(query.user_id)
        if chat is not None:
            self._emit("callback_answer", chat, answer)
        return True

    # -- the users' side -------------------------------------------------------------------------------

    def _user_chat(
        self,
        user_id: int,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> _Chat:
        chat = self._chats.get(user_id)
        given = {
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
        }
        profile = {key: value for key, value in given.items() if value is not None}
        if chat is None:
            user: JsonDict = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", **profile}
            chat = _Chat(user=user, info={}, instance=str((user_id * 2654435761) % 2**62))
            self._chats[user_id] = chat
        elif profile:
            # New dicts, so earlier messages keep the profile they were sent with.
            chat.user = {**chat.user, **profile}
        else:
            return self._unblocked(chat)
        info: JsonDict = {"id": user_id, "type": "private", "first_name": chat.user["first_name"]}
        for key in ("last_name", "username"):
            if key in chat.user:
                info[key] = chat.user[key]
        chat.info = info
        return self._unblocked(chat)

    def _unblocked(self, chat: _Chat) -> _Chat:
        # A user who blocked the bot has to unblock it to write to it again.
        if chat.blocked:
            self._set_blocked(chat, blocked=False)
        return chat

    def _user_message(self, chat: _Chat, content: JsonDict, reply_to: int | None = None) -> JsonDict:
        message_id = chat.next_message_id
        message: JsonDict = {
            "message_id": message_id,
            "from": chat.user,
            "chat": chat.info,
            "date": self._now(),
        }
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None:
                raise LookupError(f"no message {reply_to} in chat {chat.info['id']} to reply to")
            message["reply_to_message"] = _without_reply(target)
        message.update(content)
        chat.next_message_id += 1
        chat.messages[message_id] = message
        self._enqueue("message", message)
        return message

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        reply_to: int | None = None,
    ) -> JsonDict:
        """The user writes ``text`` (a leading ``/command`` gets its bot_command entity)."""
        chat = self._user_chat(user_id, first_name, last_name, username, language_code)
        content: JsonDict = {"text": text}
        entities = _command_entities(text)
        if entities:
            content["entities"] = entities
        return self._user_message(chat, content, reply_to)

    async def send_photo(
        self,
        user_id: int,
        *,
        data: bytes = b"\x89PNG\r\n\x1a\nfake",
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> JsonDict:
        chat = self._user_chat(user_id)
        stored = self._store_file("photos", None, "image/png", data)
        content: JsonDict = {"photo": [self._photo_size(stored, width, height)]}
        if caption:
            content["caption"] = caption
        return self._user_message(chat, content)

    async def send_document(
        self,
        user_id: int,
        file_name: str = "document.pdf",
        data: bytes = b"%PDF-1.4 fake",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> JsonDict:
        chat = self._user_chat(user_id)
        mime_type = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self._store_file("documents", file_name, mime_type, data)
        document = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data),
        }
        content: JsonDict = {"document": document}
        if caption:
            content["caption"] = caption
        return self._user_message(chat, content)

    async def send_voice(self, user_id: int, *, duration: int = 3, data: bytes = b"OggS fake") -> JsonDict:
        chat = self._user_chat(user_id)
        stored = self._store_file("voice", "voice.oga", "audio/ogg", data)
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(data),
        }
        return self._user_message(chat, {"voice": voice})

    async def send_video(
        self,
        user_id: int,
        *,
        duration: int = 5,
        width: int = 1280,
        height: int = 720,
        data: bytes = b"mp4 fake",
    ) -> JsonDict:
        chat = self._user_chat(user_id)
        stored = self._store_file("videos", "video.mp4", "video/mp4", data)
        video = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "duration": duration,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        return self._user_message(chat, {"video": video})

    async def send_sticker(self, user_id: int, *, emoji: str = "👍") -> JsonDict:
        chat = self._user_chat(user_id)
        stored = self._store_file("stickers", "sticker.webp", "image/webp", b"RIFF fake")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return self._user_message(chat, {"sticker": sticker})

    async def send_location(self, user_id: int, *, latitude: float = 39.9042, longitude: float = 116.4074) -> JsonDict:
        chat = self._user_chat(user_id)
        return self._user_message(chat, {"location": {"latitude": latitude, "longitude": longitude}})

    async def send_contact(
        self, user_id: int, *, phone_number: str = "+8613800000000", first_name: str | None = None
    ) -> JsonDict:
        """The user shares their own contact (as a "share phone number" button does)."""
        chat = self._user_chat(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or chat.user["first_name"],
            "user_id": user_id,
        }
        return self._user_message(chat, {"contact": contact})

    async def send_forwarded(
        self, user_id: int, text: str, *, origin_name: str = "转发者", origin_user_id: int | None = None
    ) -> JsonDict:
        """The user forwards someone's text; without ``origin_user_id`` the original sender is hidden."""
        chat = self._user_chat(user_id)
        origin: JsonDict
        if origin_user_id is None:
            origin = {"type": "hidden_user", "date": self._now(), "sender_user_name": origin_name}
        else:
            sender = {"id": origin_user_id, "is_bot": False, "first_name": origin_name}
            origin = {"type": "user", "date": self._now(), "sender_user": sender}
        return self._user_message(chat, {"text": text, "forward_origin": origin})

    async def press(
        self, user_id: int, message_id: int, callback_data: str | None = None, *, text: str | None = None
    ) -> str:
        """The user presses an inline button of a bot message, chosen by ``callback_data`` or by its
        ``text``; returns the callback query id."""
        if (callback_data is None) == (text is None):
            raise ValueError("press needs exactly one of callback_data and text")
        chat = self._chats.get(user_id)
        message = None if chat is None else chat.messages.get(message_id)
        if chat is None or message is None or not message["from"]["is_bot"]:
            raise LookupError(f"no bot message {message_id} in chat {user_id}")
        buttons = [
            button
            for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
            if "callback_data" in button
        ]
        chosen = next(
            (
                button
                for button in buttons
                if (button["callback_data"] == callback_data if text is None else button["text"] == text)
            ),
            None,
        )
        if chosen is None:
            available = [(button["text"], button["callback_data"]) for button in buttons]
            raise LookupError(f"message {message_id} has no such button; it has {available}")
        self._unblocked(chat)
        self._next_query_id += 1
        query_id = str(4_000_000_000_000_000 + self._next_query_id)
        self._queries[query_id] = _CallbackQuery(user_id)
        query = {
            "id": query_id,
            "from": chat.user,
            "message": _without_reply(message),
            "chat_instance": chat.instance,
            "data": chosen["callback_data"],
        }
        self._enqueue("callback_query", query)
        return query_id

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sending to them answers 403 from now on."""
        chat = self._chats.get(user_id)
        if chat is None:
            raise LookupError(f"user {user_id} never talked to the bot")
        if not chat.blocked:
            self._set_blocked(chat, blocked=True)

    def unblock(self, user_id: int) -> None:
        chat = self._chats.get(user_id)
        if chat is None:
            raise LookupError(f"user {user_id} never talked to the bot")
        self._unblocked(chat)

    def _set_blocked(self, chat: _Chat, *, blocked: bool) -> None:
        chat.blocked = blocked
        bot = self._bot_from
        member: JsonDict = {"status": "member", "user": bot}
        kicked: JsonDict = {"status": "kicked", "user": bot, "until_date": 0}
        self._enqueue(
            "my_chat_member",
            {
                "chat": chat.info,
                "from": chat.user,
                "date": self._now(),
                "old_chat_member": member if blocked else kicked,
                "new_chat_member": kicked if blocked else member,
            },
        )

    # -- observing the bot -----------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[ChatEvent], None]) -> Callable[[], None]:
        """Call ``listener`` on everything the bot does in a chat; returns a function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, kind: str, chat: _Chat, data: JsonDict) -> None:
        if self._listeners:
            event = ChatEvent(kind, chat.info["id"], data)
            for listener in list(self._listeners):
                listener(event)

    async def next_message(self, chat_id: int, timeout: float = 5.0) -> JsonDict:  # noqa: ASYNC109
        """The bot's next message in the chat that no earlier next_message returned, as it was sent."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    chat = self._chats.get(chat_id)
                    if chat is not None and chat.unread:
                        return chat.unread.popleft()
                    await self._state_signal.wait()
        except TimeoutError:
            raise TimeoutError(f"the bot sent no new message to chat {chat_id} within {timeout}s") from None

    async def wait_for(
        self,
        predicate: Callable[[FakeBotApi], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until ``predicate(api)`` holds; it is re-checked whenever a call arrives or state changes."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self._state_signal.wait()
        except TimeoutError:
            raise TimeoutError(f"condition still false after {timeout}s") from None

    def calls(self, method: str | None = None, chat_id: int | None = None) -> list[Call]:
        """Recorded calls in arrival order (completion order for long polls), optionally filtered."""
        return [
            call
            for call in self._calls
            if (method is None or call.method == method)
            and (chat_id is None or _as_int(call.params.get("chat_id")) == chat_id)
        ]

    def chat(self, chat_id: int) -> list[JsonDict]:
        chat = self._chats.get(chat_id)
        return [] if chat is None else list(chat.messages.values())

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.messages.get(message_id)

    @staticmethod
    def buttons(message: Mapping[str, Any]) -> list[tuple[str, str]]:
        """Every inline button as (text, callback_data), or (text, url) for a link button."""
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        return [
            (button["text"], str(button.get("callback_data", button.get("url", "")))) for row in rows for button in row
        ]

    def callback_answer(self, query_id: str) -> JsonDict | None:
        query = self._queries.get(query_id)
        return None if query is None else query.answer

    def commands(self, scope: str | Mapping[str, Any] = "default", language_code: str = "") -> list[JsonDict]:
        """Commands set for a scope: a BotCommandScope dict or its key ("default", "chat:<id>", ...)."""
        return list(self._commands.get((_scope_key(scope), language_code), []))

    def protected_message_ids(self, chat_id: int) -> set[int]:
        chat = self._chats.get(chat_id)
        return set() if chat is None else set(chat.protected)

    def reply_keyboard(self, chat_id: int) -> JsonDict | None:
        """The custom reply keyboard the user currently sees, if any."""
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.reply_keyboard

    def chat_action(self, chat_id: int) -> str | None:
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.last_action

    def file(self, file_id: str) -> StoredFile:
        return self._files[file_id]

    def is_blocked(self, user_id: int) -> bool:
        chat = self._chats.get(user_id)
        return chat is not None and chat.blocked

    @property
    def pending_updates_count(self) -> int:
        return len(self._updates)

    @property
    def confirmed_update_id(self) -> int:
        return self._confirmed_update_id

    @property
    def count_429(self) -> int:
        return self._count_429

    @property
    def bot_messages_sent(self) -> int:
        return self._bot_messages_sent

    @property
    def is_polling(self) -> bool:
        """Whether a getUpdates long poll is waiting right now (the bot is up and listening)."""
        return self._polling > 0

    def stats(self) -> JsonDict:
        return {
            "calls": dict(self._call_counts),
            "bot_messages_sent": self._bot_messages_sent,
            "count_429": self._count_429,
            "pending_updates": len(self._updates),
            "confirmed_update_id": self._confirmed_update_id,
            "chats": len(self._chats),
        }

    # -- control API for a standalone server -----------------------------------------------------------

    def _control_actions(self) -> dict[str, Callable[..., Any]]:
        async def calls(method: str | None = None, chat_id: int | None = None, since: int = 0) -> list[Call]:
            return self.calls(method, chat_id)[since:]

        async def set_rates(
            global_rate: Sequence[float] | None = None, per_chat_rate: Sequence[float] | None = None
        ) -> None:
            def limit(values: Sequence[float] | None) -> RateLimit | None:
                # [per_second, burst] or [per_second, burst, sliding]
                if values is None:
                    return None
                return RateLimit(values[0], values[1] if len(values) > 1 else 1.0, len(values) > 2 and bool(values[2]))

            self.global_rate = limit(global_rate)
            self.per_chat_rate = limit(per_chat_rate)

        async def wait_bot_messages(total: int, timeout: float = 30.0) -> int:  # noqa: ASYNC109
            await self.wait_for(lambda api: api.bot_messages_sent >= total, timeout)
            return self._bot_messages_sent

        return {
            "send_text": self.send_text,
            "send_photo": self.send_photo,
            "send_document": self.send_document,
            "send_voice": self.send_voice,
            "send_video": self.send_video,
            "send_sticker": self.send_sticker,
            "send_location": self.send_location,
            "send_contact": self.send_contact,
            "send_forwarded": self.send_forwarded,
            "press": self.press,
            "block": self.block,
            "unblock": self.unblock,
            "fail_next": self.fail_next,
            "drop_next": self.drop_next,
            "next_message": self.next_message,
            "chat": self.chat,
            "message": self.message,
            "callback_answer": self.callback_answer,
            "commands": self.commands,
            "stats": self.stats,
            "calls": calls,
            "set_rates": set_rates,
            "wait_bot_messages": wait_bot_messages,
        }

    async def _handle_control(self, request: web.Request) -> web.StreamResponse:
        action = self._control_actions().get(request.match_info["action"])
        if action is None:
            return web.json_response({"error": f"unknown action {request.match_info['action']!r}"}, status=404)
        results = []
        try:
            body = await request.json() if request.body_exists else {}
            batch = body if isinstance(body, list) else [body]
            for arguments in batch:
                if not isinstance(arguments, dict):
                    raise TypeError("arguments must be a JSON object")
                if isinstance(arguments.get("data"), str):
                    arguments["data"] = arguments["data"].encode()
                result = action(**arguments)
                if inspect.isawaitable(result):
                    result = await result
                results.append(_to_json(result))
        except (LookupError, ValueError, TypeError, TimeoutError) as exc:
            return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=400)
        return web.json_response(results if isinstance(body, list) else results[0])


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _to_json(value: Any) -> Any:
    if isinstance(value, UploadedFile | StoredFile):
        return {"file_name": value.file_name, "mime_type": value.mime_type, "size": len(value.data)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {item.name: _to_json(getattr(value, item.name)) for item in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_to_json(item) for item in value]
    return value


async def serve_forever(
    api: FakeBotApi,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[FakeBotApi], None] | None = None,
) -> None:
    """Run ``api`` until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await api.start(host, port)
    try:
        if on_ready is not None:
            on_ready(api)
        await stop.wait()
    finally:
        await api.stop()


def _rate_argument(value: str) -> RateLimit:
    per_second, _, burst = value.partition("/")
    return RateLimit(float(per_second), float(burst or per_second))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Telegram Bot API until killed.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default="123456:TEST")
    parser.add_argument("--bot-username", default="baomi_test_bot")
    parser.add_argument("--global-rate", type=_rate_argument, help="RATE[/BURST] messages per second, all chats")
    parser.add_argument("--per-chat-rate", type=_rate_argument, help="RATE[/BURST] messages per second, per chat")
    parser.add_argument("--no-record", action="store_true", help="keep no per-call log (long benchmarks)")
    args = parser.parse_args(argv)
    api = FakeBotApi(args.token, args.bot_username, record_calls=not args.no_record)
    api.global_rate = args.global_rate
    api.per_chat_rate = args.per_chat_rate
    asyncio.run(serve_forever(api, args.host, args.port, lambda ready: print(ready.base_url, flush=True)))


if __name__ == "__main__":
    main()
