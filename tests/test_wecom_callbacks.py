"""The callback endpoint: WeCom's URL check, and everything that must not get in — refused with 4xx, logged
without what was sent, and kept out of the inbox."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.channels.wecom.crypto import MAX_CALLBACK_BYTES, WeComCrypto
from bot.db.models import InboxEvent
from bot.db.session import Database
from bot.server import Server
from bot.testing.fake_wecom import FakeWeCom

SECRET_WORDS = "请勿外传的内容"
TEXT_XML = (
    "<xml><ToUserName><![CDATA[{corp}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>"
    "<CreateTime>1772415660</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    f"<Content><![CDATA[{SECRET_WORDS}]]></Content><MsgId>7315938762845716489</MsgId><AgentID>1000002</AgentID></xml>"
)


async def inbox(db: Database) -> list[InboxEvent]:
    async with db.sessions() as s:
        return list((await s.scalars(select(InboxEvent))).all())


async def test_url_verification_answers_the_plain_echo_to_wecom_only(fake: FakeWeCom, server: Server) -> None:
    assert await fake.verify_url("1616140317555161061") == (200, "1616140317555161061")
    async with FakeWeCom(fake.clock, token="another", aes_key=fake.aes_key) as other:
        other.connect(server.url + "/wecom/callback")
        assert await other.verify_url() == (403, "")


async def test_a_genuine_callback_is_stored_and_answered_with_an_empty_200(
    fake: FakeWeCom, server: Server, db: Database
) -> None:
    status, body = await fake.post(*fake.seal(TEXT_XML.format(corp=fake.corp_id)))
    assert (status, body) == (200, b"")
    (row,) = await inbox(db)
    assert (row.channel, row.dedupe_key) == ("wecom", "msg:7315938762845716489")
    # Who sent it, until the engine has processed it (the row then keeps no channel user id).
    assert row.channel_user_id == ("zhangsan" if row.status == "pending" else "")


def tampered_signature(query: dict[str, str]) -> dict[str, str]:
    last = query["msg_signature"][-1]
    return {**query, "msg_signature": query["msg_signature"][:-1] + ("0" if last != "0" else "1")}


async def test_what_must_not_get_in_is_refused_and_logged_without_content(
    fake: FakeWeCom, server: Server, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    xml = TEXT_XML.format(corp=fake.corp_id)
    body, query = fake.seal(xml)
    # Sealed for another corp with the same key and token: decrypts, but is not addressed to us.
    foreign = WeComCrypto(fake.token, fake.aes_key, "wwsomeoneelse")
    encrypted = foreign.encrypt(xml)
    foreign_body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    foreign_query = {**query, "msg_signature": foreign.signature(query["timestamp"], query["nonce"], encrypted)}
    cases = [
        (body, tampered_signature(query), 403),
        (body.replace(b"<Encrypt>", b"<Encrypt>A"), query, 403),  # the ciphertext changed under its signature
        (foreign_body, foreign_query, 403),
        (b"<xml><Encrypt>", query, 400),  # malformed XML
        (b"<!DOCTYPE xml [<!ENTITY a 'x'>]><xml><Encrypt>&a;</Encrypt></xml>", query, 400),
        (body, {k: v for k, v in query.items() if k != "nonce"}, 400),
        (b"<xml>" + b" " * MAX_CALLBACK_BYTES + b"</xml>", query, 413),
    ]
    for case_body, case_query, expected in cases:
        status, answer = await fake.post(case_body, case_query)
        assert (status, answer) == (expected, b"")
    assert await inbox(db) == []
    # One line for each kind (a second of the same kind within the minute is counted, not said).
    rejections = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert sorted(rejections) == [
        "WeCom callback rejected (BadReceiveId)",
        "WeCom callback rejected (BadSignature)",
        "WeCom callback rejected (MalformedPayload)",
        f"WeCom callback rejected (body over {MAX_CALLBACK_BYTES} bytes)",
    ]
    assert not any(SECRET_WORDS in r.getMessage() or encrypted[:20] in r.getMessage() for r in caplog.records)


async def test_a_callback_in_two_tcp_segments_is_read_whole(fake: FakeWeCom, server: Server, db: Database) -> None:
    fake.split_posts = True  # WeCom's servers may send the body in more than one segment
    status, body = await fake.post(*fake.seal(TEXT_XML.format(corp=fake.corp_id)))
    assert (status, body) == (200, b"")
    assert await fake.repost() == 200  # its retry, split too, is recognised as the same message
    (row,) = await inbox(db)
    assert row.dedupe_key == "msg:7315938762845716489"
    # The size limit still holds, however the body arrives.
    status, _ = await fake.post(b"<xml>" + b" " * MAX_CALLBACK_BYTES + b"</xml>", {"msg_signature": "x"})
    assert status == 413


async def test_a_replayed_or_misaddressed_callback_is_refused_and_a_flood_logs_a_line_a_minute(
    fake: FakeWeCom, server: Server, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback signed more than five minutes ago (recorded and replayed) or for another application of the
    enterprise is refused; a thousand forged posts make one line a minute, which says how many it left out."""
    recorded = fake.seal(TEXT_XML.format(corp=fake.corp_id))
    fake.clock.advance(minutes=5, seconds=1)
    assert await fake.post(*recorded) == (403, b"")
    early = fake.seal(TEXT_XML.format(corp=fake.corp_id).replace("7315938762845716489", "7315938762845716490"))
    fake.clock.advance(minutes=-11)
    assert await fake.post(*early) == (403, b"")
    fake.clock.advance(minutes=6)
    other_agent = TEXT_XML.format(corp=fake.corp_id).replace("<AgentID>1000002</AgentID>", "<AgentID>1000099</AgentID>")
    assert fake.agent_id == 1000002
    assert await fake.post(*fake.seal(other_agent)) == (403, b"")
    assert await inbox(db) == []
    assert await fake.post(*fake.seal(TEXT_XML.format(corp=fake.corp_id))) == (200, b"")  # in time and ours

    caplog.clear()
    body, query = fake.seal(TEXT_XML.format(corp=fake.corp_id))
    for _ in range(200):
        assert (await fake.post(body, tampered_signature(query)))[0] == 403
    fake.clock.advance(minutes=1)
    assert (await fake.post(body, tampered_signature(query)))[0] == 403
    lines = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert lines == [
        "WeCom callback rejected (BadSignature)",
        "WeCom callback rejected (BadSignature); 199 more since the last line",
    ]
