"""通知: compose a notice with the audience picker (units, levels, roles, people named one by one, found by name or
employee id), preview it, send it, and follow its
delivery and 已阅 per unit and per person, with a reminder to those who have not confirmed — through the broadcasts
capability's service, as /broadcast and `baomi broadcast send` do. The secrecy office's only."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import select

from bot.core.channel import Route
from bot.db.models import Department
from bot.domain.guard import check_text
from bot.domain.levels import Level, Role
from bot.handlers.broadcasts import service as broadcasts
from bot.handlers.broadcasts.flows import notice_text, queue_notices
from bot.handlers.broadcasts.rules import ACK_DAY_CHOICES, MAX_TEXT, Audience, Delivery, ack_deadline
from bot.handlers.desk import service as desk
from bot.services import people

if TYPE_CHECKING:
    from bot.console_web import Console, Request

ROLES = {"head": Role.HEAD, "officer": Role.OFFICER}
FOUND_LIMIT = 20  # people a search offers to tick
MAX_NAMED = 200  # people named one by one in one notice


class Broadcasts:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [
            Route("GET", f"{ROOT}/broadcasts", page(self.compose)),
            Route("POST", f"{ROOT}/broadcasts", page(self.send)),
            Route("GET", f"{ROOT}/broadcasts/{{broadcast_id:\\d+}}", page(self.follow)),
            Route("POST", f"{ROOT}/broadcasts/{{broadcast_id:\\d+}}/remind", page(self.remind)),
        ]

    async def units(self, request: Request) -> list[tuple[int, str]]:
        rows = await request.session.execute(select(Department.id, Department.name).order_by(Department.name))
        return [(row[0], row[1]) for row in rows.all()]

    async def compose(self, request: Request, **extra: Any) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        return self.console.html(
            request,
            "broadcasts.html",
            here="broadcasts",
            units=await self.units(request),
            levels=[lv.value for lv in Level],
            roles=list(ROLES),
            ack_days=ACK_DAY_CHOICES,
            max_text=MAX_TEXT,
            recent=await broadcasts.recent(request.session),
            form=extra.pop("form", {}),
            chosen=extra.pop("chosen", {"units": set(), "levels": set(), "roles": set()}),
            named=extra.pop("named", []),
            **extra,
        )

    async def named(self, request: Request, ids: set[int]) -> list[people.Person]:
        """The people named in the audience who are still on the roster (a head's: of their unit)."""
        found = [await people.by_id(request.session, staff_id) for staff_id in sorted(ids)[:MAX_NAMED]]
        return [p for p in found if p and p.active and (request.unit is None or p.department_id == request.unit)]

    async def send(self, request: Request) -> web.StreamResponse:
        """Without `confirmed`: the guard, the audience's size and the notice as it will read. With it: sent."""
        from bot.console_web import ROOT, see_other

        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        app = self.console.app
        posted = await request.http.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        units = {int(v) for v in posted.getall("unit", []) if isinstance(v, str) and v.isdigit()}
        levels = {v for v in posted.getall("level", []) if isinstance(v, str) and v in {lv.value for lv in Level}}
        roles = {v for v in posted.getall("role", []) if isinstance(v, str) and v in ROLES}
        chosen: dict[str, set[Any]] = {"units": units, "levels": levels, "roles": roles}
        asked = {int(v) for v in posted.getall("person", []) if isinstance(v, str) and v.isdigit()}
        named = await self.named(request, asked)
        if form.get("confirmed") == "find":  # a name or an employee id typed: the people it finds, to tick
            typed = form.get("who", "").strip()[:50]
            found = await people.search(request.session, typed, FOUND_LIMIT, department_id=request.unit)
            matches = [p for p in found if p.id not in {n.id for n in named}]
            return await self.compose(request, form=form, chosen=chosen, named=named, matches=matches, searched=typed)
        text = form.get("text", "").strip()
        if not text or len(text) > MAX_TEXT:
            return await self.compose(request, form=form, chosen=chosen, named=named, problem="length")
        verdict = check_text(text, extra_terms=app.settings.policy.guard_extra_terms)
        if verdict.category is not None:
            refusal = app.texts.render("guard/refused", request.locale, category=verdict.category.value)
            form.pop("text")  # a refused text is neither kept nor shown again
            return await self.compose(request, form=form, chosen=chosen, named=named, refusal=refusal)
        audience = Audience(
            frozenset(units),
            frozenset(Level(v) for v in levels),
            frozenset(ROLES[v] for v in roles),
            frozenset(p.id for p in named),
        )
        now = app.clock.now()
        days = int(form["ack_days"]) if form.get("ack_days", "").isdigit() else 0
        deadline = None
        if days in ACK_DAY_CHOICES:
            local_today = now.astimezone(app.settings.timezone).date()
            deadline = ack_deadline(local_today, days, app.settings.policy.working_hours_end, app.settings.timezone)
        count = await broadcasts.count_audience(request.session, audience)
        if form.get("confirmed") != "yes" or count.recipients == 0:
            notice = notice_text(app.texts, request.locale, text, request.person.name, now, deadline)
            return await self.compose(request, form=form, chosen=chosen, named=named, preview=notice, count=count)
        created = await broadcasts.create(request.session, now, request.person.id, text, audience, deadline)
        info = await broadcasts.info(request.session, created.broadcast_id)
        assert info is not None
        source = broadcasts.source_of(info.id)
        await queue_notices(request.session, now, app.texts, info, request.person.name, created.readers, source)
        await desk.record(request.session, now, request.signed, "broadcast", source, recipients=created.recipients)
        app.dispatcher.wake()
        return see_other(f"{ROOT}/broadcasts/{info.id}")  # a reload reads it again, never sends it again

    async def follow(self, request: Request, broadcast_id: int | None = None, **extra: Any) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        found = broadcast_id or int(request.http.match_info["broadcast_id"])
        standing = await broadcasts.standing(request.session, found)
        if standing is None:
            return web.Response(status=404, text="404")
        everyone = await broadcasts.recipients(request.session, found)
        units: dict[str, dict[str, int]] = defaultdict(lambda: {"people": 0, "delivered": 0, "acked": 0})
        for r in everyone:
            unit = units[r.person.department]
            unit["people"] += 1
            unit["delivered"] += standing.tally.by_person.get(r.person.staff_id) is Delivery.DELIVERED
            unit["acked"] += r.acked_at is not None
        author = await people.by_id(request.session, standing.info.author_staff_id)
        return self.console.html(
            request,
            "broadcast.html",
            here="broadcasts",
            standing=standing,
            author=author,
            units=sorted(units.items()),
            recipients=everyone,
            delivery={r.person.staff_id: standing.tally.by_person.get(r.person.staff_id) for r in everyone},
            **extra,
        )

    async def remind(self, request: Request) -> web.StreamResponse:
        """The notice again to those who have not confirmed it (at most once a day, as in the chat)."""
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        app = self.console.app
        found = int(request.http.match_info["broadcast_id"])
        info = await broadcasts.info(request.session, found)
        if info is None:
            return web.Response(status=404, text="404")
        readers = await broadcasts.silent_readers(request.session, found) if info.ack_required else []
        if not readers:
            return await self.follow(request, broadcast_id=found, reminded="none")
        now = app.clock.now()
        local_day = now.astimezone(app.settings.timezone).date().isoformat()
        if not await broadcasts.claim_nudge(request.session, now, found, local_day):
            return await self.follow(request, broadcast_id=found, reminded="limit")
        author = await people.by_id(request.session, info.author_staff_id)
        name = author.name if author else ""
        source = f"{broadcasts.source_of(found)}:nudge"
        await queue_notices(request.session, now, app.texts, info, name, readers, source, nudge=True)
        await desk.record(request.session, now, request.signed, "broadcast_reminder", source, people=len(readers))
        app.dispatcher.wake()
        return await self.follow(request, broadcast_id=found, reminded=len(readers))
