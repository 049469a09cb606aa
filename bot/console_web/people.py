"""人员: the roster with search and filters, each person's standing and history, the roster upload (the same
reading and validation as `baomi roster import`: every bad line shown, nothing saved until the whole file is
right), and invitation codes with their QR codes, printable. Heads see and invite their own unit only; the
upload is the secrecy office's."""

from __future__ import annotations

import asyncio
import base64
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import qrcode
import qrcode.image.svg
from aiohttp import BodyPartReader, web
from sqlalchemy import select

from bot.core.channel import Route
from bot.db.models import Department, Staff
from bot.domain.levels import Level
from bot.domain.roster import MAX_FILE_MB, RosterError
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.rules import DUTIES, Duty, PersonCompliance
from bot.handlers.departures import procedure
from bot.handlers.desk import service as desk
from bot.handlers.duties import service as duties
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.quiz import service as quiz
from bot.services import people
from bot.services.calendar import work_calendar
from bot.services.invitations import issue_for_unbound
from bot.services.roster import describe_errors, import_roster, read_roster

if TYPE_CHECKING:
    from bot.console_web import Console, Request

SHOWN = 200  # people listed at once: a search narrows it
ROLES = ("head", "officer", "leader")
UPLOAD_SUFFIXES = (".csv", ".xlsx", ".xlsm")


@dataclass(frozen=True)
class Filters:
    text: str = ""
    unit: int | None = None
    level: str = ""
    role: str = ""
    owes: str = ""
    bound: str = ""  # "yes", "no" or "" (either)

    @classmethod
    def of(cls, form: dict[str, str]) -> Filters:
        unit = form.get("unit", "")
        return cls(
            text=form.get("q", "").strip()[:50],
            unit=int(unit) if unit.isdigit() else None,
            level=form.get("level", "") if form.get("level", "") in {lv.value for lv in Level} else "",
            role=form.get("role", "") if form.get("role", "") in ROLES else "",
            owes=form.get("owes", "") if form.get("owes", "") in {d.value for d in DUTIES} else "",
            bound=form.get("bound", "") if form.get("bound", "") in ("yes", "no") else "",
        )


class People:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.catalog = load_catalog().catalog

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [
            Route("GET", f"{ROOT}/people", page(self.listing)),
            Route("POST", f"{ROOT}/people", page(self.listing)),
            Route("GET", f"{ROOT}/people/{{staff_id:\\d+}}", page(self.person)),
            Route("POST", f"{ROOT}/people/roster", page(self.upload)),
            Route("GET", f"{ROOT}/people/invites", page(self.invites)),
            Route("POST", f"{ROOT}/people/invites", page(self.issue)),
        ]

    async def standings(self, request: Request, unit: int | None) -> list[PersonCompliance]:
        app = self.console.app
        calendar = await work_calendar(request.session)
        depts = await compliance.departments(
            request.session, self.console.today(), app.settings.policy, self.catalog, calendar, department_id=unit
        )
        return [p for d in depts for p in d.people]

    async def units(self, request: Request) -> list[tuple[int, str]]:
        query = select(Department.id, Department.name).order_by(Department.name)
        if request.unit is not None:
            query = query.where(Department.id == request.unit)
        return [(row[0], row[1]) for row in (await request.session.execute(query)).all()]

    async def listing(self, request: Request, **extra: Any) -> web.StreamResponse:
        filters = Filters.of(await request.form())
        unit = request.unit if request.unit is not None else filters.unit
        everyone = await self.standings(request, unit)
        with_role: set[int] | None = None
        if filters.role:
            column = {"head": Staff.is_head, "officer": Staff.is_officer, "leader": Staff.is_leader}[filters.role]
            with_role = set((await request.session.scalars(select(Staff.id).where(column.is_(True)))).all())
        found = [p for p in everyone if matches(p, filters, with_role)]
        return self.console.html(
            request,
            "people.html",
            here="people",
            people=found[:SHOWN],
            total=len(found),
            shown=min(SHOWN, len(found)),
            filters=filters,
            units=await self.units(request),
            levels=[lv.value for lv in Level],
            roles=ROLES,
            duties=DUTIES,
            max_mb=MAX_FILE_MB,
            **extra,
        )

    async def person(self, request: Request) -> web.StreamResponse:
        staff_id = int(request.http.match_info["staff_id"])
        person = await people.by_id(request.session, staff_id)
        if person is None or (request.unit is not None and person.department_id != request.unit):
            return web.Response(status=404, text="404")
        standing = next(
            (p for p in await self.standings(request, person.department_id) if p.staff_id == staff_id), None
        )
        receipts = await pledges.receipts(request.session, staff_id)
        attempts = [a for a in await quiz.attempts(request.session, staff_id) if a.status == "finished"]
        education = await duties.last_education(request.session, staff_id)
        year = self.console.today().year
        self_checked = await duties.has_self_check(request.session, staff_id, year)
        departure = await procedure.latest(request.session, staff_id)
        return self.console.html(
            request,
            "person.html",
            here="people",
            person=person,
            standing=standing,
            duties=DUTIES,
            receipts=receipts,
            attempts=attempts,
            education=education,
            self_checked=self_checked,
            year=year,
            departure=departure,
        )

    async def upload(self, request: Request) -> web.StreamResponse:
        """Read the file as `baomi roster import` does; import it only when every line is right."""
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        part = await request.parts.next() if request.parts is not None else None
        if not isinstance(part, BodyPartReader) or part.name != "file" or not part.filename:
            return await self.listing(request, roster_problems=[], roster_missing=True)
        suffix = Path(part.filename).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            suffix = ".csv"
        # Read no more than the roster's limit and a byte: the reader refuses a file over it, by its size alone.
        content = bytearray()
        while len(content) <= MAX_FILE_MB * 2**20 and (chunk := await part.read_chunk()):
            content += chunk
        try:
            rows = await asyncio.to_thread(read_uploaded, bytes(content), suffix)
            app = self.console.app
            now = app.clock.now()
            result = await import_roster(request.session, rows, now, app.texts.timezone, request.person.id)
        except RosterError as exc:
            problems = describe_errors(exc.errors, self.console.app.texts, request.locale)
            return await self.listing(request, roster_problems=problems)
        await desk.record(request.session, now, request.signed, "roster_import", "roster", rows=len(rows))
        return await self.listing(request, roster_result=result)

    async def invites(self, request: Request) -> web.StreamResponse:
        return self.console.html(request, "invites.html", here="people", issued=None, bot=None)

    async def issue(self, request: Request) -> web.StreamResponse:
        """A fresh code for everyone not bound (a head: in their unit), with a QR code of each link, to print."""
        app = self.console.app
        now = app.clock.now()
        issued = await issue_for_unbound(
            request.session, now, app.settings.policy.invitation_valid_days, department_id=request.unit
        )
        await desk.record(request.session, now, request.signed, "invitations", "roster", count=len(issued))
        username = telegram_username(app)
        cards = []
        for invitation in issued:
            link = f"https://t.me/{username}?start={invitation.code}" if username else None
            cards.append({"invitation": invitation, "link": link, "qr": qr_data_uri(link or invitation.code)})
        return self.console.html(request, "invites.html", here="people", issued=cards, bot=username)


def matches(p: PersonCompliance, f: Filters, with_role: set[int] | None) -> bool:
    if f.text and f.text not in p.name and f.text.lower() not in p.employee_id.lower():
        return False
    if f.level and p.level.value != f.level:
        return False
    if with_role is not None and p.staff_id not in with_role:
        return False
    if f.owes and Duty(f.owes) not in p.owing:
        return False
    return not (f.bound and p.bound != (f.bound == "yes"))


def read_uploaded(content: bytes, suffix: str) -> list[Any]:
    """The roster reader works on a file: the upload is written to a temporary one and removed at once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"roster{suffix}"
        path.write_bytes(content)
        return read_roster(path)


def telegram_username(app: Any) -> str | None:
    bot = getattr(app.channels.get("telegram"), "bot", None)
    try:
        return getattr(bot, "username", None)
    except RuntimeError:  # python-telegram-bot before it has been initialised
        return None


def qr_data_uri(text: str) -> str:
    """A QR code drawn here as SVG (no service elsewhere), to show as an image."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()
