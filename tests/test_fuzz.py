"""Nothing a person can send puts a traceback or an ERROR in the log: random texts (every script, control and
invisible characters, markings, very long ones), commands with random arguments, presses of real buttons in any
order, presses with forged payloads, pictures, files, stickers, forwards and locations — from people bound and from
strangers, in and out of conversations. Every event is answered or dropped, none fails, and nothing is refused by
the channel as too long.

Seeded, so a failure can be replayed: the seed is in the test's name."""

from __future__ import annotations

import logging
import random
import string

import pytest
from sqlalchemy import select

from bot.app import BaomiApp
from bot.channels.telegram.channel import TelegramChannel
from bot.core.events import AttachmentKind
from bot.db.models import InboxEvent, OutboxMessage
from bot.testing.fake_bot_api import FakeBotApi
from tests.fakes.harness import bind, settle
from tests.fakes.local import LocalBot

ALPHABETS = [
    string.printable,
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严",
    "αβγδεζηθικλμνξοπρστυφχψωАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ",
    "🙂😀🔥👍🏽👨‍👩‍👧‍👦🇨🇳✅❌★☆✦✩⭐",
    "\u200b\u200c\u200d\u2060\ufeff\u202e\u202d\u3164\u2800\ufe0f\u0301\u0000\u0007\u001b\u007f\u0085",
    "〔〕【】（）《》“”‘’—…·、，。；：？！／＼",
    "0123456789０１２３４５６７８９一二三四五六七八九十",
]
MARKED = ["机密★10年", "秘密★", "教发〔2026〕3号", "【秘密】通知", "绝密★启用前", "内部资料", "密级：机密"]
KINDS = ["photo", "document", "voice", "video", "sticker", "location", "contact", "forward"]


def random_text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.1:
        return rng.choice(MARKED) + "".join(rng.choices(ALPHABETS[1], k=rng.randint(0, 10)))
    if roll < 0.15:
        return "".join(rng.choices(ALPHABETS[1] + "\n", k=rng.randint(3000, 6000)))  # very long
    if roll < 0.2:
        return rng.choice(["", " ", "\n", "/", "／", "//", "/ ", "0", "1", "99", "A", "a", "-1", "1e9"])
    alphabet = "".join(rng.sample(ALPHABETS, k=rng.randint(1, 3)))
    return "".join(rng.choices(alphabet, k=rng.randint(1, 60)))


def random_command(rng: random.Random, commands: list[str]) -> str:
    name = rng.choice([*commands, "start", "nosuch", "REPORT", "报告", "答题", "承诺", "帮助"])
    slash = rng.choice(["/", "/", "／", ""])
    args = "" if rng.random() < 0.5 else " " + random_text(rng)[:100]
    return f"{slash}{name}{args}"


def forged(rng: random.Random, real: list[str]) -> str:
    """A press payload a client could send: a real one changed, or anything at all."""
    if real and rng.random() < 0.6:
        data = rng.choice(real)
        parts = data.split(":")
        index = rng.randrange(len(parts))
        parts[index] = rng.choice(["", "x", "-1", "99999999999999999999", "🙂", "a:b", parts[index] * 3])
        return ":".join(parts)[:64]
    return "".join(rng.choices(string.printable + "密🙂:", k=rng.randint(0, 64)))


def assert_quiet(caplog: pytest.LogCaptureFixture) -> None:
    loud = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert loud == []
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize("seed", [2026])
async def test_random_input_on_the_local_channel_never_logs_an_error(
    bot: LocalBot, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(seed)
    chats = [await bot.bind(e) for e in ("E001", "E101", "E102", "E201", "E202")] + [bot.chat(), bot.chat()]
    commands = list(bot.app.registry.by_command)
    for _ in range(150):
        chat = rng.choice(chats)
        roll = rng.random()
        if roll < 0.3:
            await chat.bot.channel.type(chat.user, random_text(rng))
        elif roll < 0.5:
            await chat.bot.channel.type(chat.user, random_command(rng, commands))
        elif roll < 0.75:
            shown = [m for m in chat.bot_messages if m.buttons]
            if shown:
                message = rng.choice(shown[-3:])
                data = rng.choice([d for row in message.buttons for _, d in row])
                await chat.bot.channel.press(chat.user, message.message_id, data)
        elif roll < 0.9:
            shown = chat.bot_messages
            real = [d for m in shown for row in m.buttons for _, d in row]
            message_id = rng.choice([m.message_id for m in shown] + [999999]) if shown else 1
            await chat.bot.channel.press(chat.user, message_id, forged(rng, real))
        else:
            await chat.bot.channel.attach(chat.user, rng.choice(list(AttachmentKind)))
        if rng.random() < 0.5:
            await bot.settle()
        if rng.random() < 0.03:
            bot.clock.advance(minutes=rng.randint(1, 90))
            await bot.sweep()
    await bot.settle()
    async with bot.app.db.sessions() as s:
        assert (await s.scalars(select(InboxEvent.status).where(InboxEvent.status != "done"))).all() == []
        assert (await s.scalars(select(OutboxMessage.error).where(OutboxMessage.status == "failed"))).all() == []
        sent = len((await s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "sent"))).all())
    assert sent > 120  # the bot was kept busy: every event answered one way or another
    assert_quiet(caplog)


async def test_random_input_through_telegram_never_logs_an_error(
    api: FakeBotApi, app: BaomiApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(7)
    chats = [await bind(api, app, e, 600 + i) for i, e in enumerate(("E001", "E102", "E201"))]
    users = [c.user_id for c in chats] + [699]  # and a stranger
    channel = app.channels["telegram"]
    assert isinstance(channel, TelegramChannel)
    commands = list(app.registry.by_command)
    update_id = 10_000_000
    for _ in range(60):
        user = rng.choice(users)
        roll = rng.random()
        if roll < 0.35:
            await api.send_text(user, random_text(rng).replace("\x00", ""))
        elif roll < 0.55:
            await api.send_text(user, random_command(rng, commands))
        elif roll < 0.7:
            shown = [m for m in api.chat(user) if m.get("from", {}).get("is_bot") and api.buttons(m)]
            if shown:
                message = rng.choice(shown[-3:])
                await api.press(user, message["message_id"], rng.choice(api.buttons(message))[1])
        elif roll < 0.85:
            shown = [m for m in api.chat(user) if m.get("from", {}).get("is_bot")]
            real = [d for m in shown for _, d in api.buttons(m)]
            update_id += 1
            message = shown[-1] if shown else {"message_id": 1, "chat": {"id": user, "type": "private"}, "date": 1}
            query = {
                "id": str(update_id),
                "from": {"id": user, "is_bot": False, "first_name": "测"},
                "chat_instance": "1",
                "data": forged(rng, real),
                "message": {k: message[k] for k in ("message_id", "chat", "date") if k in message},
            }
            await channel.store([{"update_id": update_id, "callback_query": query}])
        else:
            kind = rng.choice(KINDS)
            if kind == "photo":
                await api.send_photo(user, caption=random_text(rng)[:200])
            elif kind == "document":
                await api.send_document(user, file_name=random_text(rng)[:40] or "x")
            elif kind == "forward":
                await api.send_forwarded(user, random_text(rng)[:200] or "x")
            elif kind == "voice":
                await api.send_voice(user)
            elif kind == "video":
                await api.send_video(user)
            elif kind == "sticker":
                await api.send_sticker(user)
            elif kind == "location":
                await api.send_location(user)
            else:
                await api.send_contact(user)
        if rng.random() < 0.4:
            await settle(api, app)
    await settle(api, app)
    async with app.db.sessions() as s:
        assert (await s.scalars(select(InboxEvent.status).where(InboxEvent.status != "done"))).all() == []
        assert (await s.scalars(select(OutboxMessage.error).where(OutboxMessage.status == "failed"))).all() == []
    assert_quiet(caplog)
