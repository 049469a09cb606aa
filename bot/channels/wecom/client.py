"""The WeCom server API (企业微信服务端API), as much of it as the channel needs: access tokens, message/send,
update_template_card and media/upload.

Every call carries an access token fetched with the application's secret and cached for its lifetime (on the
injected clock), refreshed a little before it runs out and at once when WeCom calls it invalid or expired; however
short a lifetime WeCom (or a private deployment) announces, a token is kept at least TOKEN_FLOOR, so that a bad
answer cannot turn every call into two. URLs are never logged: they carry the token (and, for gettoken, the
secret).

Government networks reach WeCom through a proxy and may inspect TLS with their own certificate authority: the
HTTP session takes the proxy from the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) and trusts the CA bundle
given in BAOMI_WECOM_CA_FILE besides the system's.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.clock import Clock
from bot.config import WeComSettings

log = logging.getLogger("baomi.wecom")

# 40014: invalid access_token, 42001: access_token expired. Either way a fresh token is fetched and the call
# made once more.
TOKEN_REJECTED = frozenset({40014, 42001})
REFRESH_EARLY = timedelta(minutes=5)
TOKEN_FLOOR = timedelta(seconds=60)
TIMEOUT = aiohttp.ClientTimeout(total=15)


class WeComApiError(Exception):
    """WeCom answered with a non-zero errcode."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeComUnavailable(Exception):
    """WeCom did not answer with HTTP 200 (a gateway error, an outage)."""


class WeComClient:
    def __init__(self, settings: WeComSettings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_renew_at: datetime | None = None  # a little before it runs out
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the API --------------------------------------------------------------------------------------------
    async def send(self, message: dict[str, Any]) -> dict[str, Any]:
        """message/send; `message` is the body without agentid. Returns WeCom's answer (msgid, response_code)."""
        return await self._call("/cgi-bin/message/send", json={**message, "agentid": self.settings.agent_id})

    async def update_template_card(self, update: dict[str, Any]) -> dict[str, Any]:
        return await self._call(
            "/cgi-bin/message/update_template_card", json={**update, "agentid": self.settings.agent_id}
        )

    async def upload_file(self, filename: str, content: bytes, kind: str = "file") -> str:
        """media/upload as a file (or an image, `kind` "image"); returns the media_id (valid three days) to send
        it with."""
        answer = await self._call("/cgi-bin/media/upload", params={"type": kind}, upload=(filename, content))
        return str(answer["media_id"])

    async def access_token(self) -> str:
        """The cached token, or a new one when it is missing or about to expire."""
        async with self._token_lock:
            now = self.clock.now()
            if self._token is None or self._token_renew_at is None or now >= self._token_renew_at:
                answer = await self._request(
                    "GET",
                    "/cgi-bin/gettoken",
                    params={"corpid": self.settings.corp_id, "corpsecret": self.settings.secret},
                )
                self._token = str(answer["access_token"])
                self._token_renew_at = now + token_lifetime(answer.get("expires_in", 7200))
            return self._token

    # --- plumbing -------------------------------------------------------------------------------------------
    async def call(
        self, path: str, *, json: dict[str, Any] | None = None, params: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Any other API call (menu/create), with the token."""
        return await self._call(path, json=json, params=params)

    async def _call(
        self,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        token = await self.access_token()
        try:
            return await self._request("POST", path, {**(params or {}), "access_token": token}, json, upload)
        except WeComApiError as exc:
            if exc.errcode not in TOKEN_REJECTED:
                raise
        log.info("WeCom access token rejected; fetching a new one")
        async with self._token_lock:
            if self._token == token:  # another call may have replaced it already
                self._token = None
        token = await self.access_token()
        return await self._request("POST", path, {**(params or {}), "access_token": token}, json, upload)

    async def _request(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        json: dict[str, Any] | None = None,
        upload: tuple[str, bytes] | None = None,
    ) -> dict[str, Any]:
        if self._session is None:
            self._session = open_session(self.settings)
        form = None
        if upload is not None:
            form = aiohttp.FormData()
            form.add_field("media", upload[1], filename=upload[0], content_type="application/octet-stream")
        async with self._session.request(
            method, self.settings.api_url + path, params=params, json=json, data=form
        ) as r:
            if r.status != 200:
                # Not raise_for_status: its message quotes the URL, and with it the token.
                raise WeComUnavailable(f"HTTP {r.status} from {path}")
            answer: dict[str, Any] = await r.json(content_type=None)
        errcode = int(answer.get("errcode", 0))
        if errcode != 0:
            raise WeComApiError(errcode, str(answer.get("errmsg", "")))
        return answer


def open_session(settings: WeComSettings) -> aiohttp.ClientSession:
    """An HTTP session through the environment's proxy, trusting the configured CA bundle too."""
    connector = None
    if settings.ca_file:
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=settings.ca_file)
        connector = aiohttp.TCPConnector(ssl=context)
    return aiohttp.ClientSession(timeout=TIMEOUT, trust_env=True, connector=connector)


def token_lifetime(expires_in: object) -> timedelta:
    """How long to use a token WeCom says lives `expires_in` seconds: until a little before it runs out (half
    its life early for a short one), and never less than TOKEN_FLOOR."""
    try:
        seconds = int(str(expires_in))
    except ValueError:
        seconds = 0
    life = timedelta(seconds=max(0, seconds))
    return max(TOKEN_FLOOR, life - min(REFRESH_EARLY, life / 2))
