"""Government networks: WeCom reached through the environment's proxy (HTTPS_PROXY), its TLS checked against a
CA bundle of the network's own (BAOMI_WECOM_CA_FILE), and a token lifetime too short to use kept at its floor."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from bot.channels.wecom.channel import SETUP_PAUSE
from bot.channels.wecom.client import TOKEN_FLOOR, token_lifetime
from bot.clock import SettableClock
from bot.config import ConfigError, Settings
from bot.core.flow import Priority, Reply
from bot.core.outbox_rows import send_to_staff
from bot.db.models import OutboxMessage
from bot.db.session import Database
from bot.testing.fake_wecom import FakeWeCom, serving, settle
from bot.testing.seed import seed_bound_staff
from tests.conftest import TZ


# --- a certificate authority of the network's own, and its proxy -----------------------------------------------
@dataclass
class Authority:
    ca_file: Path
    server: ssl.SSLContext


def make_authority(folder: Path) -> Authority:
    """A CA, and a certificate it signed for 127.0.0.1 (the fake WeCom behind the network's TLS inspection)."""
    now = datetime.now(UTC)  # certificates are checked against the real clock, not the test's

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey, ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "某局网络 CA")])
    ca_cert = certificate("某局网络 CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = certificate("127.0.0.1", key, ca_name, ca_key, ca=False)
    ca_file = folder / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(chain)
    return Authority(ca_file, server)


@dataclass
class Proxy:
    """An HTTP proxy that tunnels CONNECT requests, as a government network's egress proxy does."""

    tunnels: list[str] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        if method != "CONNECT":
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            writer.close()
            return
        self.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except ConnectionError:
                pass
            finally:
                sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def proxy() -> AsyncIterator[Proxy]:
    found = Proxy()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    found.port = server.sockets[0].getsockname()[1]
    async with server:
        yield found


async def queue_one(db: Database, clock: SettableClock, text: str) -> None:
    async with db.transaction() as s:
        await send_to_staff(s, clock.now(), 1, Reply(text), Priority.ALERT, "test")


async def statuses(db: Database) -> list[str]:
    async with db.sessions() as s:
        return list((await s.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id))).all())


# --- the tests -------------------------------------------------------------------------------------------------
async def test_wecom_is_reached_through_the_proxy_with_the_networks_own_ca(
    db_url: str,
    db: Database,
    clock: SettableClock,
    proxy: Proxy,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock.set(datetime(2026, 3, 2, 9, 41, 10, tzinfo=TZ))
    authority = make_authority(tmp_path)
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.port}")
    await seed_bound_staff(db, clock.now(), 1, department="信息中心", prefix="K", channel="wecom")
    async with FakeWeCom(clock, ssl=authority.server) as fake:
        assert fake.api_url.startswith("https://")
        # Without the network's CA, its certificate is not trusted: nothing goes out, nothing is lost.
        untrusting = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
        with caplog.at_level(logging.ERROR, logger="baomi.wecom"):
            async with serving(untrusting, clock, fake) as server:
                await queue_one(db, clock, "一")
                await settle(server.app)
        assert await statuses(db) == ["pending"] and fake.calls() == []
        assert any("BAOMI_WECOM_CA_FILE" in r.getMessage() for r in caplog.records)
        trusting = Settings(
            database_url=db_url, timezone=TZ, wecom=replace(fake.settings(), ca_file=str(authority.ca_file))
        )
        async with serving(trusting, clock, fake) as server:
            clock.advance(seconds=SETUP_PAUSE.total_seconds())  # the row waited, without losing an attempt
            server.app.dispatcher.wake()
            await settle(server.app)
        assert [m.text for m in fake.messages("u001")] == ["一"] and await statuses(db) == ["sent"]
        async with db.sessions() as s:
            assert await s.scalar(select(OutboxMessage.attempts)) == 1
    # Every call went through the proxy's tunnel to WeCom.
    assert proxy.tunnels and set(proxy.tunnels) == {f"127.0.0.1:{fake.port}"}


async def test_a_token_announced_to_live_only_seconds_is_kept_a_minute(
    db_url: str, db: Database, clock: SettableClock
) -> None:
    clock.set(datetime(2026, 3, 2, 9, 41, 10, tzinfo=TZ))
    await seed_bound_staff(db, clock.now(), 1, department="信息中心", prefix="K", channel="wecom")
    async with FakeWeCom(clock, token_lifetime=40) as fake:
        settings = Settings(database_url=db_url, timezone=TZ, wecom=fake.settings())
        async with serving(settings, clock, fake) as server:
            for second in range(0, 40, 8):  # five messages within the token's 40 seconds
                clock.set(datetime(2026, 3, 2, 9, 41, 10 + second, tzinfo=TZ))
                await queue_one(db, clock, f"第 {second} 秒")
                server.app.dispatcher.wake()
                await settle(server.app)
        # One token for all five: refreshing "a little early" must not mean before every call.
        assert len(fake.calls("gettoken")) == 1 and len(fake.messages("u001")) == 5


@pytest.mark.parametrize(
    ("expires_in", "kept"),
    [(7200, 6900), (600, 300), (40, 60), (0, 60), (-5, 60), ("soon", 60)],
)
def test_token_lifetimes(expires_in: object, kept: int) -> None:
    assert token_lifetime(expires_in) == timedelta(seconds=kept)
    assert token_lifetime(expires_in) >= TOKEN_FLOOR


def test_the_network_settings_are_read_and_checked(tmp_path: Path) -> None:
    env = {
        "BAOMI_WECOM_CORP_ID": "ww1",
        "BAOMI_WECOM_AGENT_ID": "1000002",
        "BAOMI_WECOM_SECRET": "s",
        "BAOMI_WECOM_TOKEN": "t",
        "BAOMI_WECOM_AES_KEY": "k" * 43,
    }
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    wecom = Settings.from_env(
        {**env, "BAOMI_WECOM_CA_FILE": str(ca), "BAOMI_WECOM_ACCOUNT_LIMIT": "500"}, tmp_path
    ).wecom
    assert wecom is not None and (wecom.ca_file, wecom.account_limit) == (str(ca), 500)
    for bad, value, message in [
        ("BAOMI_WECOM_CA_FILE", str(tmp_path / "missing.pem"), "is not a file"),
        ("BAOMI_WECOM_ACCOUNT_LIMIT", "many", "账号上限数"),
        ("BAOMI_WECOM_ACCOUNT_LIMIT", "0", "账号上限数"),
    ]:
        with pytest.raises(ConfigError, match=message):
            Settings.from_env({**env, bad: value}, tmp_path)
