"""事件: the leak cases, open and closed, with filters, each case's timeline and statutory clocks, and the actions of
/cases — 受理, status with a note, written report sent, carrier found, a message to the reporter, and revealing a
withheld reporter — each through the leak capability's own service, with a confirmation page before it is done.
A withheld name stays withheld: revealing it is the same audited act as in the chat. The secrecy office's only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.core.channel import Route
from bot.core.flow import Outgoing
from bot.domain.guard import check_text
from bot.handlers.desk import service as desk
from bot.handlers.leak import notices as leak_notices
from bot.handlers.leak import service as leak
from bot.handlers.leak.rules import MAX_MESSAGE, MAX_NOTE, Status
from bot.handlers.leak.service import CaseInfo

if TYPE_CHECKING:
    from bot.console_web import Console, Request

SETTABLE = ("accepted", "investigating", "concluded")
ACTIONS = ("ack", "status", "sent", "found", "relay", "reveal")


class Cases:
    def __init__(self, console: Console) -> None:
        self.console = console

    def routes(self) -> list[Route]:
        from bot.console_web import ROOT

        page = self.console.page
        return [
            Route("GET", f"{ROOT}/cases", page(self.listing)),
            Route("GET", f"{ROOT}/cases/{{case_id:\\d+}}", page(self.case)),
            Route("POST", f"{ROOT}/cases/{{case_id:\\d+}}/{{action}}", page(self.act)),
        ]

    async def listing(self, request: Request) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        show = request.http.query.get("show", "open")
        cases = await (leak.all_cases if show == "all" else leak.open_cases)(request.session)
        if show == "closed":
            cases = [c for c in await leak.all_cases(request.session) if not c.is_open]
        texts, locale = self.console.app.texts, request.locale
        rows = [{"case": c, "kind": leak_notices.label(texts, locale, f"kind.{c.report.kind}")} for c in cases]
        return self.console.html(
            request, "cases.html", here="cases", rows=rows, show=show, statuses=self.statuses(locale)
        )

    def statuses(self, locale: str) -> dict[str, str]:
        texts = self.console.app.texts
        return {s.value: leak_notices.label(texts, locale, f"status.{s.value}") for s in Status}

    async def case(self, request: Request, **extra: Any) -> web.StreamResponse:
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        case = await leak.get_case(request.session, int(request.http.match_info["case_id"]))
        if case is None:
            return web.Response(status=404, text="404")
        texts, locale = self.console.app.texts, request.locale
        timeline = [e for e in await leak.events(request.session) if e.case_number == case.number]
        return self.console.html(
            request,
            "case.html",
            here="cases",
            case=case,
            summary=leak_notices.summary(texts, locale, case.report, case),
            timeline=timeline,
            statuses=self.statuses(locale),
            settable=SETTABLE,
            max_note=MAX_NOTE,
            max_message=MAX_MESSAGE,
            now=self.console.app.clock.now(),
            **extra,
        )

    async def act(self, request: Request) -> web.StreamResponse:
        """One action on a case. Without `confirmed` it shows what is about to happen and asks; with it, it is
        done through the leak service, the reporter is told as in the chat, and the console's audit entry is
        written."""
        if request.unit is not None:
            return web.Response(status=403, text="403: for the secrecy office")
        action = request.http.match_info["action"]
        case = await leak.get_case(request.session, int(request.http.match_info["case_id"]))
        if case is None or action not in ACTIONS:
            return web.Response(status=404, text="404")
        form = await request.form()
        text = form.get("text", "").strip()
        status = form.get("status", "")
        if action == "status" and status not in SETTABLE:
            return await self.case(request, problem="status")
        if action in ("status", "relay") and text:
            limit = MAX_NOTE if action == "status" else MAX_MESSAGE
            verdict = check_text(text, extra_terms=self.console.app.settings.policy.guard_extra_terms)
            if verdict.category is not None:
                refusal = self.console.app.texts.render(
                    "guard/refused", request.locale, category=verdict.category.value, channel="console"
                )
                return await self.case(request, refusal=refusal)  # the text is neither kept nor shown again
            if len(text) > limit:
                return await self.case(request, problem="too_long")
        if action == "relay" and not text:
            return await self.case(request, problem="empty")
        if form.get("confirmed") != "yes":
            return self.console.html(
                request,
                "case_confirm.html",
                here="cases",
                case=case,
                action=action,
                chosen=status,
                text=text,
                statuses=self.statuses(request.locale),
            )
        return await self.do(request, case, action, status, text)

    async def do(self, request: Request, case: CaseInfo, action: str, status: str, text: str) -> web.StreamResponse:
        app = self.console.app
        now, officer, session = app.clock.now(), request.person.id, request.session
        outgoing: list[Outgoing] = []
        identity = None
        if action == "ack":
            if await leak.acknowledge(session, now, case.id, officer):
                outgoing = await leak_notices.status_changed(session, app.texts, case.id, None)
        elif action == "status":
            await leak.set_status(session, now, case.id, officer, Status(status), text or None)
            outgoing = await leak_notices.status_changed(session, app.texts, case.id, text or None)
        elif action == "sent":
            await leak.mark_written_report_sent(session, now, case.id, officer)
        elif action == "found":
            await leak.mark_carrier_found(session, now, case.id, officer)
        elif action == "relay":
            await leak.record_relay(session, now, case.id, officer, text, to_reporter=True)
            outgoing = await leak_notices.to_reporter(
                session, app.texts, case, "report/office_message", reply_button=True, message=text
            )
        elif action == "reveal":
            identity = await leak.reveal_reporter(session, now, case.id, officer)
        await leak_notices.queue(session, now, outgoing)
        await desk.record(session, now, request.signed, "case", f"leak_case:{case.id}", step=action)
        if outgoing:
            app.dispatcher.wake()
        return await self.case(request, done=action, identity=identity)
