"""导出: every workbook and PDF of the command line, downloaded directly. The secrecy office has them all; a head
has the compliance workbook of their own unit. Each download is an entry of the audit chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from aiohttp import web

from bot.core.channel import Route
from bot.handlers.compliance import service as compliance
from bot.handlers.compliance.export import compliance_workbook
from bot.handlers.compliance.roster_export import roster_rows, roster_workbook
from bot.handlers.desk import service as desk
from bot.handlers.leak import service as leak
from bot.handlers.leak.export import workbook_bytes as cases_workbook
from bot.handlers.pledges import documents as pledge_documents
from bot.handlers.pledges.catalog import load_catalog
from bot.handlers.quiz import service as quiz
from bot.handlers.quiz.bank import load_bank
from bot.handlers.quiz.export import csv_bytes as quiz_csv
from bot.handlers.quiz.export import workbook_bytes as quiz_workbook
from bot.handlers.review import documents as review_documents
from bot.handlers.review import service as review
from bot.services import people
from bot.services.calendar import work_calendar

if TYPE_CHECKING:
    from bot.console_web import Console, Request

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = {"xlsx": XLSX, "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


@dataclass(frozen=True)
class File:
    name: str
    data: bytes


class Missing(Exception):
    """What was asked for does not exist (an unknown person, a number never issued)."""


Maker = Callable[["Request"], Awaitable[File]]


class Exports:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.book = load_catalog()
        # Each export: who may have it (True: the secrecy office only) and how it is made.
        self.makers: dict[str, tuple[bool, Maker]] = {
            "compliance": (False, self.compliance),
            "roster": (True, self.roster),
            "pledges": (True, self.pledges),
            "quiz": (True, self.quiz),
            "reports": (True, self.reports),
            "reviews": (True, self.reviews),
            "pledge_pdf": (True, self.pledge_pdf),
            "review_pdf": (True, self.review_pdf),
        }

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [
            Route("GET", f"{ROOT}/exports", page(self.page)),
            Route("POST", f"{ROOT}/exports/{{kind}}", page(self.download)),
        ]

    async def page(self, request: Request, error: str | None = None, status: int = 200) -> web.StreamResponse:
        today = self.console.today()
        return self.console.html(request, "exports.html", status=status, here="exports", today=today, error=error)

    async def download(self, request: Request) -> web.StreamResponse:
        kind = request.http.match_info["kind"]
        found = self.makers.get(kind)
        if found is None:
            return web.Response(status=404)
        office_only, make = found
        if office_only and request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        try:
            made = await make(request)
        except (Missing, ValueError):
            return await self.page(request, error=kind, status=400)
        await desk.record(request.session, self.console.app.clock.now(), request.signed, "export", kind, file=made.name)
        suffix = made.name.rsplit(".", 1)[1]
        return web.Response(
            body=made.data,
            content_type=CONTENT_TYPES[suffix].split(";")[0],
            charset="utf-8" if suffix == "csv" else None,
            headers={"Content-Disposition": f'attachment; filename="{made.name}"'},
        )

    # --- the files, as the command line makes them ------------------------------------------------------------
    async def compliance(self, request: Request) -> File:
        form = await request.form()
        app = self.console.app
        zone = app.settings.timezone
        today = self.console.today()
        day = min(datetime.strptime(form["at"], "%Y-%m-%d").date(), today) if form.get("at") else today
        until = datetime.combine(day + timedelta(days=1), time(), zone) if day < today else None
        calendar = await work_calendar(request.session)
        depts = await compliance.departments(
            request.session, day, app.settings.policy, self.book.catalog, calendar, request.unit, until, write=True
        )
        policy = app.settings.policy
        data = compliance_workbook(depts, policy.bureau_name, app.clock.now(), app.texts, request.locale, as_of=day)
        return File(f"compliance-{day.isoformat()}.xlsx", data)

    def year(self, form: dict[str, str]) -> int:
        return int(form.get("year") or self.console.today().year)

    async def roster(self, request: Request) -> File:
        year = self.year(await request.form())
        app = self.console.app
        rows = await roster_rows(request.session, year, app.settings.timezone)
        data = roster_workbook(rows, year, app.settings.policy.bureau_name, app.clock.now(), app.texts, request.locale)
        return File(f"roster-{year}.xlsx", data)

    async def pledges(self, request: Request) -> File:
        form = await request.form()
        year, fmt = self.year(form), ("csv" if form.get("format") == "csv" else "xlsx")
        settings = self.console.app.settings
        data, _ = await pledge_documents.export(
            request.session,
            year,
            self.console.today(),
            settings.timezone,
            settings.policy,
            self.book.catalog,
            self.word,
            fmt,
        )
        return File(f"pledges-{year}.{fmt}", data)

    def word(self, key: str) -> str:
        return self.console.app.texts.render("pledge/word", "zh", key=key)

    async def quiz(self, request: Request) -> File:
        form = await request.form()
        year = self.year(form)
        texts, locale = self.console.app.texts, request.locale
        excellent = self.console.app.settings.policy.quiz_excellent_mark
        rows = await quiz.export_rows(request.session, year)
        if form.get("format") == "csv":
            return File(f"quiz-{year}.csv", quiz_csv(texts, locale, rows, excellent))
        bank = load_bank(quiz.BANK_PATH)
        known = {q.id for q in bank.questions}
        misses = await quiz.most_missed(request.session, year)
        missed = [(m, bank.by_id(m.question_id)) for m in misses if m.question_id in known]
        return File(f"quiz-{year}.xlsx", quiz_workbook(texts, locale, rows, missed, excellent))

    async def reports(self, request: Request) -> File:
        cases = await leak.all_cases(request.session)
        events = await leak.events(request.session)
        return File("reports.xlsx", cases_workbook(self.console.app.texts, cases, events))

    async def reviews(self, request: Request) -> File:
        form = await request.form()
        year = int(form["year"]) if form.get("year") else None
        app = self.console.app
        requests = await review.all_requests(request.session, app.settings.timezone, year)
        data = review_documents.ledger_workbook(
            requests, app.settings.policy.bureau_name, app.clock.now(), app.texts, request.locale
        )
        return File(f"reviews-{year or 'all'}.xlsx", data)

    async def pledge_pdf(self, request: Request) -> File:
        form = await request.form()
        person = await people.by_employee_id(request.session, form.get("employee_id", "").strip())
        if person is None:
            raise Missing
        record = int(form["record"]) if form.get("record", "").isdigit() else None
        made = await pledge_documents.pledge_pdf(
            request.session, person.id, self.word, self.console.app.settings.timezone, record
        )
        if made is None:
            raise Missing
        return File(f"pledge-{person.employee_id}.pdf", made[0])

    async def review_pdf(self, request: Request) -> File:
        form = await request.form()
        found = await review.by_number(request.session, form.get("number", "").strip())
        if found is None:
            raise Missing
        app = self.console.app
        data = review_documents.form_pdf(found, app.settings.policy.bureau_name, app.texts, request.locale)
        return File(f"{found.number}.pdf", data)
