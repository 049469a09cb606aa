"""A fake WeCom (企业微信) server API for tests, WeCom's side of the callbacks, and a chat driver.

The bot's real `WeComClient` talks to the fake over loopback HTTP (or HTTPS, with `ssl=`), and the fake posts
callbacks to the bot's real HTTP server, encrypted and signed as WeCom does: everything between the wire and the
flows is exercised. It answers like WeCom (``{"errcode": 0, "errmsg": "ok", ...}``, HTTP 200 even for errors) and
keeps WeCom's rules, on the injected clock:

- ``gettoken`` hands out tokens that expire after ``token_lifetime`` seconds (40014 unknown, 42001 expired);
- ``message/send`` takes text (at most 2,048 bytes), template cards of type ``button_interaction`` (at most 6
  buttons, keys unique and at most 1,024 bytes; a task id used before by this application, empty or over 128
  bytes is refused with 42014) and files; with ``enable_duplicate_check`` an identical request within the interval
  is answered but not delivered again; a member who had 30 messages in the last minute or 1,000 in the last hour
  gets nothing more — silently, as WeCom does (``fake.dropped`` counts them, so a test can insist on none);
- the application may send ``account_limit`` × 200 person-messages a day: past that, every message/send is
  refused with 45009 until midnight Beijing time; ``block("minute" | "hour" | "day")`` blocks it as WeCom's
  frequency limits do (60 seconds, 60 minutes, the rest of the natural day);
- members on the WeChat plugin (微工作台) or a client older than 3.1.6 (``fake.card_blind``) are sent cards but
  see none of them; members without an API licence (``fake.unlicensed``) get nothing, and the answer lists them
  in ``unlicenseduser``;
- with ``trusted_ips`` set, a call from any other address is refused with 60020, its errmsg naming the address;
- ``message/update_template_card`` spends a response code (from the send, or from a click) once, and greys
  the card's buttons with the replacement text;
- ``media/upload`` stores a file (or an image: PNG or JPG, at most 10 MB) and returns its media id; ``message/send``
  of type ``file`` or ``image`` takes a media id of that type.

Test API::

    fake = FakeWeCom(clock)                       # or with corp_id=, agent_id=, secret=, token=, aes_key=, ssl=
    await fake.start() / await fake.stop()        # or: async with FakeWeCom(clock) as fake
    fake.settings()                               # WeComSettings pointing the bot at this fake
    fake.connect(callback_url)                    # where WeCom's side posts callbacks

    # WeCom's side: each posts one encrypted callback and returns the HTTP status the bot answered
    await fake.send_text("zhangsan", "/profile")
    await fake.send_media("zhangsan", "image")    # voice, video, file, location, link
    await fake.click("zhangsan", "按钮文字")        # the latest live card with that button; or card=message
    await fake.send_event("zhangsan", "enter_agent")   # subscribe, unsubscribe, …
    await fake.change_contact("update_user", "zhangsan", new_user="zhangsan2")  # or "delete_user", status="5"
    await fake.repost()                           # the last callback once more, byte for byte (a retry)
    await fake.post(body, query)                  # anything, for tampering tests
    await fake.verify_url()                       # WeCom's GET check: (status, body)
    fake.split_posts = True                       # every callback's request in two TCP segments

    # failure injection
    fake.fail_next("message/send", errcode=45009) # stackable, per API path without /cgi-bin/
    fake.block("hour")                            # 45009 for every message/send for that long
    fake.expire_tokens()

    # observing
    fake.messages("zhangsan") -> list[Message]    # delivered and shown, in order; cards carry title, buttons, task_id
    fake.calls(path=None) -> list[Call]           # every API call: path, body, errcode, at
    fake.dropped, fake.duplicates, fake.unseen    # per member: dropped by the limits, collapsed, cards not shown
    await fake.wait_for(lambda fake: ..., timeout=5.0)
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import ssl as tls
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web

from bot.app import BaomiApp, build_app
from bot.channels.wecom.channel import CALLBACK_PATH
from bot.channels.wecom.crypto import WeComCrypto
from bot.clock import Clock
from bot.config import Settings, WeComSettings
from bot.server import Server
from bot.texts import Texts

JsonDict = dict[str, Any]

TEXT_BYTES = 2048
CARD_BUTTONS = 6
KEY_BYTES = 1024
TASK_ID_CHARS = re.compile(r"[A-Za-z0-9_\-@]*")
TASK_ID_BYTES = 128
PER_MINUTE, PER_HOUR = 30, 1000
PER_ACCOUNT_A_DAY = 200
BLOCKS = {"minute": timedelta(seconds=60), "hour": timedelta(minutes=60)}  # and "day": the rest of the day
BEIJING = ZoneInfo("Asia/Shanghai")
RESPONSE_CODE_LIFETIME = timedelta(hours=72)
# WeCom's error codes, as the real API answers them.
INVALID_CORP_ID, INVALID_SECRET, INVALID_TOKEN, TOKEN_EXPIRED = 40013, 40001, 40014, 42001
MISSING_TOKEN, INVALID_AGENT, INVALID_PARAMETER, CONTENT_TOO_LONG = 41001, 40056, 40058, 45002
INVALID_MENU = 40054  # 不合法的子菜单url域名 and the like: a menu WeCom does not take
INVALID_MEDIA, NO_SUCH_USER, TASK_ID_TAKEN, FREQUENCY, UNTRUSTED_IP = 40007, 81013, 42014, 45009, 60020
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"
IMAGE_BYTES = 10 * 1024 * 1024


@dataclass
class Message:
    """A message as the member sees it. For a card, `text` is its title."""

    msgid: str
    touser: str
    msgtype: str
    at: datetime
    text: str = ""
    safe: int = 0
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, key)
    task_id: str = ""
    disabled: str | None = None  # the greyed button's text once the card was updated
    filename: str = ""
    data: bytes = b""

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons]


@dataclass(frozen=True)
class Call:
    path: str
    body: JsonDict
    errcode: int
    at: datetime


class FakeWeCom:
    """The fake server plus WeCom's side of the callbacks. See the module docstring."""

    def __init__(
        self,
        clock: Clock,
        *,
        corp_id: str = "ww0123456789abcdef",
        agent_id: int = 1000002,
        secret: str = "fake-secret",
        token: str = "fakeToken",
        aes_key: str | None = None,
        token_lifetime: int = 7200,
        account_limit: int = 10_000,
        ssl: tls.SSLContext | None = None,
    ) -> None:
        self.clock = clock
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.secret = secret
        self.token = token
        self.aes_key = aes_key or base64.b64encode(secrets.token_bytes(32)).decode()[:43]
        self.token_lifetime = token_lifetime
        self.crypto = WeComCrypto(token, self.aes_key, corp_id)
        self.account_limit = account_limit  # 账号上限数: the application sends at most × 200 a day
        self.ssl = ssl
        self.unknown_users: set[str] = set()  # message/send to these answers 81013
        self.card_blind: set[str] = set()  # on the WeChat plugin or an old client: cards are not shown
        self.unlicensed: set[str] = set()  # no API licence: answered ok, listed in unlicenseduser, not delivered
        self.trusted_ips: set[str] | None = None  # when set, calls from elsewhere answer 60020
        self.split_posts = False  # post each callback's request in two TCP segments
        self.dropped: Counter[str] = Counter()
        self.duplicates: Counter[str] = Counter()
        self.unseen: Counter[str] = Counter()  # cards sent to card-blind members
        self.blocked_until: datetime | None = None
        self.menu: list[JsonDict] | None = None  # the application's custom menu, once set
        self._day: tuple[date | None, int] = (None, 0)  # (Beijing date, person-messages sent that day)
        self._tokens: dict[str, datetime] = {}
        self._messages: dict[str, list[Message]] = {}
        self._delivered_at: dict[str, list[datetime]] = {}
        self._recent: dict[str, tuple[datetime, str]] = {}  # duplicate check: request -> (when, msgid)
        self._task_ids: set[str] = set()
        self._response_codes: dict[str, tuple[Message, datetime]] = {}
        self._media: dict[str, tuple[str, bytes, str]] = {}  # media id -> (filename, data, type)
        self._faults: dict[str, list[int]] = {}
        self._calls: list[Call] = []
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._callback_url = ""
        self._last_post: tuple[bytes, dict[str, str]] | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/cgi-bin/gettoken", self._gettoken)
        app.router.add_post("/cgi-bin/{path:.+}", self._api)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self.ssl).start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        self._session = aiohttp.ClientSession()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWeCom:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_url(self) -> str:
        return f"{'https' if self.ssl else 'http'}://127.0.0.1:{self.port}"

    def settings(self) -> WeComSettings:
        return WeComSettings(self.corp_id, self.agent_id, self.secret, self.token, self.aes_key, self.api_url)

    def connect(self, callback_url: str) -> None:
        self._callback_url = callback_url

    # --- failure injection ----------------------------------------------------------------------------------
    def fail_next(self, path: str, errcode: int) -> None:
        """Answer the next call of `path` (e.g. "message/send") with this errcode instead of handling it."""
        self._faults.setdefault(path, []).append(errcode)

    def expire_tokens(self) -> None:
        now = self.clock.now()
        self._tokens = dict.fromkeys(self._tokens, now)

    def block(self, kind: str) -> None:
        """Block message/send as WeCom's frequency limits do: "minute" (60 seconds), "hour" (60 minutes) or "day"
        (until midnight, Beijing time)."""
        now = self.clock.now()
        self.blocked_until = _midnight_after(now) if kind == "day" else now + BLOCKS[kind]

    # --- the API --------------------------------------------------------------------------------------------
    def _untrusted(self, request: web.Request) -> JsonDict | None:
        remote = request.remote or ""
        if self.trusted_ips is None or remote in self.trusted_ips:
            return None
        errmsg = (
            f"not allow to access from your ip, hint: [{secrets.token_hex(8)}], from ip: {remote}, "
            "more info at https://open.work.weixin.qq.com/devtool/query?e=60020"
        )
        return {"errcode": UNTRUSTED_IP, "errmsg": errmsg}

    async def _gettoken(self, request: web.Request) -> web.Response:
        query = request.query
        if refused := self._untrusted(request):
            return self._answer("gettoken", {}, refused)
        if query.get("corpid") != self.corp_id:
            return self._answer("gettoken", dict(query), {"errcode": INVALID_CORP_ID, "errmsg": "invalid corpid"})
        if query.get("corpsecret") != self.secret:
            return self._answer("gettoken", dict(query), {"errcode": INVALID_SECRET, "errmsg": "invalid credential"})
        token = secrets.token_urlsafe(24)
        self._tokens[token] = self.clock.now() + timedelta(seconds=self.token_lifetime)
        answer = {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_lifetime}
        return self._answer("gettoken", {}, answer)

    async def _api(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        handlers: dict[str, Callable[[JsonDict], JsonDict]] = {
            "message/send": self._send,
            "message/update_template_card": self._update_card,
            "menu/create": self._create_menu,
        }
        body: JsonDict
        if path == "media/upload":
            form = await request.post()
            media = form.get("media")
            body = {"type": request.query.get("type", "")}
            if isinstance(media, web.FileField):
                body.update(filename=media.filename, data=media.file.read())
        else:
            body = await request.json()
            if path == "menu/create":  # the application is named in the query, not the body
                body = {**body, "agentid": request.query.get("agentid", "")}
        expires = self._tokens.get(request.query.get("access_token", ""))
        if refused := self._untrusted(request):
            answer = refused
        elif "access_token" not in request.query:
            answer = {"errcode": MISSING_TOKEN, "errmsg": "access_token missing"}
        elif expires is None:
            answer = {"errcode": INVALID_TOKEN, "errmsg": "invalid access_token"}
        elif self.clock.now() >= expires:
            answer = {"errcode": TOKEN_EXPIRED, "errmsg": "access_token expired"}
        elif self._faults.get(path):
            answer = {"errcode": self._faults[path].pop(0), "errmsg": "injected"}
        elif path == "media/upload":
            answer = self._upload(body)
        elif path in handlers:
            answer = handlers[path](body)
        else:
            return web.Response(status=404)
        return self._answer(path, body, answer)

    def _answer(self, path: str, body: JsonDict, answer: JsonDict) -> web.Response:
        self._calls.append(Call(path, body, int(answer["errcode"]), self.clock.now()))
        self._changed.set()
        return web.json_response(answer)

    def _create_menu(self, body: JsonDict) -> JsonDict:
        """menu/create: 1–3 buttons, each with at most 5 under it; titles of 16 bytes (under a button 40)."""
        if str(body.get("agentid")) != str(self.agent_id):
            return {"errcode": INVALID_AGENT, "errmsg": "invalid agentid"}
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            return {"errcode": INVALID_MENU, "errmsg": "invalid button size"}
        for button in buttons:
            subs = button.get("sub_button") or []
            if len(str(button.get("name", "")).encode()) > 16 or len(subs) > 5:
                return {"errcode": INVALID_MENU, "errmsg": "invalid button name size"}
            for sub in subs:
                if len(str(sub.get("name", "")).encode()) > 40 or sub.get("type") != "click" or not sub.get("key"):
                    return {"errcode": INVALID_MENU, "errmsg": "invalid sub button"}
            if not subs and (button.get("type") != "click" or not button.get("key")):
                return {"errcode": INVALID_MENU, "errmsg": "invalid button"}
        self.menu = buttons
        return {"errcode": 0, "errmsg": "ok"}

    def _send(self, body: JsonDict) -> JsonDict:
        if body.get("agentid") != self.agent_id:
            return {"errcode": INVALID_AGENT, "errmsg": "invalid agentid"}
        user = str(body.get("touser", ""))
        if not user or user in self.unknown_users or "|" in user:
            return {"errcode": NO_SUCH_USER, "errmsg": "all touser invalid"}
        now = self.clock.now()
        if self.blocked_until is not None and now < self.blocked_until:
            return {"errcode": FREQUENCY, "errmsg": "api freq out of limit"}
        day = now.astimezone(BEIJING).date()
        sent_today = self._day[1] if self._day[0] == day else 0
        if sent_today >= self.account_limit * PER_ACCOUNT_A_DAY:
            # The application's daily total: blocked for the rest of the natural day.
            self.blocked_until = _midnight_after(now)
            return {"errcode": FREQUENCY, "errmsg": "api freq out of limit"}
        request = json.dumps(body, sort_keys=True, ensure_ascii=False)
        if body.get("enable_duplicate_check"):
            # Before anything else: a card sent again has a task id already taken, and is still a duplicate.
            interval = timedelta(seconds=int(body.get("duplicate_check_interval", 1800)))
            seen = self._recent.get(request)
            if seen is not None and now - seen[0] < interval:
                self.duplicates[user] += 1
                return {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": seen[1]}
        message = self._message(user, body)
        if isinstance(message, int):
            errmsg = "taskid has existed or empty or exceed max len" if message == TASK_ID_TAKEN else "invalid message"
            return {"errcode": message, "errmsg": errmsg}
        self._recent[request] = (now, message.msgid)
        self._day = (day, sent_today + 1)
        answer: JsonDict = {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": message.msgid}
        if message.task_id:
            self._task_ids.add(message.task_id)
            answer["response_code"] = self._response_code(message)
        if user in self.unlicensed:
            answer["unlicenseduser"] = user.lower()  # nothing is delivered to a member without a licence
            return answer
        sent = self._delivered_at.setdefault(user, [])
        in_minute = sum(1 for t in sent if t > now - timedelta(minutes=1))
        in_hour = sum(1 for t in sent if t > now - timedelta(hours=1))
        sent.append(now)
        if in_minute >= PER_MINUTE or in_hour >= PER_HOUR:
            self.dropped[user] += 1  # WeCom answers ok and delivers nothing
        elif message.task_id and user in self.card_blind:
            self.unseen[user] += 1  # the WeChat plugin and clients before 3.1.6 show no template cards
        else:
            self._messages.setdefault(user, []).append(message)
        return answer

    def _message(self, user: str, body: JsonDict) -> Message | int:
        """The message a send would deliver, or the errcode that refuses it."""
        kind = body.get("msgtype")
        base = Message(f"msg{next(self._ids)}", user, str(kind), self.clock.now(), safe=int(body.get("safe", 0)))
        if kind == "text":
            content = str((body.get("text") or {}).get("content", ""))
            if not content:
                return INVALID_PARAMETER
            if len(content.encode()) > TEXT_BYTES:
                return CONTENT_TOO_LONG
            return replace(base, text=content)
        if kind in ("file", "image"):
            media = self._media.get(str((body.get(kind) or {}).get("media_id", "")))
            if media is None or media[2] != kind:
                return INVALID_MEDIA
            return replace(base, filename=media[0], data=media[1])
        if kind != "template_card":
            return INVALID_PARAMETER
        card = body.get("template_card") or {}
        task_id = str(card.get("task_id", ""))
        buttons = [(str(b.get("text", "")), str(b.get("key", ""))) for b in card.get("button_list") or []]
        keys = [key for _, key in buttons]
        title = str((card.get("main_title") or {}).get("title", ""))
        if not task_id or task_id in self._task_ids or len(task_id.encode()) > TASK_ID_BYTES:
            return TASK_ID_TAKEN  # "taskid has existed or empty or exceed max len", forever for this application
        if (
            card.get("card_type") != "button_interaction"
            or not TASK_ID_CHARS.fullmatch(task_id)
            or not title
            or not 1 <= len(buttons) <= CARD_BUTTONS
            or len(set(keys)) != len(keys)
            or any(not key or len(key.encode()) > KEY_BYTES for key in keys)
        ):
            return INVALID_PARAMETER
        return replace(base, text=title, buttons=buttons, task_id=task_id)

    def _response_code(self, message: Message) -> str:
        code = secrets.token_hex(16)
        self._response_codes[code] = (message, self.clock.now() + RESPONSE_CODE_LIFETIME)
        return code

    def _update_card(self, body: JsonDict) -> JsonDict:
        if body.get("agentid") != self.agent_id:
            return {"errcode": INVALID_AGENT, "errmsg": "invalid agentid"}
        found = self._response_codes.pop(str(body.get("response_code", "")), None)
        if found is None or self.clock.now() >= found[1]:
            return {"errcode": INVALID_PARAMETER, "errmsg": "invalid response_code"}
        replace_name = (body.get("button") or {}).get("replace_name")
        if not replace_name:
            return {"errcode": INVALID_PARAMETER, "errmsg": "button.replace_name missing"}
        found[0].disabled = str(replace_name)
        return {"errcode": 0, "errmsg": "ok", "invaliduser": []}

    def _upload(self, body: JsonDict) -> JsonDict:
        kind = body.get("type")
        if kind not in ("file", "image") or not body.get("filename"):
            return {"errcode": INVALID_PARAMETER, "errmsg": "invalid media"}
        data = bytes(body["data"])
        if kind == "image" and (not data.startswith((PNG, JPEG)) or len(data) > IMAGE_BYTES):
            return {"errcode": INVALID_MEDIA, "errmsg": "invalid image"}
        media_id = f"media{next(self._ids)}"
        self._media[media_id] = (str(body["filename"]), data, kind)
        return {"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id}

    # --- WeCom's side of the callbacks ----------------------------------------------------------------------
    async def send_text(self, user: str, text: str) -> int:
        msg_id = str(7_000_000_000_000_000_000 + next(self._ids))
        fields = {"MsgType": "text", "Content": text, "MsgId": msg_id, "AgentID": str(self.agent_id)}
        return await self._callback(user, fields)

    async def send_media(self, user: str, kind: str) -> int:
        msg_id = str(7_000_000_000_000_000_000 + next(self._ids))
        return await self._callback(user, {"MsgType": kind, "MsgId": msg_id, "AgentID": str(self.agent_id)})

    async def send_event(self, user: str, event: str, key: str = "") -> int:
        """An application event of the member: enter_agent, subscribe, unsubscribe, click…"""
        fields = {"MsgType": "event", "Event": event, "EventKey": key, "AgentID": str(self.agent_id)}
        return await self._callback(user, fields)

    async def change_contact(self, change: str, user: str, new_user: str = "", status: str = "") -> int:
        """A directory change (通讯录变更): update_user (a new userid, or Status 1/2/4/5), delete_user."""
        fields = {"MsgType": "event", "Event": "change_contact", "ChangeType": change, "UserID": user}
        if new_user:
            fields["NewUserID"] = new_user
        if status:
            fields["Status"] = status
        return await self._callback("sys", fields)

    async def click(self, user: str, label: str, card: Message | None = None) -> int:
        """Press the button `label` on `card` (default: the latest card of the member that has one live)."""
        card = card or next(
            (m for m in reversed(self.messages(user)) if label in m.labels and m.disabled is None), None
        )
        if card is None or label not in card.labels:
            raise AssertionError(f"{user} has no live card with a button {label!r}")
        if card.disabled is not None:
            raise AssertionError(f"the card's buttons were greyed ({card.disabled!r}): it cannot be pressed")
        fields = {
            "MsgType": "event",
            "Event": "template_card_event",
            "EventKey": dict(card.buttons)[label],
            "TaskId": card.task_id,
            "CardType": "button_interaction",
            "ResponseCode": self._response_code(card),
            "AgentID": str(self.agent_id),
        }
        return await self._callback(user, fields)

    async def repost(self) -> int:
        """WeCom's retry: the last callback again, exactly as it was."""
        assert self._last_post is not None, "nothing was posted yet"
        return (await self.post(*self._last_post))[0]

    async def verify_url(self, echo: str = "1616140317555161061") -> tuple[int, str]:
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(4)
        echostr = self.crypto.encrypt(echo)
        query = {
            "msg_signature": self.crypto.signature(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        assert self._session is not None, "start the fake first"
        async with self._session.get(self._callback_url, params=query) as response:
            return response.status, await response.text()

    def seal(self, xml: str) -> tuple[bytes, dict[str, str]]:
        """A callback as WeCom posts it: the encrypted message in the body, its signature in the query."""
        timestamp, nonce = str(int(self.clock.now().timestamp())), secrets.token_hex(4)
        encrypted = self.crypto.encrypt(xml)
        body = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName><AgentID>{_cdata(str(self.agent_id))}</AgentID>"
            f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
        ).encode()
        signature = self.crypto.signature(timestamp, nonce, encrypted)
        return body, {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}

    async def post(self, body: bytes, query: Mapping[str, str]) -> tuple[int, bytes]:
        """POST anything to the callback URL; returns the status and the body of the answer."""
        assert self._session is not None and self._callback_url, "start the fake and connect() it first"
        self._last_post = (body, dict(query))
        if self.split_posts:
            return await self._post_split(body, query)
        async with self._session.post(self._callback_url, params=query, data=body) as response:
            return response.status, await response.read()

    async def _post_split(self, body: bytes, query: Mapping[str, str]) -> tuple[int, bytes]:
        """The request in two TCP segments, as WeCom's servers may send a callback: the headers with the first half
        of the body, then, once the bot has had time to start reading, the rest."""
        url = urlsplit(self._callback_url)
        assert url.hostname is not None and url.port is not None
        reader, writer = await asyncio.open_connection(url.hostname, url.port)
        head = (
            f"POST {url.path}?{urlencode(dict(query))} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        half = len(body) // 2
        try:
            writer.write(head + body[:half])
            await writer.drain()
            await asyncio.sleep(0.05)  # a network's delay between segments; the handler reads what has arrived
            writer.write(body[half:])
            await writer.drain()
            response = await reader.read()
        finally:
            writer.close()
        status_line, _, rest = response.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    async def _callback(self, user: str, fields: dict[str, str]) -> int:
        created = str(int(self.clock.now().timestamp()))
        inner = "".join(f"<{tag}>{_cdata(value)}</{tag}>" for tag, value in fields.items())
        xml = (
            f"<xml><ToUserName>{_cdata(self.corp_id)}</ToUserName><FromUserName>{_cdata(user)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime>{inner}</xml>"
        )
        status, _ = await self.post(*self.seal(xml))
        return status

    # --- observing ------------------------------------------------------------------------------------------
    def messages(self, user: str) -> list[Message]:
        return list(self._messages.get(user, []))

    def calls(self, path: str | None = None) -> list[Call]:
        return [call for call in self._calls if path is None or call.path == path]

    async def wait_for(self, predicate: Callable[[FakeWeCom], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until `predicate(fake)` holds; re-checked whenever an API call arrives."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()


def _midnight_after(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(BEIJING).date() + timedelta(days=1), time(0), BEIJING)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


# --- the bot behind its server, and a chat driver ------------------------------------------------------------
@asynccontextmanager
async def serving(settings: Settings, clock: Clock, fake: FakeWeCom | None = None) -> AsyncIterator[Server]:
    """The real bot as `baomi serve` runs it, on a free loopback port; `fake` posts its callbacks there."""
    app = build_app(settings, clock, serve=True)
    stop = asyncio.Event()
    server = Server(app)
    try:
        await app.migrate()
        await server.start("127.0.0.1", 0)
        if fake is not None:
            fake.connect(server.url + CALLBACK_PATH)
        await app.start(stop)  # after the server listens: a Telegram webhook is registered as it starts
        yield server
    finally:
        stop.set()
        await server.stop()
        await app.stop()


async def settle(app: BaomiApp, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Return once every callback posted is processed and every reply due is performed. A callback is in the
    inbox when its POST returns, so only the bot's side is waited for. (The timeout only guards against a hang:
    a 200-recipient broadcast on PostgreSQL takes over 10 seconds on a busy two-core machine.)"""
    async with asyncio.timeout(timeout):
        while True:
            await app.engine.process_pending()
            await app.dispatcher.drain()
            if not await app.engine.has_pending() and await app.dispatcher.idle():
                return
            await asyncio.sleep(0.002)


def words(text: str) -> str:
    """A text without the numbered options it ends with when it asks a question with buttons ("…\n\n[1] 同意  [2]
    不同意"): what a template rendered."""
    return text.split("\n\n[1] ")[0]


class WeComChat:
    """One member talking to the bot in WeCom: `await chat.send("/profile")`, `await chat.press("是")`."""

    def __init__(self, fake: FakeWeCom, app: BaomiApp, user: str, locale: str = "zh") -> None:
        self.fake = fake
        self.app = app
        self.user = user
        self.locale = locale
        self.texts: Texts = app.texts

    def t(self, name: str, **context: Any) -> str:
        """A template as the bot renders it for this member (in WeCom)."""
        context.setdefault("channel", "wecom")
        return self.texts.render(name, self.locale, **context)

    async def send(self, text: str) -> Message:
        """Send a text (or a /command) and return the bot's latest message once everything has settled."""
        assert await self.fake.send_text(self.user, text) == 200
        await settle(self.app)
        return self.last

    async def press(self, label: str, card: Message | None = None) -> Message:
        assert await self.fake.click(self.user, label, card) == 200
        await settle(self.app)
        return self.last

    @property
    def messages(self) -> list[Message]:
        return self.fake.messages(self.user)

    @property
    def said(self) -> list[str]:
        """Everything the bot said, as text (texts and card titles), in order."""
        return [m.text for m in self.messages]

    @property
    def last(self) -> Message:
        if not self.messages:
            raise AssertionError(f"the bot has said nothing to {self.user}")
        return self.messages[-1]

    @property
    def last_card(self) -> Message:
        for message in reversed(self.messages):
            if message.msgtype == "template_card":
                return message
        raise AssertionError(f"no card was sent to {self.user}")
