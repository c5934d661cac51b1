"""A development payment provider speaking Przelewy24's REST protocol on localhost, so that the
adapter that runs in development (services/payments/providers/p24.py) is the production code and
only EBOK_P24_BASE_URL differs. `make run` starts it (deploy/run_local.py); never production.

    EBOK_P24_MERCHANT_ID=100001 EBOK_P24_CRC=… EBOK_P24_API_KEY=… \
        python -m deploy.p24_dev_provider --port 8091

What it does, as P24 does: `POST /api/v1/transaction/register` (Basic auth POS id : API key,
`sign` checked) answers a token; `GET /trnRequest/{token}` is the payment page, where a person
picks a method and pays or declines; paying sends the signed status notification to the
transaction's urlStatus (asynchronously, again until it is answered 200, a few times) and sends
the payer back to urlReturn; `PUT /api/v1/transaction/verify` confirms; `GET
/api/v1/transaction/by/sessionId/{sessionId}` tells the state. No card data is asked for: it is
a stand-in.

`deliver_to` (tests): send notifications to this base URL instead of urlStatus's own origin (the
platform under test listens on a port chosen when it starts). `notify=False` loses every
notification (what reconciliation is for).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import html
import itertools
import json
import os
import secrets
import signal
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

# The same fields and JSON as the adapter signs (and as P24 documents them).
REGISTER_FIELDS = ("sessionId", "merchantId", "amount", "currency", "crc")
NOTIFICATION_FIELDS = (
    "merchantId",
    "posId",
    "sessionId",
    "amount",
    "originAmount",
    "currency",
    "orderId",
    "methodId",
    "statement",
    "crc",
)
VERIFY_FIELDS = ("sessionId", "orderId", "amount", "currency", "crc")
METHODS = {"154": "BLIK", "218": "Karta płatnicza", "25": "mTransfer", "31": "Płacę z iPKO"}
NOTIFY_ATTEMPTS = 5


def p24_sign(values: dict[str, Any], names: tuple[str, ...], crc: str) -> str:
    fields = {name: crc if name == "crc" else values[name] for name in names}
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha384(text.encode()).hexdigest()


@dataclass
class DevTransaction:
    token: str
    session_id: str
    amount: int
    currency: str
    description: str
    url_return: str
    url_status: str
    order_id: int
    status: int = 0  # 0 no payment, 1 paid awaiting verification, 2 paid and verified
    method_id: int | None = None
    declined: bool = False
    notifications: int = 0
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class DevProvider:
    def __init__(
        self,
        merchant_id: int,
        pos_id: int,
        crc: str,
        api_key: str,
        *,
        deliver_to: str | None = None,
        notify: bool = True,
        notify_delay: float = 0.2,
    ) -> None:
        self.merchant_id = merchant_id
        self.pos_id = pos_id or merchant_id
        self.crc = crc
        self.api_key = api_key
        self.deliver_to = deliver_to
        self.notify = notify
        self.notify_delay = notify_delay
        self.by_token: dict[str, DevTransaction] = {}
        self.by_session: dict[str, DevTransaction] = {}
        self._orders = itertools.count(300_000_000 + secrets.randbelow(1_000_000))
        self._tasks: set[asyncio.Task] = set()
        self.session: aiohttp.ClientSession | None = None

    # --- the merchant's API ------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return user == str(self.pos_id) and hmac.compare_digest(password, self.api_key)

    @staticmethod
    def _error(status: int, text: str) -> web.Response:
        return web.json_response({"error": text, "code": status}, status=status)

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    async def register(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Incorrect authentication")
        body = await self._json(request)
        required = (
            "merchantId",
            "posId",
            "sessionId",
            "amount",
            "currency",
            "description",
            "email",
            "country",
            "language",
            "urlReturn",
            "sign",
        )
        if body is None or any(k not in body for k in required):
            return self._error(400, "Invalid input data")
        if body["merchantId"] != self.merchant_id or body["posId"] != self.pos_id:
            return self._error(400, "Incorrect merchant")
        if not hmac.compare_digest(p24_sign(body, REGISTER_FIELDS, self.crc), str(body["sign"])):
            return self._error(400, "Incorrect CRC value")
        if body["sessionId"] in self.by_session:
            return self._error(409, "Transaction with this sessionId already exists")
        token = secrets.token_hex(16).upper()
        transaction = DevTransaction(
            token=token,
            session_id=str(body["sessionId"]),
            amount=int(body["amount"]),
            currency=str(body["currency"]),
            description=str(body["description"]),
            url_return=str(body["urlReturn"]),
            url_status=str(body.get("urlStatus") or ""),
            order_id=next(self._orders),
        )
        self.by_token[token] = transaction
        self.by_session[transaction.session_id] = transaction
        return web.json_response({"data": {"token": token}, "responseCode": 0})

    async def verify(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Incorrect authentication")
        body = await self._json(request)
        if body is None or any(k not in body for k in (*VERIFY_FIELDS[:-1], "sign")):
            return self._error(400, "Invalid input data")
        found = self.by_session.get(str(body["sessionId"]))
        if (
            found is None
            or found.status == 0
            or found.order_id != body["orderId"]
            or found.amount != body["amount"]
            or found.currency != body["currency"]
        ):
            return self._error(400, "Transaction not found or its data do not match")
        if not hmac.compare_digest(p24_sign(body, VERIFY_FIELDS, self.crc), str(body["sign"])):
            return self._error(400, "Incorrect CRC value")
        found.status = 2
        return web.json_response({"data": {"status": "success"}, "responseCode": 0})

    async def by_session_id(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Incorrect authentication")
        found = self.by_session.get(request.match_info["session_id"])
        if found is None:
            return self._error(404, "Transaction not found")
        return web.json_response(
            {
                "data": {
                    "statement": self._statement(found),
                    "orderId": found.order_id,
                    "sessionId": found.session_id,
                    "status": found.status,
                    "amount": found.amount,
                    "currency": found.currency,
                    "date": found.created_at.strftime("%Y%m%d%H%M"),
                    "dateOfTransaction": found.created_at.strftime("%Y%m%d%H%M"),
                    "clientEmail": "",
                    "accountMD5": "",
                    "paymentMethod": found.method_id or 0,
                    "description": found.description,
                    "clientName": "",
                    "clientAddress": "",
                    "clientCity": "",
                    "clientPostcode": "",
                    "batchId": 0,
                    "fee": "0",
                },
                "responseCode": 0,
            }
        )

    # --- the payer's page --------------------------------------------------------------------

    async def page(self, request: web.Request) -> web.Response:
        found = self.by_token.get(request.match_info["token"])
        if found is None:
            return web.Response(status=404, text="Nieznana transakcja / unknown transaction")
        options = "".join(
            f'<p><label><input type="radio" name="method" value="{m}"'
            f"{' checked' if i == 0 else ''}> {html.escape(name)}</label></p>"
            for i, (m, name) in enumerate(METHODS.items())
        )
        amount = f"{found.amount // 100}.{found.amount % 100:02d} {found.currency}"
        state = (
            "<p>Opłacona / paid.</p>"
            if found.status
            else "<p>Odrzucona / declined.</p>"
            if found.declined
            else ""
        )
        page = f"""<!doctype html><html lang="pl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Przelewy24 (development)</title></head><body><main>
<h1>Przelewy24 — dostawca deweloperski / development provider</h1>
<p>{html.escape(found.description)}</p><p><strong>{html.escape(amount)}</strong></p>{state}
<form method="post" action="/trnRequest/{found.token}/pay"><fieldset>
<legend>Metoda płatności / payment method</legend>{options}</fieldset>
<button type="submit">Zapłać / Pay</button></form>
<form method="post" action="/trnRequest/{found.token}/decline">
<button type="submit">Odrzuć / Decline</button></form></main></body></html>"""
        return web.Response(text=page, content_type="text/html")

    async def pay(self, request: web.Request) -> web.Response:
        found = self.by_token.get(request.match_info["token"])
        if found is None:
            return web.Response(status=404, text="unknown transaction")
        form = await request.post()
        method = str(form.get("method", "154"))
        if found.status == 0 and not found.declined:
            found.status = 1
            found.method_id = int(method) if method.isdigit() else 154
            self._spawn(self._notify(found))
        raise web.HTTPSeeOther(found.url_return)

    async def decline(self, request: web.Request) -> web.Response:
        found = self.by_token.get(request.match_info["token"])
        if found is None:
            return web.Response(status=404, text="unknown transaction")
        if found.status == 0:
            found.declined = True
        raise web.HTTPSeeOther(found.url_return)

    # --- notifications -----------------------------------------------------------------------

    def _statement(self, t: DevTransaction) -> str:
        return f"p24-dev-{t.order_id}"

    def notification(self, t: DevTransaction) -> dict[str, Any]:
        """The signed status notification of a paid transaction."""
        body: dict[str, Any] = {
            "merchantId": self.merchant_id,
            "posId": self.pos_id,
            "sessionId": t.session_id,
            "amount": t.amount,
            "originAmount": t.amount,
            "currency": t.currency,
            "orderId": t.order_id,
            "methodId": t.method_id or 154,
            "statement": self._statement(t),
        }
        body["sign"] = p24_sign(body, NOTIFICATION_FIELDS, self.crc)
        return body

    def _target(self, url_status: str) -> str:
        if not self.deliver_to:
            return url_status
        base = urlsplit(self.deliver_to)
        parts = urlsplit(url_status)
        return urlunsplit(parts._replace(scheme=base.scheme, netloc=base.netloc))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _notify(self, t: DevTransaction) -> None:
        if not self.notify or not t.url_status:
            return
        assert self.session is not None
        delay = self.notify_delay
        for _ in range(NOTIFY_ATTEMPTS):
            await asyncio.sleep(delay)
            t.notifications += 1
            try:
                async with self.session.post(
                    self._target(t.url_status), json=self.notification(t)
                ) as resp:
                    if resp.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            delay *= 3

    # --- the app -----------------------------------------------------------------------------

    async def _session(self, _app: web.Application) -> Any:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        yield
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.session.close()

    def app(self) -> web.Application:
        app = web.Application()
        app.cleanup_ctx.append(self._session)
        app.router.add_post("/api/v1/transaction/register", self.register)
        app.router.add_put("/api/v1/transaction/verify", self.verify)
        app.router.add_get("/api/v1/transaction/by/sessionId/{session_id}", self.by_session_id)
        app.router.add_get("/trnRequest/{token}", self.page)
        app.router.add_post("/trnRequest/{token}/pay", self.pay)
        app.router.add_post("/trnRequest/{token}/decline", self.decline)
        return app


async def start(provider: DevProvider, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `provider`; its runner and base URL (port 0: a free one)."""
    runner = web.AppRunner(provider.app(), shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://{host}:{bound}"


async def serve(args: argparse.Namespace) -> None:
    provider = DevProvider(args.merchant_id, args.pos_id, args.crc, args.api_key)
    runner, url = await start(provider, args.host, args.port)
    print(f"development Przelewy24 at {url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    # The credentials come as the payments service reads them (EBOK_P24_*), so the keys are
    # not on a command line for every process list to show.
    env = os.environ
    parser.add_argument("--merchant-id", type=int, default=int(env.get("EBOK_P24_MERCHANT_ID", 0)))
    parser.add_argument("--pos-id", type=int, default=int(env.get("EBOK_P24_POS_ID", 0)))
    parser.add_argument("--crc", default=env.get("EBOK_P24_CRC", ""))
    parser.add_argument("--api-key", default=env.get("EBOK_P24_API_KEY", ""))
    args = parser.parse_args()
    if not (args.merchant_id and args.crc and args.api_key):
        parser.error("set EBOK_P24_MERCHANT_ID, EBOK_P24_CRC and EBOK_P24_API_KEY")
    if env.get("EBOK_ENV") == "production":
        parser.error("a development tool: not with EBOK_ENV=production")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
