"""Email delivery against real PostgreSQL and a real SMTP server (aiosmtpd, in-process): a
crash after the SMTP server took an email repeats that email at most, never one sent before
it, and every attempt at one email carries the same Message-ID."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from deploy.mailbox import MailStore, start_smtp_server
from services.notifications.delivery import Mailer
from shared.db import owner_role
from shared.events import identity as events
from shared.tx import Database
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra
from tests.support.tls import make_server_certificate


@pytest_asyncio.fixture(loop_scope="session")
async def notifications(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("notifications", infra, keys) as handlers:
        yield handlers


@pytest_asyncio.fixture(loop_scope="session")
async def mailbox() -> AsyncIterator[tuple[MailStore, int]]:
    store = MailStore()
    server = await start_smtp_server(store, "127.0.0.1", 0)
    yield store, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def as_owner(handlers: ServiceHandlers, sql: str) -> None:
    conn = await asyncpg.connect(handlers.settings.service_dsn("notifications"))
    try:
        await conn.execute(
            f'SET ROLE "{owner_role(handlers.settings.database_name("notifications"))}"'
        )
        await conn.execute(sql)
    finally:
        await conn.close()


def mailer(handlers: ServiceHandlers, port: int) -> Mailer:
    settings = handlers.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "email_retry_base_seconds": 0.0}
    )
    return Mailer(Database(handlers.pool, "notifications", settings))


async def queue_emails(handlers: ServiceHandlers, count: int) -> list[str]:
    """`count` "Account activation" emails, each to an address of its own, oldest first."""
    addresses = []
    for _ in range(count):
        address = f"owner.{secrets.token_hex(4)}@example.com"
        await handlers.deliver(
            events.AccountActivated(
                account_id=uuid.uuid4(), email=address, language="pl", login="e1"
            )
        )
        addresses.append(address)
    return addresses


async def test_a_crash_after_the_hand_over_repeats_no_email_sent_before_it(
    notifications: ServiceHandlers, mailbox: tuple[MailStore, int]
) -> None:
    store, port = mailbox
    first, second, third = await queue_emails(notifications, 3)
    # The process dies right after the SMTP server has taken the second email: here, its
    # "sent" mark fails, which rolls back whatever that transaction holds.
    # (as the database's owner: the service's own role may not change the schema)
    await as_owner(
        notifications,
        f"""CREATE FUNCTION crash() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.status = 'sent' AND NEW.recipient = '{second}' THEN
                RAISE EXCEPTION 'the process died';
              END IF;
              RETURN NEW;
            END $$;
            CREATE TRIGGER crash BEFORE UPDATE ON emails FOR EACH ROW EXECUTE FUNCTION crash();""",
    )
    with pytest.raises(Exception, match="the process died"):
        await mailer(notifications, port).deliver_due()
    await as_owner(notifications, "DROP TRIGGER crash ON emails; DROP FUNCTION crash();")

    # After the restart: what was not marked sent goes out again.
    await mailer(notifications, port).deliver_due()
    received = [m.rcpt_to[0] for m in store.messages]
    assert received.count(first) == 1, received
    assert received.count(second) == 2, "at least once: the unmarked one is repeated"
    assert received.count(third) == 1, received
    ids = {m.rcpt_to[0]: set() for m in store.messages}
    for m in store.messages:
        ids[m.rcpt_to[0]].add(m.message["Message-ID"])
    assert len(ids[second]) == 1, "both copies are the same message"
    assert ids[first] != ids[second]


class _RefusingFirst:
    """Refuses each message's first delivery (451, try later), keeping its Message-ID."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        header = next(
            line for line in raw.decode().splitlines() if line.lower().startswith("message-id:")
        )
        self.seen.append(header.split(":", 1)[1].strip())
        if self.seen.count(self.seen[-1]) == 1:
            return "451 Try again later"
        return "250 Message accepted for delivery"


async def test_every_attempt_at_an_email_has_the_same_message_id(
    notifications: ServiceHandlers,
) -> None:
    handler = _RefusingFirst()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="refusing"), "127.0.0.1", 0
    )
    try:
        port = server.sockets[0].getsockname()[1]
        [address] = await queue_emails(notifications, 1)
        sender = mailer(notifications, port)
        await sender.deliver_due()  # refused: deferred
        await sender.deliver_due()  # taken
    finally:
        server.close()
        await server.wait_closed()
    assert len(handler.seen) == 2 and handler.seen[0] == handler.seen[1], handler.seen
    assert handler.seen[0].endswith("@localhost>"), "at the sender's domain (EBOK_MAIL_FROM)"
    [status] = await notifications.fetch("SELECT status FROM emails WHERE recipient = $1", address)
    assert status[0] == "sent"


class _Recording:
    """Takes every message, noting whether the session was encrypted and authenticated."""

    def __init__(self) -> None:
        self.sessions: list[tuple[bool, bool, list[str]]] = []

    async def handle_DATA(self, _server: SMTP, session: Session, envelope: Envelope) -> str:
        self.sessions.append((session.ssl is not None, session.authenticated, envelope.rcpt_tos))
        return "250 Message accepted for delivery"


def _accept_ebok(
    _server: SMTP, _session: Session, _envelope: Envelope, _mechanism: str, data: object
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        b"ebok",
        b"smtp-Secret-9",
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


async def _serve(handler: _Recording, **smtp: object) -> asyncio.Server:
    return await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="127.0.0.1", **smtp),
        "127.0.0.1",
        0,  # type: ignore[arg-type]
    )


def _secure_mailer(handlers: ServiceHandlers, port: int, ca_file: Path, password: str) -> Mailer:
    settings = handlers.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_security": "starttls",
            "smtp_username": "ebok",
            "smtp_password": SecretStr(password),
            "smtp_ca_file": ca_file,
        }
    )
    return Mailer(Database(handlers.pool, "notifications", settings))


async def test_starttls_and_authentication_when_the_settings_ask(
    notifications: ServiceHandlers, tmp_path: Path
) -> None:
    ca_file, context = make_server_certificate(tmp_path)
    handler = _Recording()
    server = await _serve(
        handler,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_accept_ebok,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        [refused] = await queue_emails(notifications, 1)
        await _secure_mailer(notifications, port, ca_file, "wrong-password").deliver_due()
        [row] = await notifications.fetch(
            "SELECT status, last_error FROM emails WHERE recipient = $1", refused
        )
        assert row["status"] == "pending" and "SMTPAuthenticationError" in row["last_error"]
        assert "wrong-password" not in row["last_error"]

        await notifications.execute("UPDATE emails SET next_attempt_at = now()")
        await _secure_mailer(notifications, port, ca_file, "smtp-Secret-9").deliver_due()
    finally:
        server.close()
        await server.wait_closed()
    assert handler.sessions == [(True, True, [refused])]


async def test_no_plain_text_fallback_when_starttls_is_asked_for(
    notifications: ServiceHandlers, tmp_path: Path
) -> None:
    ca_file, _context = make_server_certificate(tmp_path)
    handler = _Recording()
    server = await _serve(handler)  # offers no STARTTLS
    port = server.sockets[0].getsockname()[1]
    try:
        [address] = await queue_emails(notifications, 1)
        await _secure_mailer(notifications, port, ca_file, "smtp-Secret-9").deliver_due()
    finally:
        server.close()
        await server.wait_closed()
    assert handler.sessions == []
    [row] = await notifications.fetch(
        "SELECT status, last_error FROM emails WHERE recipient = $1", address
    )
    assert row["status"] == "pending" and "STARTTLS" in row["last_error"], row["last_error"]


def test_starttls_is_the_default_outside_development() -> None:
    from shared.settings import Settings

    assert Settings(env="production").smtp_transport_security == "starttls"
    assert Settings(env="development").smtp_transport_security == "none"
    assert Settings(env="production", smtp_security="tls").smtp_transport_security == "tls"
    with pytest.raises(ValueError, match="EBOK_SMTP_USERNAME and EBOK_SMTP_PASSWORD go together"):
        Settings(env="production", smtp_username="ebok")
