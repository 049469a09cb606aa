"""The fake Bot API, driven by the real python-telegram-bot over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
)

from bot.testing.fake_bot_api import ChatEvent, FakeBotApi, RateLimit, parse_html

TOKEN = "123456:TEST"
USER = 1001
OTHER = 1002
SPEC = json.loads((Path(__file__).parent / "data" / "telegram-bot-api-10.1.min.json").read_text("utf-8"))
_ALWAYS = re.compile(r'(?:always "([^"]+)"|must be ([a-z_]+)$)')


# -- checking objects against the Bot API spec -------------------------------------------------------------


def conformance_errors(value: Any, types: list[str], path: str, seen: set[str]) -> list[str]:
    """Why ``value`` is none of ``types`` (empty when it is one); records the object types it matched."""
    failures = []
    for name in types:
        visited: set[str] = set()
        errors = _type_errors(value, name, path, visited)
        if not errors:
            seen |= visited
            return []
        failures.append(errors)
    return min(failures, key=len)


def _type_errors(value: Any, name: str, path: str, seen: set[str]) -> list[str]:
    if name.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not an array"]
        item_type = name.removeprefix("Array of ")
        return [
            error
            for index, item in enumerate(value)
            for error in conformance_errors(item, [item_type], f"{path}[{index}]", seen)
        ]
    primitives = {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "Boolean": lambda v: isinstance(v, bool),
        "True": lambda v: v is True,
    }
    if name in primitives:
        return [] if primitives[name](value) else [f"{path}: {value!r} is not {name}"]
    spec = SPEC["types"][name]
    if "subtypes" in spec:
        return conformance_errors(value, spec["subtypes"], path, seen)
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not a {name}"]
    fields = {item["name"]: item for item in spec.get("fields", [])}
    errors = [f"{path}: {name} has no field {key!r}" for key in value if key not in fields]
    for field_name, field_spec in fields.items():
        if field_name not in value:
            if field_spec["required"]:
                errors.append(f"{path}: {name} lacks required field {field_name!r}")
            continue
        errors += conformance_errors(value[field_name], field_spec["types"], f"{path}.{field_name}", seen)
        fixed = _ALWAYS.search(field_spec["description"])
        if fixed and value[field_name] != (fixed.group(1) or fixed.group(2)):
            errors.append(f"{path}.{field_name}: {value[field_name]!r} is not {fixed.group(0)!r}")
    if not errors:
        seen.add(name)
    return errors


def served_object_errors(api: FakeBotApi, seen: set[str]) -> list[str]:
    """Check every result the server produced against the return type the spec gives its method."""
    errors = []
    for number, call in enumerate(api.calls()):
        if call.result is not None:
            returns = SPEC["methods"][call.method]["returns"]
            errors += conformance_errors(call.result, returns, f"#{number} {call.method}", seen)
    return errors


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB warns on every int time period (RetryAfter.retry_after) unless opted in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi(token=TOKEN, bot_username="baomi_test_bot") as server:
        yield server
    assert served_object_errors(server, set()) == []


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


@pytest.fixture
async def http(api: FakeBotApi) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(text, callback_data=data) for text, data in buttons]])


# -- the spec checker itself -------------------------------------------------------------------------------


def test_conformance_checker_rejects_broken_objects() -> None:
    seen: set[str] = set()
    chat = {"id": 1, "type": "private"}
    assert conformance_errors({"message_id": 1, "date": 1, "chat": chat}, ["Message"], "m", seen) == []
    assert {"Message", "Chat"} <= seen
    missing = conformance_errors({"message_id": 1, "date": 1}, ["Message"], "m", set())
    assert any("'chat'" in error for error in missing)
    wrong_type = conformance_errors({"message_id": "1", "date": 1, "chat": chat}, ["Message"], "m", set())
    assert any("message_id" in error for error in wrong_type)
    unknown = conformance_errors({"message_id": 1, "date": 1, "chat": chat, "foo": 1}, ["Message"], "m", set())
    assert any("'foo'" in error for error in unknown)
    banned = {"status": "member", "user": {"id": 1, "is_bot": False, "first_name": "a"}, "until_date": 0}
    assert conformance_errors(banned, ["ChatMemberBanned"], "m", set()) != []


# -- basics ------------------------------------------------------------------------------------------------


async def test_get_me_and_authentication(api: FakeBotApi, bot: Bot, http: aiohttp.ClientSession) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "baomi_test_bot")

    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("123456:WRONG", base_url=api.base_url):
            pass
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")

    async with http.post(f"{api.base_url}{TOKEN}/noSuchMethod") as response:
        assert response.status == 404
        assert await response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [call.status for call in api.calls()][-3:] == [401, 404, 404]


async def test_send_edit_delete_round_trip(api: FakeBotApi, bot: Bot) -> None:
    hello = await api.send_text(USER, "/start abc", first_name="张三", language_code="zh-hans")
    assert hello["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]

    sent = await bot.send_message(USER, "请稍候", reply_markup=keyboard(("好", "ok")))
    assert sent.from_user is not None and sent.from_user.id == 123456
    assert (sent.message_id, sent.chat.id, sent.text) == (2, USER, "请稍候")
    assert sent.reply_markup == keyboard(("好", "ok"))
    assert (await api.send_text(USER, "嗯"))["message_id"] == 3

    edited = await bot.edit_message_text("完成", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, type(sent))
    assert edited.text == "完成" and edited.edit_date is not None
    # Like Telegram, an edit that does not repeat the keyboard removes it.
    assert edited.reply_markup is None
    current = api.message(USER, 2) or {}
    assert current["text"] == "完成" and "edit_date" in current and "reply_markup" not in current

    assert await bot.delete_message(USER, sent.message_id)
    assert [message["message_id"] for message in api.chat(USER)] == [1, 3]
    assert api.message(USER, 2) is None
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(USER, sent.message_id)

    first = await api.next_message(USER)
    assert first["text"] == "请稍候"  # as sent, not as edited later
    with pytest.raises(TimeoutError):
        await api.next_message(USER, timeout=0.05)
    assert [call.method for call in api.calls(chat_id=USER)] == [
        "sendMessage",
        "editMessageText",
        "deleteMessage",
        "editMessageText",
        "deleteMessage",
    ]


async def test_telegram_errors_surface_as_ptb_exceptions(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(USER, "  ")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(USER, "a" * 4097)
    await bot.send_message(USER, "a" * 4096)
    # Telegram counts UTF-16 code units: an emoji outside the BMP is two.
    await bot.send_message(USER, "😀" * 2048)
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(USER, "😀" * 2049)
    with pytest.raises(BadRequest, match=r"(?i)^button_data_invalid$"):
        await bot.send_message(USER, "x", reply_markup=keyboard(("a", "数" * 22)))
    await bot.send_message(USER, "x", reply_markup=keyboard(("a", "d" * 64)))
    with pytest.raises(BadRequest, match=r"^Message can't be edited$"):
        await bot.edit_message_text("x", chat_id=USER, message_id=1)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(424242, "hi")
    with pytest.raises(BadRequest, match=r'(?i)^can\'t parse entities: unsupported start tag "foo" at byte offset 7$'):
        await bot.send_message(USER, "密码 <foo>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(USER, "x", reply_parameters=ReplyParameters(999))

    api.block(USER)
    assert api.is_blocked(USER)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(USER, "hi")
    api.unblock(USER)
    await bot.send_message(USER, "hi")

    descriptions = [call.description for call in api.calls("sendMessage") if not call.ok]
    assert "Bad Request: BUTTON_DATA_INVALID" in descriptions
    assert "Bad Request: message text is empty" in descriptions


async def test_injected_failures_and_dropped_connections(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    api.fail_next("sendMessage", status=500)
    api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(NetworkError, match="Internal Server Error"):
        await bot.send_message(USER, "one")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "two")
    assert flood.value.retry_after == timedelta(seconds=7)
    assert api.count_429 == 1
    assert api.chat(USER)[-1]["text"] == "/start"

    api.drop_next("sendMessage")
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "lost before")
    assert api.chat(USER)[-1]["text"] == "/start"

    api.drop_next("sendMessage", processed=True)
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "delivered, answer lost")
    delivered = api.chat(USER)[-1]
    assert delivered["text"] == "delivered, answer lost"
    assert api.calls("sendMessage")[-1].status is None
    # The side-effect-free probe a restarted bot uses to learn the message arrived.
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(USER, delivered["message_id"])

    sent = await bot.send_message(USER, "fine again")
    assert sent.text == "fine again"
    with pytest.raises(ValueError, match="unknown Bot API method"):
        api.fail_next("sendTelepathy")


async def test_not_modified_probe(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    plain = await bot.send_message(USER, "no buttons")
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message content"):
        await bot.edit_message_reply_markup(USER, plain.message_id)
    with_buttons = await bot.send_message(USER, "buttons", reply_markup=keyboard(("是", "yes")))
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_reply_markup(USER, with_buttons.message_id, reply_markup=keyboard(("是", "yes")))
    with pytest.raises(BadRequest, match=r"^Message is not modified"):
        await bot.edit_message_text(
            "buttons", chat_id=USER, message_id=with_buttons.message_id, reply_markup=keyboard(("是", "yes"))
        )
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_reply_markup(USER, 99)
    changed = await bot.edit_message_reply_markup(USER, with_buttons.message_id, reply_markup=keyboard(("否", "no")))
    assert isinstance(changed, type(plain))
    assert api.buttons(api.message(USER, with_buttons.message_id) or {}) == [("否", "no")]
    assert changed.edit_date is None
    await bot.edit_message_reply_markup(USER, with_buttons.message_id)
    assert api.buttons(api.message(USER, with_buttons.message_id) or {}) == []


# -- rate limits -------------------------------------------------------------------------------------------


async def test_global_and_per_chat_rates_produce_429(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    await api.send_text(OTHER, "/start")
    api.global_rate = RateLimit(per_second=1, burst=3)
    for text in ("1", "2", "3"):
        await bot.send_message(USER, text)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(OTHER, "4")
    assert flood.value.retry_after == timedelta(seconds=1)
    # Only sending methods count.
    assert await bot.send_chat_action(USER, "typing")
    last = api.calls("sendMessage")[-1]
    assert (last.status, last.description, last.retry_after) == (429, "Too Many Requests: retry after 1", 1)

    api.global_rate = None
    api.per_chat_rate = RateLimit(per_second=0.5, burst=2)
    await bot.send_message(USER, "a")
    await bot.send_message(USER, "b")
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "c")
    assert flood.value.retry_after == timedelta(seconds=2)
    await bot.send_message(OTHER, "still fine")
    assert api.count_429 == 2


async def test_no_429_when_the_rate_is_respected(api: FakeBotApi) -> None:
    await api.send_text(USER, "/start")
    # 10 per second in bursts of at most 2, against a server that takes 25 per second and bursts of 10: the slack
    # absorbs requests that bunch up in transit when the shared event loop stalls on a busy machine.
    api.global_rate = RateLimit(per_second=25, burst=10)
    limiter = AIORateLimiter(overall_max_rate=2, overall_time_period=0.2)
    async with ExtBot(TOKEN, base_url=api.base_url, rate_limiter=limiter) as limited:
        sent = await asyncio.gather(*(limited.send_message(USER, str(number)) for number in range(20)))
    assert len({message.message_id for message in sent}) == 20
    assert api.count_429 == 0

    async with ExtBot(TOKEN, base_url=api.base_url) as unlimited:
        # Larger than the server's burst plus what it refills while a loaded machine sends them.
        burst = (unlimited.send_message(USER, str(number)) for number in range(100))
        await asyncio.gather(*burst, return_exceptions=True)
    assert api.count_429 > 0, "a burst without a limiter is refused"


async def test_a_sliding_window_refuses_what_a_bucket_would_let_through(api: FakeBotApi) -> None:
    await api.send_text(USER, "/start")
    api.global_rate = RateLimit(per_second=2, burst=10, sliding=True)  # 10 in any five seconds
    async with ExtBot(TOKEN, base_url=api.base_url) as bot:
        for number in range(10):
            await bot.send_message(USER, str(number))
        assert api.count_429 == 0
        await asyncio.gather(bot.send_message(USER, "one more"), return_exceptions=True)
    assert api.count_429 == 1  # a bucket would have refilled some while the ten were sent


# -- getUpdates --------------------------------------------------------------------------------------------


async def test_get_updates_offsets_confirm_and_drop(api: FakeBotApi, bot: Bot) -> None:
    for text in ("一", "二", "三"):
        await api.send_text(USER, text)
    updates = await bot.get_updates()
    assert [update.message.text for update in updates if update.message] == ["一", "二", "三"]
    ids = [update.update_id for update in updates]
    assert ids == sorted(ids) and api.pending_updates_count == 3

    again = await bot.get_updates(offset=ids[1])
    assert [update.update_id for update in again] == ids[1:]
    assert (api.pending_updates_count, api.confirmed_update_id) == (2, ids[0])
    assert [update.update_id for update in await bot.get_updates(limit=1)] == [ids[1]]

    assert await bot.get_updates(offset=ids[2] + 1) == ()
    assert (api.pending_updates_count, api.confirmed_update_id) == (0, ids[2])


async def test_long_poll_returns_as_soon_as_an_update_arrives(api: FakeBotApi, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for(lambda server: server.is_polling)
    started = time.monotonic()
    await api.send_text(USER, "到了")
    updates = await poll
    assert time.monotonic() - started < 2
    assert [update.message.text for update in updates if update.message] == ["到了"]
    assert not api.is_polling


async def test_long_poll_times_out_and_a_second_poll_terminates_the_first(
    api: FakeBotApi, bot: Bot, http: aiohttp.ClientSession
) -> None:
    started = time.monotonic()
    async with http.post(f"{api.base_url}{TOKEN}/getUpdates", json={"timeout": 0.2}) as response:
        assert await response.json() == {"ok": True, "result": []}
    assert 0.15 < time.monotonic() - started < 2

    first = asyncio.create_task(bot.get_updates(timeout=10))
    await api.wait_for(lambda server: server.is_polling)
    # A second bot instance polling.
    async with http.post(f"{api.base_url}{TOKEN}/getUpdates") as response:
        assert await response.json() == {"ok": True, "result": []}
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await first


# -- inline buttons ----------------------------------------------------------------------------------------


async def test_pressing_a_button_produces_a_callback_query(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("同意", callback_data="approve"),
                InlineKeyboardButton("拒绝", callback_data="reject"),
            ],
            [InlineKeyboardButton("规定", url="https://example.org/rules")],
        ]
    )
    sent = await bot.send_message(USER, "是否同意？", reply_markup=markup)
    message = await api.next_message(USER)
    assert api.buttons(message) == [
        ("同意", "approve"),
        ("拒绝", "reject"),
        ("规定", "https://example.org/rules"),
    ]

    query_id = await api.press(USER, sent.message_id, "approve")
    by_text = await api.press(USER, sent.message_id, text="拒绝")
    with pytest.raises(LookupError, match="no such button"):
        await api.press(USER, sent.message_id, "maybe")
    with pytest.raises(LookupError):
        await api.press(USER, 1, "approve")

    updates = await bot.get_updates(offset=-2)
    queries = [update.callback_query for update in updates if update.callback_query]
    assert [(query.id, query.data) for query in queries] == [(query_id, "approve"), (by_text, "reject")]
    assert queries[0].from_user.id == USER and queries[0].message is not None
    assert queries[0].message.message_id == sent.message_id
    assert queries[0].chat_instance == queries[1].chat_instance

    assert await bot.answer_callback_query(query_id, text="已记录", show_alert=True)
    assert api.callback_answer(query_id) == {
        "callback_query_id": query_id,
        "text": "已记录",
        "show_alert": True,
    }
    assert api.callback_answer(by_text) is None
    with pytest.raises(BadRequest, match=r"^Query is too old and response timeout expired"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query("nonsense")


# -- media both ways ---------------------------------------------------------------------------------------


async def test_user_media_and_membership_updates_parse_in_ptb(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start", first_name="李", last_name="雷", username="lilei")
    photo = await api.send_photo(USER, caption="截图")
    await api.send_document(USER, file_name="保密承诺书.pdf", data=b"%PDF-1.7 signed")
    await api.send_voice(USER)
    await api.send_video(USER)
    await api.send_sticker(USER)
    await api.send_location(USER)
    await api.send_contact(USER, phone_number="+8613912345678")
    await api.send_forwarded(USER, "内部通知")
    await api.send_forwarded(USER, "会议纪要", origin_name="王五", origin_user_id=3003)
    await api.send_text(USER, "/report@baomi_test_bot 这张", reply_to=photo["message_id"])
    api.block(USER)
    await api.send_text(USER, "我回来了")

    updates = await bot.get_updates()
    assert all(isinstance(update, Update) for update in updates)
    messages = [update.message for update in updates if update.message]
    assert messages[0].from_user is not None and messages[0].from_user.username == "lilei"
    assert messages[0].chat.last_name == "雷"
    assert messages[1].photo[-1].file_id == photo["photo"][0]["file_id"] and messages[1].caption == "截图"
    assert messages[2].document is not None and messages[2].document.file_name == "保密承诺书.pdf"
    assert messages[2].document.mime_type == "application/pdf"
    assert messages[3].voice is not None and messages[4].video is not None and messages[5].sticker is not None
    assert messages[6].location is not None and messages[6].location.latitude == pytest.approx(39.9042)
    assert messages[7].contact is not None and messages[7].contact.user_id == USER
    assert messages[8].forward_origin is not None and messages[8].forward_origin.type == "hidden_user"
    assert messages[9].forward_origin is not None and messages[9].forward_origin.type == "user"
    assert messages[10].reply_to_message is not None and messages[10].reply_to_message.photo
    assert messages[10].entities[0].length == len("/report@baomi_test_bot")

    memberships = [update.my_chat_member for update in updates if update.my_chat_member]
    assert [(member.old_chat_member.status, member.new_chat_member.status) for member in memberships] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]
    assert not api.is_blocked(USER)

    # Update.de_json straight from what the server queued, as PTB's polling would see it.
    raw = api.calls("getUpdates")[-1].result
    parsed = Update.de_json(raw[2], bot).message
    assert parsed is not None and parsed.document is not None
    assert parsed.document.file_size == len(b"%PDF-1.7 signed")
    downloaded = await (await bot.get_file(messages[2].document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"%PDF-1.7 signed"

    seen: set[str] = set()
    assert served_object_errors(api, seen) == []
    assert {
        "Update",
        "Message",
        "User",
        "Chat",
        "MessageEntity",
        "PhotoSize",
        "Document",
        "Voice",
        "Video",
        "Sticker",
        "Location",
        "Contact",
        "MessageOriginHiddenUser",
        "MessageOriginUser",
        "ChatMemberUpdated",
        "ChatMemberMember",
        "ChatMemberBanned",
        "File",
    } <= seen


async def test_bot_uploads_multipart_files(api: FakeBotApi, bot: Bot) -> None:
    await api.send_text(USER, "/start")
    sent = await bot.send_document(
        USER,
        document=b"%PDF-1.4 secret",
        filename="通知.pdf",
        caption="<b>秘密</b>★一年",
        parse_mode="HTML",
        protect_content=True,
    )
    upload = api.calls("sendDocument")[-1].params["document"]
    assert (upload.file_name, upload.data) == ("通知.pdf", b"%PDF-1.4 secret")
    assert sent.document is not None and sent.document.file_name == "通知.pdf"
    assert sent.caption == "秘密★一年" and sent.caption_entities[0].type == "bold"
    assert sent.has_protected_content
    assert api.protected_message_ids(USER) == {sent.message_id}
    assert api.file(sent.document.file_id).data == b"%PDF-1.4 secret"

    again = await bot.send_document(USER, document=sent.document.file_id)
    assert again.document is not None and again.document.file_id == sent.document.file_id
    with pytest.raises(BadRequest, match=r"(?i)^wrong file identifier/http url specified$"):
        await bot.send_document(USER, document="no-such-file-id")

    picture = await bot.send_photo(USER, photo=b"\x89PNG\r\n\x1a\n", caption="图")
    assert api.calls("sendPhoto")[-1].params["photo"].data == b"\x89PNG\r\n\x1a\n"
    downloaded = await (await bot.get_file(picture.photo[-1].file_id)).download_as_bytearray()
    assert bytes(downloaded) == b"\x89PNG\r\n\x1a\n"
    assert [message.get("document", message.get("photo")) is not None for message in api.chat(USER)] == [
        False,
        True,
        True,
        True,
    ]


# -- the rest of the bot's surface -------------------------------------------------------------------------


async def test_commands_webhook_and_chat_actions(api: FakeBotApi, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "开始"), BotCommand("help", "帮助")])
    await bot.set_my_commands([BotCommand("admin", "管理")], scope=BotCommandScopeChat(USER), language_code="zh")
    assert api.commands() == [
        {"command": "start", "description": "开始"},
        {"command": "help", "description": "帮助"},
    ]
    assert api.commands({"type": "chat", "chat_id": USER}, "zh") == [{"command": "admin", "description": "管理"}]
    assert api.commands(f"chat:{USER}") == []
    assert [command.command for command in await bot.get_my_commands()] == ["start", "help"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)^bot_command_invalid$"):
        await bot.set_my_commands([BotCommand("Start", "大写")])

    await bot.set_my_description("保密工作助手")
    assert (await bot.get_my_description()).description == "保密工作助手"

    assert await bot.set_webhook("https://example.org/hook")
    assert (await bot.get_webhook_info()).url == "https://example.org/hook"
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()

    events: list[ChatEvent] = []
    remove = api.add_listener(events.append)
    await api.send_text(USER, "/start")
    assert await bot.send_chat_action(USER, "upload_document")
    assert api.chat_action(USER) == "upload_document"
    with pytest.raises(BadRequest, match=r"^Wrong parameter action in request$"):
        await bot.send_chat_action(USER, "dancing")
    sent = await bot.send_message(USER, "a", reply_markup=ReplyKeyboardMarkup([[KeyboardButton("菜单")]]))
    assert api.reply_keyboard(USER) == {"keyboard": [[{"text": "菜单"}]]}
    assert sent.reply_markup is None
    await bot.edit_message_text("b", chat_id=USER, message_id=sent.message_id)
    await bot.delete_message(USER, 1)
    await bot.send_message(USER, "c", reply_markup=ReplyKeyboardRemove())
    assert api.reply_keyboard(USER) is None
    remove()
    await bot.send_message(USER, "unheard")
    assert [(event.kind, event.chat_id) for event in events] == [
        ("action", USER),
        ("sent", USER),
        ("edited", USER),
        ("deleted", USER),
        ("sent", USER),
    ]
    assert events[2].data["text"] == "b" and events[3].data["text"] == "/start"


def test_html_parse_mode_follows_telegram() -> None:
    text, entities = parse_html(
        '<b>粗<i>斜</i></b> 😀<a href="https://x.org/?a=1&amp;b=2">链</a> &lt;&#x27;&unknown;'
        '<pre><code class="language-python">x</code></pre><blockquote expandable>q</blockquote>'
    )
    assert text == "粗斜 😀链 <'&unknown;xq"
    assert entities == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "italic", "offset": 1, "length": 1},
        {"type": "text_link", "offset": 5, "length": 1, "url": "https://x.org/?a=1&b=2"},
        {"type": "pre", "offset": 18, "length": 1, "language": "python"},
        {"type": "expandable_blockquote", "offset": 19, "length": 1},
    ]
    errors = {
        "<b>x": 'Can\'t find end tag corresponding to start tag "b"',
        "<b>x</i>": 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"',
        "a < b": 'Unsupported start tag "" at byte offset 2',
        "x</b>": "Unexpected end tag at byte offset 1",
        '<span class="x">y</span>': 'Tag "span" must have class "tg-spoiler" at byte offset 0',
    }
    for source, problem in errors.items():
        with pytest.raises(Exception, match=re.escape(problem)) as failure:
            parse_html(source)
        assert getattr(failure.value, "status", None) == 400


async def test_application_end_to_end(api: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_user is not None
        name = update.effective_user.first_name
        await update.effective_message.reply_text(f"你好，{name}", reply_markup=keyboard(("确认", "ok")))

    async def confirm(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("已确认")
        await query.edit_message_text("已确认 ✔")

    application: Application[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder().token(TOKEN).base_url(api.base_url).base_file_url(api.base_file_url).build()
    )
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CallbackQueryHandler(confirm))
    async with application:
        assert application.updater is not None
        await application.start()
        await application.updater.start_polling(poll_interval=0)
        try:
            await api.send_text(USER, "/start", first_name="张三")
            greeting = await api.next_message(USER)
            assert greeting["text"] == "你好，张三"
            query_id = await api.press(USER, greeting["message_id"], "ok")
            await api.wait_for(lambda server: "edit_date" in (server.message(USER, greeting["message_id"]) or {}))
        finally:
            await application.updater.stop()
            await application.stop()
    assert (api.callback_answer(query_id) or {})["text"] == "已确认"
    assert [message["text"] for message in api.chat(USER)] == ["/start", "已确认 ✔"]
    assert api.buttons(api.chat(USER)[1]) == []


# -- standalone use ----------------------------------------------------------------------------------------


async def test_control_api_drives_the_users_side(api: FakeBotApi, bot: Bot, http: aiohttp.ClientSession) -> None:
    control = f"http://127.0.0.1:{api.port}/_control"
    batch = [{"user_id": USER, "text": "/start"}, {"user_id": OTHER, "text": "你好"}]
    async with http.post(f"{control}/send_text", json=batch) as response:
        assert [message["chat"]["id"] for message in await response.json()] == [USER, OTHER]
    assert len(await bot.get_updates()) == 2
    await bot.send_message(OTHER, "回复")
    async with http.post(f"{control}/next_message", json={"chat_id": OTHER, "timeout": 1}) as response:
        assert (await response.json())["text"] == "回复"
    async with http.post(f"{control}/stats") as response:
        stats = await response.json()
    assert stats["bot_messages_sent"] == 1 and stats["calls"]["sendMessage"] == 1
    async with http.post(f"{control}/press", json={"user_id": USER, "message_id": 1, "callback_data": "x"}) as response:
        assert response.status == 400 and "LookupError" in (await response.json())["error"]
    async with http.post(f"{control}/set_rates", json={"global_rate": [1, 1]}) as response:
        assert response.status == 200
    assert api.global_rate == RateLimit(1, 1)


@pytest.fixture
def no_stray_process() -> Iterator[list[asyncio.subprocess.Process]]:
    processes: list[asyncio.subprocess.Process] = []
    yield processes
    for process in processes:
        if process.returncode is None:
            process.kill()


async def test_runs_standalone_until_terminated(no_stray_process: list[asyncio.subprocess.Process]) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.testing.fake_bot_api",
        "--port",
        "0",
        "--token",
        TOKEN,
        stdout=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )
    no_stray_process.append(process)
    assert process.stdout is not None
    base_url = (await asyncio.wait_for(process.stdout.readline(), 10)).decode().strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/bot", base_url)
    async with Bot(TOKEN, base_url=base_url) as remote:
        assert (await remote.get_me()).username == "baomi_test_bot"
    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 10) == 0
