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
from sqlalchemy import func, or_, select

from bot.core.channel import Route
from bot.db.models import Department, Staff
from bot.domain.levels import Level
from bot.domain.roster import MAX_FILE_MB, RosterError
from bot.handlers.compliance import standing
from bot.handlers.compliance.rules import DUTIES, Duty, PersonCompliance
from bot.handlers.desk import service as desk
from bot.handlers.duties import service as duties
from bot.handlers.duties.selfcheck import load_checklist
from bot.handlers.pledges import service as pledges
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.quiz import service as quiz
from bot.services import people
from bot.services.invitations import issue_for_unbound
from bot.services.roster import describe_errors, import_roster, read_roster

if TYPE_CHECKING:
    from bot.console_web import Console, Request

PAGE = 50  # people listed on a page
CHECKLIST_LABELS = {item.id: item.text for item in load_checklist()}
ROLE_COLUMNS = {"head": Staff.is_head, "officer": Staff.is_officer, "leader": Staff.is_leader}
ROLES = tuple(ROLE_COLUMNS)
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

    async def found(self, request: Request, filters: Filters, page: int) -> tuple[int, list[PersonCompliance]]:
        """One page of the people the filters find, in employee id order, and how many they find: the filters are
        conditions on the kept standings and the roster's indexed columns, so no page reads everyone."""
        facts = await standing.source(request.session, None, write=True)
        c = facts.c
        judged = standing.judged(c, self.console.today(), self.console.app.settings.policy, self.catalog)
        unit = request.unit if request.unit is not None else filters.unit
        conditions: list[Any] = [c.active.is_(True)]
        if unit is not None:
            conditions.append(c.department_id == unit)
        if filters.level:
            conditions.append(c.level == filters.level)
        if filters.role:
            conditions.append(ROLE_COLUMNS[filters.role].is_(True))
        if filters.bound:
            conditions.append(c.bound.is_(filters.bound == "yes"))
        if filters.owes:
            conditions.append(judged.owing(Duty(filters.owes)))
        if filters.text:
            conditions.append(
                or_(
                    Staff.name.contains(filters.text, autoescape=True),
                    Staff.employee_id.icontains(filters.text, autoescape=True),
                )
            )
        counting = select(func.count()).select_from(facts)
        if filters.text or filters.role:  # the roster's own columns; otherwise the standings' index alone
            counting = counting.join(Staff, Staff.id == c.staff_id)
        total = await request.session.scalar(counting.where(*conditions))
        query = standing.people_query(facts, self.console.today(), self.console.app.settings.policy, self.catalog)
        rows = await request.session.execute(
            query.where(*conditions).order_by(Staff.employee_id).offset((page - 1) * PAGE).limit(PAGE)
        )
        return int(total or 0), [standing.person(row) for row in rows.all()]

    async def units(self, request: Request) -> list[tuple[int, str]]:
        query = select(Department.id, Department.name).order_by(Department.name)
        if request.unit is not None:
            query = query.where(Department.id == request.unit)
        return [(row[0], row[1]) for row in (await request.session.execute(query)).all()]

    async def listing(self, request: Request, **extra: Any) -> web.StreamResponse:
        form = await request.form()
        filters = Filters.of(form)
        asked = form.get("page", "")
        page = int(asked) if asked.isdigit() and 0 < int(asked) < 10**6 else 1
        total, found = await self.found(request, filters, page)
        pages = max(1, -(-total // PAGE))
        if page > pages:  # filters narrowed since the page was asked for: their last page
            page = pages
            total, found = await self.found(request, filters, page)
        return self.console.html(
            request,
            "people.html",
            here="people",
            people=found,
            total=total,
            first=(page - 1) * PAGE + 1 if found else 0,
            last=(page - 1) * PAGE + len(found),
            number=page,
            pages=pages,
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
        facts = await standing.source(request.session, None, write=True)
        query = standing.people_query(facts, self.console.today(), self.console.app.settings.policy, self.catalog)
        row = (await request.session.execute(query.where(facts.c.staff_id == staff_id))).first()
        checks, items = await duties.self_checks(request.session, staff_id)
        return self.console.html(
            request,
            "person.html",
            here="people",
            person=person,
            standing=None if row is None else standing.person(row),
            duties=DUTIES,
            receipts=await pledges.receipts(request.session, staff_id),
            attempts=[a for a in await quiz.attempts(request.session, staff_id) if a.status == "finished"],
            educations=await duties.educations(request.session, staff_id),
            self_checks=checks,
            items=items,
            labels=CHECKLIST_LABELS,
            departures=[d for d in await pledges.departures(request.session, staff_id) if not d.cancelled],
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
