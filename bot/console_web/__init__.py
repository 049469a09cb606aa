"""The web console (办公桌面) for the secrecy office and heads, served by `baomi serve` under /console/.

It works on the same database, services and rules as the chat; nothing here decides anything a capability's
service does not. Sign-in is by a one-time link from `/console` in the chat (bot/handlers/desk/); the session's
cookie is HttpOnly, SameSite=Strict, Secure when BAOMI_PUBLIC_URL is https, and ends after 8 idle hours.

Every request is checked again, not only at sign-in: the session must be open and its person still an officer or a
head on today's roster (heads see their own unit only, in every page and every API answer). Without a session a
page redirects to /console/signin (303) and an API call answers 401. Every form carries the session's CSRF token;
pages load no inline script (Content-Security-Policy) and nothing from elsewhere; URLs carry ids only; each session
is held to a request rate."""

from __future__ import annotations

import hmac
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import BodyPartReader, MultipartReader, web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.console_web.render import Pages
from bot.core.channel import Route
from bot.domain.levels import Role
from bot.handlers.desk import service as desk
from bot.handlers.desk.flows import LOGIN_PATH
from bot.handlers.desk.service import Signed

if TYPE_CHECKING:
    from bot.app import BaomiApp

ROOT = "/console"
SIGNIN = f"{ROOT}/signin"
API = f"{ROOT}/api/"
STATIC = Path(__file__).parent / "static"
COOKIE = "baomi_console"
RATE_WINDOW = 60.0  # seconds
RATE_LIMIT = 240  # requests a session may make in a window
# Link previewers fetch a link posted in a chat; they must not use up the one-time token.
PREVIEWERS = ("TelegramBot", "WhatsApp", "Slackbot", "facebookexternalhit", "Twitterbot", "WeChat-Spider")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass
class Request:
    """What a page handler gets: the HTTP request, the signed-in person's session and the database session."""

    http: web.Request
    signed: Signed
    session: AsyncSession
    parts: MultipartReader | None = None  # an upload's parts after the CSRF token (read as they come)

    async def form(self) -> dict[str, str]:
        """The posted form's text fields (none for a GET or an upload)."""
        if self.http.method != "POST" or self.parts is not None:
            return {}
        return {k: v for k, v in (await self.http.post()).items() if isinstance(v, str)}

    @property
    def person(self) -> Any:
        return self.signed.person

    @property
    def unit(self) -> int | None:
        """The department this person may see, or None for the secrecy office (every unit)."""
        person = self.signed.person
        return None if person.has(Role.OFFICER) else person.department_id

    @property
    def locale(self) -> str:
        return str(self.signed.person.locale)


Handler = Callable[[Request], Awaitable[web.StreamResponse]]


class Page(Protocol):
    """A page of the console (bot/console_web/<page>.py): the routes it serves."""

    def routes(self) -> list[Route]: ...


class Console:
    def __init__(self, app: BaomiApp) -> None:
        self.app = app
        self.pages = Pages(app.settings.timezone)
        self.secure = (app.settings.public_url or "").startswith("https://")
        self._requests: dict[int, deque[float]] = {}

    # --- plumbing -----------------------------------------------------------------------------------------------
    def page(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap a handler: session and roles checked, rate held, CSRF checked on every POST, headers set, one
        transaction (committed when the handler returns)."""

        async def wrapped(http: web.Request) -> web.StreamResponse:
            api = http.path.startswith(API)
            token = http.cookies.get(COOKIE, "")
            async with self.app.db.transaction() as session:
                signed = await desk.signed_in(session, token, self.app.clock.now()) if token else None
                if signed is None:
                    if api:
                        return secured(web.json_response({"error": "unauthorized"}, status=401))
                    return secured(see_other(SIGNIN))
                if not self._within_rate(signed.id):
                    return secured(web.Response(status=429, text="429: too many requests"))
                parts = None
                if http.method == "POST":
                    supplied: object = http.headers.get("X-CSRF-Token")
                    if supplied is None and http.content_type == "multipart/form-data":
                        # An upload may exceed the server's body limit: its first part is the token, read alone.
                        parts = await http.multipart()
                        first = await parts.next()
                        named = isinstance(first, BodyPartReader) and first.name == "csrf"
                        supplied = await first.text() if named and isinstance(first, BodyPartReader) else ""
                    elif supplied is None:
                        supplied = (await http.post()).get("csrf", "")
                    if not isinstance(supplied, str) or not hmac.compare_digest(supplied, signed.csrf):
                        return secured(web.Response(status=403, text="403: missing or wrong CSRF token"))
                response = await handler(Request(http, signed, session, parts))
            return secured(response)

        return wrapped

    def _within_rate(self, session_id: int) -> bool:
        now = time.monotonic()
        seen = self._requests.setdefault(session_id, deque())
        while seen and seen[0] <= now - RATE_WINDOW:
            seen.popleft()
        if len(seen) >= RATE_LIMIT:
            return False
        seen.append(now)
        return True

    def today(self) -> date:
        return self.app.clock.now().astimezone(self.app.settings.timezone).date()

    def html(self, request: Request, page: str, status: int = 200, here: str = "", **context: Any) -> web.Response:
        body = self.pages.render(
            page,
            request.locale,
            me=request.person,
            csrf=request.signed.csrf,
            office=request.unit is None,
            here=here,
            **context,
        )
        return web.Response(text=body, content_type="text/html", status=status)

    # --- signing in and out -------------------------------------------------------------------------------------
    async def signin(self, http: web.Request) -> web.StreamResponse:
        """How to sign in (no session needed)."""
        return secured(self._door("signin.html"))

    def _door(self, page: str, status: int = 200, locale: str = "zh") -> web.Response:
        body = self.pages.render(page, locale)
        return web.Response(text=body, content_type="text/html", status=status)

    async def login(self, http: web.Request) -> web.StreamResponse:
        """The link from the chat: its token opens a session once, within 10 minutes, for the person who asked."""
        token = http.query.get("token", "")
        agent = http.headers.get("User-Agent", "")
        if not token or any(bot in agent for bot in PREVIEWERS):
            return secured(self._door("signin.html"))
        async with self.app.db.transaction() as session:
            opened = await desk.redeem(session, token, self.app.clock.now())
        if opened is None:
            return secured(self._door("link_invalid.html", status=400))
        response = see_other(f"{ROOT}/")
        response.set_cookie(COOKIE, opened.token, path=ROOT, httponly=True, secure=self.secure, samesite="Strict")
        return secured(response)

    async def logout_page(self, request: Request) -> web.StreamResponse:
        return self.html(request, "logout.html")

    async def logout(self, request: Request) -> web.StreamResponse:
        await desk.sign_out(request.session, request.signed, self.app.clock.now())
        self._requests.pop(request.signed.id, None)
        response = see_other(SIGNIN)
        response.del_cookie(COOKIE, path=ROOT)
        return response

    async def static(self, http: web.Request) -> web.StreamResponse:
        name = http.match_info["name"]
        path = STATIC / name
        if "/" in name or not path.is_file():
            return secured(web.Response(status=404))
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return secured(
            web.Response(body=path.read_bytes(), content_type=kind, headers={"Cache-Control": "max-age=3600"})
        )

    # --- the routes ---------------------------------------------------------------------------------------------
    def routes(self) -> list[Route]:
        from bot.console_web import broadcasts, calendar, cases, exports, overview, people

        pages: list[Page] = [
            overview.Overview(self),
            people.People(self),
            cases.Cases(self),
            broadcasts.Broadcasts(self),
            exports.Exports(self),
            calendar.Calendar(self),
        ]
        return [
            Route("GET", SIGNIN, self.signin),
            Route("GET", LOGIN_PATH, self.login),
            Route("GET", f"{ROOT}/logout", self.page(self.logout_page)),
            Route("POST", f"{ROOT}/logout", self.page(self.logout)),
            Route("GET", f"{ROOT}/static/{{name}}", self.static),
            Route("GET", ROOT, self.page(redirect_home)),
            *(route for page in pages for route in page.routes()),
            Route("GET", f"{API}{{rest:.*}}", self.page(not_found)),
        ]


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def redirect_home(request: Request) -> web.StreamResponse:
    return see_other(f"{ROOT}/")


async def not_found(request: Request) -> web.StreamResponse:
    return web.json_response({"error": "not found"}, status=404)


def secured(response: web.StreamResponse) -> web.StreamResponse:
    for header, value in SECURITY_HEADERS.items():
        response.headers.setdefault(header, value)
    return response


def routes(app: BaomiApp) -> list[Route]:
    """What `baomi serve` mounts under /console/."""
    return Console(app).routes()
