"""A development mailbox: a real SMTP server (aiosmtpd) that keeps what it receives, and a small
web page to read it. `make run` starts it unless EBOK_SMTP_HOST points elsewhere; the tests use
the same server in-process.

    python -m deploy.mailbox --smtp-port 8025 --http-port 8090
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import html
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class ReceivedMail:
    received_at: datetime
    mail_from: str
    rcpt_to: list[str]
    message: EmailMessage
    raw: bytes

    @property
    def template(self) -> str | None:
        return self.message.get("X-Ebok-Template")

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))

    @property
    def to(self) -> str:
        return str(self.message.get("To", ""))

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None else ""


@dataclass
class MailStore:
    """Everything received, in order; waiters are woken on every arrival."""

    directory: Path | None = None
    messages: list[ReceivedMail] = field(default_factory=list)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def add(self, mail: ReceivedMail) -> None:
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            stamp = mail.received_at.strftime("%Y%m%dT%H%M%S%f")
            (self.directory / f"{stamp}.eml").write_bytes(mail.raw)
        async with self._changed:
            self.messages.append(mail)
            self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[ReceivedMail]], bool], timeout: float = 30.0
    ) -> list[ReceivedMail]:
        """Wait until `predicate(messages)` holds; TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: predicate(self.messages))
            return list(self.messages)

    def to_address(self, address: str) -> list[ReceivedMail]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_to)]


class _StoreHandler:
    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        await self.store.add(
            ReceivedMail(
                received_at=datetime.now(UTC),
                mail_from=envelope.mail_from or "",
                rcpt_to=list(envelope.rcpt_tos),
                message=message,  # type: ignore[arg-type]
                raw=raw,
            )
        )
        return "250 Message accepted for delivery"


async def start_smtp_server(store: MailStore, host: str, port: int) -> asyncio.Server:
    """An SMTP server on the running loop (port 0 picks a free one)."""
    loop = asyncio.get_running_loop()
    handler = _StoreHandler(store)
    return await loop.create_server(
        lambda: SMTP(handler, hostname="ebok-mailbox", enable_SMTPUTF8=True), host, port
    )


def mailbox_web_app(store: MailStore) -> web.Application:
    async def index(_request: web.Request) -> web.Response:
        rows = "".join(
            f"<tr><td>{i}</td><td>{m.received_at:%Y-%m-%d %H:%M:%S}</td>"
            f"<td>{html.escape(m.to)}</td><td>{html.escape(m.template or '')}</td>"
            f'<td><a href="/messages/{i}">{html.escape(m.subject)}</a></td></tr>'
            for i, m in reversed(list(enumerate(store.messages)))
        )
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>e-BOK mailbox</title>"
            "<meta http-equiv='refresh' content='5'></head><body style='font-family:sans-serif'>"
            f"<h1>e-BOK development mailbox</h1><p>{len(store.messages)} message(s)</p>"
            "<table border='1' cellpadding='4'><tr><th>#</th><th>received (UTC)</th><th>to</th>"
            f"<th>template</th><th>subject</th></tr>{rows}</table></body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def show(request: web.Request) -> web.Response:
        try:
            mail = store.messages[int(request.match_info["index"])]
        except (ValueError, IndexError):
            raise web.HTTPNotFound() from None
        page = (
            "<!DOCTYPE html><html><head><meta charset='utf-8'></head>"
            "<body style='font-family:sans-serif'><p><a href='/'>&larr; all messages</a></p>"
            f"<p><b>To:</b> {html.escape(mail.to)}<br><b>Subject:</b> {html.escape(mail.subject)}"
            f"<br><b>Template:</b> {html.escape(mail.template or '')}</p>"
            f"<h3>Text</h3><pre>{html.escape(mail.body('plain'))}</pre>"
            f"<h3>HTML</h3><iframe style='width:100%;height:400px' "
            f'srcdoc="{html.escape(mail.body("html"))}"></iframe></body></html>'
        )
        return web.Response(text=page, content_type="text/html")

    async def as_json(_request: web.Request) -> web.Response:
        return web.json_response(
            [
                {
                    "index": i,
                    "to": m.to,
                    "subject": m.subject,
                    "template": m.template,
                    "received_at": m.received_at.isoformat(),
                    "text": m.body("plain"),
                }
                for i, m in enumerate(store.messages)
            ]
        )

    async def live(_request: web.Request) -> web.Response:
        # For the container's health check (python -m deploy.healthcheck): the process answers.
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/health/live", live)
    app.router.add_get("/", index)
    app.router.add_get("/messages/{index}", show)
    app.router.add_get("/messages.json", as_json)
    return app


async def serve(host: str, smtp_port: int, http_port: int, directory: Path | None) -> None:
    store = MailStore(directory=directory)
    server = await start_smtp_server(store, host, smtp_port)
    runner = web.AppRunner(mailbox_web_app(store))
    await runner.setup()
    await web.TCPSite(runner, host, http_port).start()
    print(f"mailbox: SMTP on {host}:{smtp_port}, read at http://{host}:{http_port}/", flush=True)
    stop = asyncio.Event()
    # Explicit handlers: a process started in the background may inherit SIGINT as ignored.
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=8090)
    parser.add_argument("--directory", type=Path, default=None, help="also keep .eml files here")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.host, args.smtp_port, args.http_port, args.directory))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
