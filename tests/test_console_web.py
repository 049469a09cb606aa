"""The web console over plain HTTP: who may sign in, how links and sessions end, what a request without a session
or a CSRF token gets, what a head sees, and that every page escapes what people typed."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from openpyxl import load_workbook
from sqlalchemy import select, update

from bot.clock import SettableClock
from bot.db.models import AuditLog, Department, Staff
from bot.db.models_leak import LeakCaseEvent
from bot.db.models_pledge import Departure
from bot.db.session import Database
from bot.handlers.departures import procedure
from bot.services import people
from bot.testing.fake_bot_api import FakeBotApi
from tests.conftest import import_example_roster
from tests.fakes.desk import LINK, Desk, desk
from tests.fakes.harness import Chat
from tests.fakes.local import LocalBot

PAGES = [
    "/console/",
    "/console/people",
    "/console/people/1",
    "/console/people/invites",
    "/console/cases",
    "/console/cases/1",
    "/console/exports",
]
APIS = ["/console/api/overview"]


@pytest.fixture
async def console(api: FakeBotApi, db_url: str, db: Database, clock: SettableClock) -> AsyncIterator[Desk]:
    await import_example_roster(db, clock)
    async with desk(api, db_url, clock) as running:
        yield running


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


async def test_without_a_session_pages_redirect_to_signin_and_the_api_answers_401(console: Desk) -> None:
    async with aiohttp.ClientSession() as http:
        for path in PAGES:
            async with http.get(console.url + path, allow_redirects=False) as response:
                assert response.status == 303 and response.headers["Location"] == "/console/signin"
        for path in APIS:
            async with http.get(console.url + path) as response:
                assert response.status == 401
        async with http.get(console.url + "/console/signin") as response:
            page = await response.text()
            assert response.status == 200 and "/console" in page
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]


async def test_an_officer_signs_in_once_with_the_link_from_the_chat(console: Desk, db: Database) -> None:
    officer = await console.chat("E002")
    link = await console.link(officer)
    assert link.startswith(console.url + "/console/login?token=")
    assert officer.labels() == [officer.t("desk/btn_end_all")]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # A link previewer fetching it uses nothing up.
        async with http.get(link, headers={"User-Agent": "TelegramBot (like TwitterBot)"}) as response:
            assert response.status == 200
        async with http.get(link, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/console/"
            cookie = response.headers["Set-Cookie"]
            assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
            assert "Secure" not in cookie  # the public URL is http here
        async with http.get(console.url + "/console/") as response:
            page = await response.text()
            assert response.status == 200 and "李秀英" in page
            for name in ("办公室", "基础教育科", "考试院", "人事科"):
                assert name in page
        async with http.get(console.url + "/console/api/overview") as response:
            data = await response.json()
            assert {d["name"] for d in data["departments"]} == {"办公室", "基础教育科", "考试院", "人事科"}
    async with aiohttp.ClientSession() as other, other.get(link, allow_redirects=False) as response:
        assert response.status == 400  # the same link again: used
        assert "Set-Cookie" not in response.headers
    async with db.sessions() as s:
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert actions.count("console.signin") == 1


async def test_a_link_expires_after_ten_minutes_and_works_for_its_person_only(console: Desk) -> None:
    head = await console.chat("E101")
    link = await console.link(head)
    assert isinstance(console.app.clock, SettableClock)
    console.app.clock.advance(minutes=10)
    async with aiohttp.ClientSession() as http, http.get(link, allow_redirects=False) as response:
        assert response.status == 400
    fresh = await console.link(head)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(fresh, allow_redirects=False) as response:
            assert response.status == 303
        async with http.get(console.url + "/console/api/overview") as response:
            data = await response.json()
    # A head sees their own unit only.
    assert [d["name"] for d in data["departments"]] == ["基础教育科"]


async def test_staff_and_strangers_are_refused_in_the_chat(console: Desk, api: FakeBotApi) -> None:
    staff = await console.chat("E102")
    answer = await staff.send("/console")
    assert answer["text"] == staff.t("core/no_right") and not LINK.search(answer["text"])
    stranger = Chat(api, console.app, 9999)
    answer = await stranger.send("/console")
    assert answer["text"] == stranger.t("core/stranger") and not LINK.search(answer["text"])


async def test_a_session_ends_by_logout_from_the_chat_and_when_idle(console: Desk, db: Database) -> None:
    http, chat = await console.signed_in("E002")
    async with http:
        async with http.get(console.url + "/console/") as response:
            csrf = csrf_of(await response.text())
        async with http.post(console.url + "/console/logout", data={}, allow_redirects=False) as response:
            assert response.status == 403  # no CSRF token
        async with http.post(console.url + "/console/logout", data={"csrf": "wrong"}, allow_redirects=False) as r:
            assert r.status == 403
        async with http.post(console.url + "/console/logout", data={"csrf": csrf}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/console/signin"
        async with http.get(console.url + "/console/api/overview") as response:
            assert response.status == 401

    # Two browsers; 结束所有会话 in the chat ends both.
    first, chat = await console.signed_in("E001")
    second = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with first, second:
        async with second.get(await console.link(chat), allow_redirects=False) as response:
            assert response.status == 303
        unused = await console.link(chat)
        await chat.press(chat.t("desk/btn_end_all"))
        assert chat.last["text"] == chat.t("desk/ended", count=2)
        for http in (first, second):
            async with http.get(console.url + "/console/api/overview") as response:
                assert response.status == 401
        async with second.get(unused, allow_redirects=False) as response:
            assert response.status == 400  # links not yet used stop working too

    idle, _ = await console.signed_in("E002")
    async with idle:
        assert isinstance(console.app.clock, SettableClock)
        console.app.clock.advance(hours=7, minutes=59)
        async with idle.get(console.url + "/console/api/overview") as response:
            assert response.status == 200  # used: the idle time starts again
        console.app.clock.advance(hours=8)
        async with idle.get(console.url + "/console/", allow_redirects=False) as response:
            assert response.status == 303


async def test_roles_are_checked_on_every_request(console: Desk, db: Database) -> None:
    http, _ = await console.signed_in("E101")
    async with http:
        async with http.get(console.url + "/console/api/overview") as response:
            assert response.status == 200
        async with db.transaction() as s:  # no longer a head
            await s.execute(update(Staff).where(Staff.employee_id == "E101").values(is_head=False))
        async with http.get(console.url + "/console/api/overview") as response:
            assert response.status == 401


async def test_names_are_shown_as_text(console: Desk, db: Database) -> None:
    async with db.transaction() as s:
        await s.execute(update(Department).where(Department.name == "考试院").values(name="<script>alert(1)</script>"))
        await s.execute(update(Staff).where(Staff.employee_id == "E002").values(name="=1+1<b>"))
    http, _ = await console.signed_in("E002")
    async with http, http.get(console.url + "/console/") as response:
        page = await response.text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "=1+1&lt;b&gt;" in page


async def test_each_session_is_held_to_a_rate(console: Desk) -> None:
    from bot.console_web import RATE_LIMIT

    http, _ = await console.signed_in("E002")
    async with http:
        statuses = []
        for _ in range(RATE_LIMIT + 1):
            async with http.get(console.url + "/console/static/console.css") as response:
                statuses.append(response.status)  # static files are not counted
        assert set(statuses) == {200}
        for _ in range(RATE_LIMIT):
            async with http.get(console.url + "/console/api/overview") as response:
                assert response.status == 200
        async with http.get(console.url + "/console/api/overview") as response:
            assert response.status == 429


async def test_without_a_public_url_the_chat_says_the_console_is_not_set_up(bot: LocalBot) -> None:
    officer = await bot.bind("E002")
    await officer.send("/console")
    assert officer.last["text"] == officer.t("desk/not_served")


async def page_of(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as response:
        return response.status, await response.text()


async def test_a_head_sees_their_own_unit_and_none_of_the_offices_pages(console: Desk, db: Database) -> None:
    async with db.sessions() as s:
        ids = dict((await s.execute(select(Staff.employee_id, Staff.id))).all())
    http, _ = await console.signed_in("E101")  # head of 基础教育科
    async with http:
        status, page = await page_of(http, console.url + "/console/people")
        assert status == 200 and "陈静" in page and "黄丽" not in page and "考试院" not in page
        assert (await page_of(http, console.url + f"/console/people/{ids['E102']}"))[0] == 200
        assert (await page_of(http, console.url + f"/console/people/{ids['E202']}"))[0] == 404  # another unit
        assert (await page_of(http, console.url + "/console/cases"))[0] == 403
        csrf = csrf_of(page)
        for kind in ("roster", "pledges", "quiz", "reports", "reviews", "pledge_pdf", "review_pdf"):
            async with http.post(console.url + f"/console/exports/{kind}", data={"csrf": csrf}) as response:
                assert response.status == 403, kind
        async with http.post(console.url + "/console/exports/compliance", data={"csrf": csrf}) as response:
            assert response.status == 200
            workbook = load_workbook(io.BytesIO(await response.read()))
        cells = {str(c.value) for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row}
        assert "基础教育科" in cells and "考试院" not in cells
        # Invitation codes for the unbound of their unit only.
        async with http.post(console.url + "/console/people/invites", data={"csrf": csrf}) as response:
            page = await response.text()
        assert "杨帆" in page and "黄丽" not in page and page.count("data:image/svg+xml;base64,") == 2
        form = aiohttp.FormData()
        form.add_field("csrf", csrf)
        form.add_field("file", b"employee_id,name,department,level,role\n", filename="r.csv")
        async with http.post(console.url + "/console/people/roster", data=form) as response:
            assert response.status == 403


async def test_every_form_needs_the_csrf_token(console: Desk) -> None:
    case = await console.open_case("E102")
    http, _ = await console.signed_in("E002")
    async with http:
        for path in ("/console/exports/compliance", "/console/people/invites", f"/console/cases/{case.id}/ack"):
            async with http.post(console.url + path, data={"confirmed": "yes"}) as response:
                assert response.status == 403, path
        form = aiohttp.FormData()
        form.add_field("file", b"employee_id,name,department,level,role\n", filename="r.csv")
        async with http.post(console.url + "/console/people/roster", data=form) as response:
            assert response.status == 403
        async with http.get(console.url + f"/console/cases/{case.id}") as response:
            assert "受理" in await response.text()  # nothing was done


async def test_a_roster_upload_shows_every_bad_line_and_saves_nothing(console: Desk, db: Database) -> None:
    http, _ = await console.signed_in("E002")
    async with http:
        _, page = await page_of(http, console.url + "/console/people")
        bad = "employee_id,name,department,level,role\nE900,新人,办公室,绝密,staff\nE901,另一人,办公室,一般,boss\n"
        form = aiohttp.FormData()
        form.add_field("csrf", csrf_of(page))
        form.add_field("file", bad.encode(), filename="roster.csv")
        async with http.post(console.url + "/console/people/roster", data=form) as response:
            page = await response.text()
        assert "第 2 行" in page and "第 3 行" in page and "roster-imported" not in page
        async with db.sessions() as s:
            assert await s.scalar(select(Staff.id).where(Staff.employee_id == "E900")) is None


async def test_a_classified_note_is_refused_and_not_kept(console: Desk, db: Database) -> None:
    case = await console.open_case("E102")
    http, _ = await console.signed_in("E002")
    async with http:
        _, page = await page_of(http, console.url + f"/console/cases/{case.id}")
        note = "教发〔2026〕3号 已收回"
        data = {"csrf": csrf_of(page), "status": "investigating", "text": note, "confirmed": "yes"}
        async with http.post(console.url + f"/console/cases/{case.id}/status", data=data) as response:
            page = await response.text()
        assert "拒收" in page and "教发" not in page
    async with db.sessions() as s:
        assert await s.scalar(select(LeakCaseEvent.id).where(LeakCaseEvent.kind == "status")) is None


async def test_the_calendar_and_the_declassification_periods_are_edited_as_in_chat(console: Desk, db: Database) -> None:
    async with db.transaction() as s:
        leaver = await people.by_employee_id(s, "E203")  # 重要: 12 months
        assert leaver is not None
        now = console.app.clock.now()
        await procedure.record_outside(s, now, leaver.id, leaver.level, None, 12, now.date(), None)
    head, _ = await console.signed_in("E101")
    async with head:
        assert (await page_of(head, console.url + "/console/calendar"))[0] == 403
    http, _ = await console.signed_in("E002")
    async with http:
        status, page = await page_of(http, console.url + "/console/calendar")
        assert status == 200 and "周杰" in page
        csrf = csrf_of(page)
        refused = {"csrf": csrf, "day": "2026-03-07", "working": "yes", "reason": "秘密★1年"}
        async with http.post(console.url + "/console/calendar/workday", data=refused) as response:
            assert response.status == 400 and "拒收" in await response.text()
        data = {"csrf": csrf, "day": "2026-03-07", "working": "yes", "reason": "调休上班"}
        async with http.post(console.url + "/console/calendar/workday", data=data) as response:
            assert response.status == 200 and "调休上班" in await response.text()
        data = {"csrf": csrf, "employee_id": "E203", "months": "18", "reason": "经审批延长"}
        async with http.post(console.url + "/console/calendar/countdown", data=data) as response:
            assert response.status == 200
    async with db.sessions() as s:
        assert await s.scalar(select(Departure.months)) == 18
        actions = set((await s.scalars(select(AuditLog.action))).all())
    assert {"calendar.override", "declassification.change"} <= actions


async def test_the_people_list_filters_and_pages(console: Desk, db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.console_web import people as people_page

    http, _ = await console.signed_in("E001")
    async with http:
        _, page = await page_of(http, console.url + "/console/people")
        csrf = csrf_of(page)

        async def listed(**form: str) -> str:
            async with http.post(console.url + "/console/people", data={"csrf": csrf, **form}) as response:
                assert response.status == 200
                return await response.text()

        found = await listed(owes="education", level="core")  # nobody educated yet: every core person owes it
        assert "共 3 人" in found and all(name in found for name in ("李秀英", "赵磊", "黄丽"))
        assert "共 4 人" in await listed(q="e20")  # an employee id in any case
        assert "共 0 人" in await listed(q="%")  # typed, not a pattern
        monkeypatch.setattr(people_page, "PAGE", 5)
        first = await listed()
        assert "第 1–5 人" in first and "第 1 / 3 页" in first and first.count('<td><a href="/console/people/') == 5
        last = await listed(page="3")
        assert "第 11–12 人" in last and "马琳" in last and "张伟" not in last
        assert "第 1 / 1 页" not in await listed(page="9", unit="1")  # narrowed: its last page, no pager
        # The overview's figures are those of each person's standing.
        async with http.get(console.url + "/console/api/overview") as response:
            overview = await response.json()
    education = {d["name"]: d["duties"]["education"] for d in overview["departments"]}
    assert education["考试院"] == {"done": 0, "owed": 3} and education["基础教育科"] == {"done": 0, "owed": 1}


async def test_a_notice_can_name_people(console: Desk, db: Database) -> None:
    async with db.sessions() as s:
        ids = dict((await s.execute(select(Staff.employee_id, Staff.id))).all())
    http, _ = await console.signed_in("E001")
    async with http:
        _, page = await page_of(http, console.url + "/console/broadcasts")
        form = {"csrf": csrf_of(page), "text": "请来办公室。"}
        async with http.post(console.url + "/console/broadcasts", data={**form, "who": "黄", "confirmed": "find"}) as r:
            found = await r.text()
        assert f'name="person" value="{ids["E202"]}"' in found and "请来办公室。" in found  # the text kept
        async with http.post(
            console.url + "/console/broadcasts", data={**form, "person": str(ids["E202"]), "confirmed": "no"}
        ) as response:
            preview = await response.text()
        assert "将发送给 1 人" in preview and "黄丽" in preview
