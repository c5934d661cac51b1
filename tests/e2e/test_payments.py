"""Paying invoices online through the gateway, against the development Przelewy24
(deploy/p24_dev_provider.py) speaking the real protocol to the production adapter: the payer's
redirect, the provider's signed notification, verification, idempotency keys, tampered and
replayed notifications, an unreachable provider, and a lost notification settled by
reconciliation."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from deploy.p24_dev_provider import NOTIFICATION_FIELDS, DevProvider, p24_sign, start
from services.payments.keys import PROVIDER
from shared.events import erp
from shared.http.internal import CLIENT_IP_HEADER, INTERNAL_TOKEN_HEADER
from tests.support.erp import Customer, publish_customer
from tests.support.flows import access_token, registered_account
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

MERCHANT, CRC, API_KEY = 100001, secrets.token_hex(8), secrets.token_urlsafe(16)
RETURN_URL = "https://ebok.test/payments/return"


@dataclass
class World:
    stack: Stack
    provider: DevProvider
    provider_url: str


@dataclass
class Payer:
    customer: Customer
    token: str
    second_invoice: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infra, keys: Path) -> AsyncIterator[World]:
    provider = DevProvider(MERCHANT, MERCHANT, CRC, API_KEY, notify_delay=0.1)
    runner, url = await start(provider, "127.0.0.1", 0)
    try:
        async for stack in start_stack(
            infra,
            keys,
            p24_base_url=url,
            p24_merchant_id=MERCHANT,
            p24_pos_id=MERCHANT,
            p24_crc=CRC,
            p24_api_key=API_KEY,
            payments_reconcile_after_seconds=3.0,
            payments_reconcile_poll_seconds=0.5,
            p24_timeout_seconds=1.0,
            # Far above what the other tests send from one address; the limit's test sends more.
            payment_notifications_per_window=80,
            payment_notification_window_seconds=3600,
        ):
            # The platform's public URL is not this one: the notifications go to its gateway.
            provider.deliver_to = stack.platform.urls["gateway"]
            yield World(stack, provider, url)
    finally:
        await runner.cleanup()


async def payer(world: World) -> Payer:
    """A registered customer with two invoices (108.00 each) that payments knows of."""
    stack = world.stack
    customer = await publish_customer(stack.erp)
    second = customer.invoice_number + "-2"
    first_due = stack.platform.settings.today()
    await stack.erp.publish(
        "erp.invoice.issued",
        erp.InvoiceIssued(
            invoice_number=second,
            customer_id=customer.customer_id,
            contract_number=f"U-{customer.customer_id.removeprefix('C-')}",
            issued_on=first_due - timedelta(days=1),
            due_on=first_due + timedelta(days=30),
            period_from=first_due - timedelta(days=20),
            period_to=first_due - timedelta(days=1),
            net=Decimal("100.00"),
            vat=Decimal("8.00"),
            gross=Decimal("108.00"),
        ),
    )
    account = await registered_account(stack, customer=customer)
    conn = await stack.platform.db("payments")
    try:
        await wait_until(
            lambda: conn.fetchval(
                "SELECT count(*) = 2 FROM invoices WHERE customer_id = $1", customer.customer_id
            ),
            what="payments to learn the invoices",
        )
        await wait_until(
            lambda: conn.fetchval(
                "SELECT email IS NOT NULL FROM customers WHERE customer_id = $1",
                customer.customer_id,
            ),
            what="payments to learn the customer",
        )
    finally:
        await conn.close()
    return Payer(customer, await access_token(stack, account), second)


async def pay(
    world: World, who: Payer, body: dict[str, Any], key: str | None = None
) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {who.token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with world.stack.api.session.post(
        world.stack.api.base_url + "/api/v1/payments", json=body, headers=headers
    ) as resp:
        answer = await resp.json(content_type=None)
        world.stack.api.recorded.append(
            ("POST", resp.url.raw_path, resp.status, resp.content_type, answer)
        )
        return resp.status, answer


def new_key() -> str:
    return secrets.token_urlsafe(16)


def body(**overrides: Any) -> dict[str, Any]:
    base = {"invoices": "all-due", "amount": "216.00", "method": "blik", "return_url": RETURN_URL}
    return base | overrides


async def payment(world: World, who: Payer, payment_id: str) -> dict:
    status, found = await world.stack.api.request(
        "GET", f"/api/v1/payments/{payment_id}", token=who.token
    )
    assert status == 200, found
    return found  # type: ignore[return-value]


async def person_pays(world: World, redirect_url: str, choice: str = "pay") -> None:
    """What the payer does on the provider's page: pick a method, pay (or decline)."""
    assert redirect_url.startswith(world.provider_url + "/trnRequest/")
    async with aiohttp.ClientSession() as browser:
        async with browser.get(redirect_url) as page:
            assert page.status == 200
            assert "Zapłać" in await page.text()
        async with browser.post(
            redirect_url + "/" + choice, data={"method": "154"}, allow_redirects=False
        ) as done:
            assert done.status == 303
            assert done.headers["Location"] == RETURN_URL


async def final(world: World, who: Payer, payment_id: str) -> dict:
    async def settled() -> dict | None:
        found = await payment(world, who, payment_id)
        return found if found["status"] not in ("created", "pending") else None

    return await wait_until(settled, what="the payment to settle")  # type: ignore[return-value]


async def rows(world: World, sql: str, *args: object) -> list:
    conn = await world.stack.platform.db("payments")
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def completed_events(world: World, payment_id: str) -> list[dict]:
    """The payments.payment.completed events of the payment in payments' outbox."""
    found = await rows(
        world, "SELECT body FROM outbox WHERE routing_key = 'payments.payment.completed'"
    )
    payloads = [json.loads(r["body"])["payload"] for r in found]
    return [p for p in payloads if p["payment_id"] == payment_id]


@pytest.mark.asyncio(loop_scope="session")
async def test_pay_two_invoices_through_the_provider(world: World) -> None:
    who = await payer(world)
    status, created = await pay(world, who, body(), new_key())
    assert status == 201, created
    assert created["status"] == "pending"
    assert created["amount"] == "216.00"
    assert {i["invoice_number"] for i in created["invoices"]} == {
        who.customer.invoice_number,
        who.second_invoice,
    }
    await person_pays(world, created["redirect_url"])
    paid = await final(world, who, created["payment_id"])
    assert paid["status"] == "paid", paid
    # Verified with the provider before it was paid; one accepted notification.
    transaction = world.provider.by_session[created["payment_id"]]
    assert transaction.status == 2
    verdicts = await rows(
        world,
        "SELECT verdict FROM provider_notifications WHERE payment_id = $1",
        uuid.UUID(created["payment_id"]),
    )
    assert [r["verdict"] for r in verdicts].count("accepted") == 1
    events = await completed_events(world, created["payment_id"])
    assert len(events) == 1
    event = events[0]
    assert event["amount"] == "216.00" and event["method"] == "blik"
    assert event["provider_transaction_id"] == str(transaction.order_id)

    # Billing shows both invoices paid at once (awaiting the ERP's booking) and nothing due.
    async def billed_paid() -> bool:
        status, page = await world.stack.api.request("GET", "/api/v1/invoices", token=who.token)
        return status == 200 and {i["status"] for i in page["items"]} == {"paid"}

    await wait_until(billed_paid, what="billing to show the invoices paid")
    status, balance = await world.stack.api.request("GET", "/api/v1/balance", token=who.token)
    assert status == 200 and balance["amount_due"] == "0.00", balance
    # Nothing is due any more: paying again is refused, naming the field.
    status, refused = await pay(world, who, body(amount="1.00"), new_key())
    assert status == 422, refused
    assert refused["errors"][0]["field"] == "invoices"
    status, page = await world.stack.api.request("GET", "/api/v1/payments", token=who.token)
    assert status == 200 and page["items"][0]["payment_id"] == created["payment_id"]


@pytest.mark.asyncio(loop_scope="session")
async def test_idempotency_key(world: World) -> None:
    who = await payer(world)
    key = new_key()
    status, first = await pay(world, who, body(amount="10.00"), key)
    assert status == 201, first
    status, again = await pay(world, who, body(amount="10.00"), key)
    assert status == 201 and again == first
    status, other = await pay(world, who, body(amount="11.00"), key)
    assert status == 409, other
    status, missing = await pay(world, who, body(amount="10.00"))
    assert status == 400 and missing["errors"][0]["field"] == "Idempotency-Key", missing
    found = await rows(
        world,
        "SELECT count(*) AS n FROM payments WHERE customer_id = $1",
        who.customer.customer_id,
    )
    assert found[0]["n"] == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_bad_requests_name_the_field(world: World) -> None:
    who = await payer(world)
    cases = [
        (body(amount="0.99"), "amount"),
        (body(amount="216.01"), "amount"),
        (body(return_url="https://evil.example/x"), "return_url"),
        (body(method="pay-by-link"), "bank"),
        (body(invoices=["FV/NOT/MINE"]), "invoices"),
    ]
    for request, field in cases:
        status, problem = await pay(world, who, request, new_key())
        assert status == 422, (request, problem)
        assert problem["errors"][0]["field"] == field, problem
    status, over = await pay(world, who, body(amount="300.00", confirm_overpayment=True), new_key())
    assert status == 201 and over["amount"] == "300.00", over
    assert sum(Decimal(i["amount"]) for i in over["invoices"]) == Decimal("216.00")


@pytest.mark.asyncio(loop_scope="session")
async def test_another_customers_payment_is_not_found(world: World) -> None:
    a, b = await payer(world), await payer(world)
    status, created = await pay(world, a, body(amount="5.00"), new_key())
    assert status == 201
    status, _ = await world.stack.api.request(
        "GET", f"/api/v1/payments/{created['payment_id']}", token=b.token
    )
    assert status == 404
    status, page = await world.stack.api.request("GET", "/api/v1/payments", token=b.token)
    assert status == 200 and page["items"] == []


async def notify(world: World, notification: dict[str, Any]) -> tuple[int, object]:
    return await world.stack.api.request(
        "POST", "/api/v1/payments/notifications/p24", json=notification
    )


def signed(notification: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in notification.items() if k != "sign"}
    return fields | {"sign": p24_sign(fields, NOTIFICATION_FIELDS, CRC)}


@pytest.mark.asyncio(loop_scope="session")
async def test_tampered_and_replayed_notifications(world: World) -> None:
    who = await payer(world)
    world.provider.notify = False  # the test sends the notifications itself
    try:
        status, created = await pay(world, who, body(amount="50.00"), new_key())
        assert status == 201, created
        await person_pays(world, created["redirect_url"])
    finally:
        world.provider.notify = True
    genuine = world.provider.notification(world.provider.by_session[created["payment_id"]])
    bad_sign = genuine | {"amount": 1}  # signed for 50.00, claims 0.01
    other_amount = signed(genuine | {"amount": 4000, "originAmount": 4000})
    unknown = signed(genuine | {"sessionId": str(uuid.uuid4())})
    for tampered in (bad_sign, other_amount, unknown, {"sessionId": "x"}):
        status, problem = await notify(world, tampered)
        assert status == 400, problem
    assert (await payment(world, who, created["payment_id"]))["status"] == "pending"
    for _ in range(2):  # the genuine one, twice
        status, answer = await notify(world, genuine)
        assert status == 200, answer
    assert (await payment(world, who, created["payment_id"]))["status"] == "paid"
    assert len(await completed_events(world, created["payment_id"])) == 1
    recorded = await rows(
        world,
        "SELECT verdict FROM provider_notifications WHERE body LIKE $1 ORDER BY notification_id",
        f"%{created['payment_id']}%",
    )
    verdicts = [r["verdict"] for r in recorded]
    assert verdicts[:2] == ["bad-sign", "amount-mismatch"], verdicts
    # The first genuine one paid it, unless reconciliation was quicker; the second changed nothing.
    assert verdicts[2] in ("accepted", "duplicate") and verdicts[3] == "duplicate", verdicts
    async with world.stack.api.session.get(
        world.stack.platform.ops_url("payments") + "/metrics"
    ) as resp:
        metrics = await resp.text()
    assert 'ebok_payment_notifications_total{provider="p24",verdict="bad-sign"}' in metrics
    unknown_rows = await rows(
        world,
        "SELECT verdict FROM provider_notifications WHERE body LIKE $1",
        f"%{unknown['sessionId']}%",
    )
    assert [r["verdict"] for r in unknown_rows] == ["unknown-session"]


@pytest.mark.asyncio(loop_scope="session")
async def test_lost_notification_is_settled_by_reconciliation(world: World) -> None:
    who = await payer(world)
    world.provider.notify = False
    try:
        status, created = await pay(world, who, body(amount="20.00"), new_key())
        assert status == 201, created
        await person_pays(world, created["redirect_url"])
        paid = await final(world, who, created["payment_id"])
    finally:
        world.provider.notify = True
    assert paid["status"] == "paid"
    assert world.provider.by_session[created["payment_id"]].notifications == 0
    assert len(await completed_events(world, created["payment_id"])) == 1


@pytest.mark.asyncio(loop_scope="session")
async def test_declined_payment_stays_pending_and_nothing_is_paid(world: World) -> None:
    who = await payer(world)
    status, created = await pay(world, who, body(amount="30.00"), new_key())
    assert status == 201
    await person_pays(world, created["redirect_url"], "decline")
    assert (await payment(world, who, created["payment_id"]))["status"] == "pending"
    assert await completed_events(world, created["payment_id"]) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.asyncio(loop_scope="session")
async def test_provider_unreachable_is_a_502_and_the_payment_failed(world: World) -> None:
    who = await payer(world)
    adapter = world.stack.platform.apps["payments"][PROVIDER]
    adapter.base_url = f"http://127.0.0.1:{closed_port()}"  # type: ignore[attr-defined]
    try:
        status, problem = await pay(world, who, body(amount="40.00"), new_key())
    finally:
        adapter.base_url = world.provider_url  # type: ignore[attr-defined]
    assert status == 502, problem
    assert problem["type"].endswith("/provider-unavailable")
    status, page = await world.stack.api.request("GET", "/api/v1/payments", token=who.token)
    assert status == 200
    assert [p["status"] for p in page["items"]] == ["failed"]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_provider_that_does_not_answer_in_time_is_a_502(world: World) -> None:
    who = await payer(world)

    async def hang(_request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"data": {"token": "late"}})

    silent = web.Application()
    silent.router.add_post("/api/v1/transaction/register", hang)
    runner = web.AppRunner(silent, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    adapter = world.stack.platform.apps["payments"][PROVIDER]
    adapter.base_url = f"http://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        status, problem = await pay(world, who, body(amount="40.00"), new_key())
    finally:
        adapter.base_url = world.provider_url  # type: ignore[attr-defined]
        await runner.cleanup()
    assert status == 502, problem
    status, page = await world.stack.api.request("GET", "/api/v1/payments", token=who.token)
    assert [p["status"] for p in page["items"]] == ["failed"]


async def booked_by_the_erp(world: World, who: Payer, invoice_number: str, amount: str) -> None:
    """The ERP books a bank transfer paying the invoice; wait until payments knows of it."""
    await world.stack.erp.publish(
        "erp.payment.booked",
        erp.PaymentBooked(
            booking_id=f"B-{secrets.token_hex(6)}",
            customer_id=who.customer.customer_id,
            booked_on=world.stack.platform.settings.today(),
            amount=Decimal(amount),
            invoice_number=invoice_number,
            channel="transfer",
        ),
    )

    async def known() -> bool:
        found = await rows(
            world, "SELECT paid FROM invoice_paid WHERE invoice_number = $1", invoice_number
        )
        return bool(found) and found[0]["paid"] == Decimal(amount)

    await wait_until(known, what="payments to learn what billing knows paid")


@pytest.mark.asyncio(loop_scope="session")
async def test_an_invoice_the_erp_booked_as_paid_is_not_paid_again_online(world: World) -> None:
    who = await payer(world)
    first = who.customer.invoice_number
    await booked_by_the_erp(world, who, first, "108.00")
    # Named: refused, naming the field.
    status, refused = await pay(world, who, body(invoices=[first], amount="1.00"), new_key())
    assert status == 422, refused
    assert (refused["errors"][0]["field"], refused["errors"][0]["code"]) == (
        "invoices",
        "nothing_due",
    )
    # "all-due" is the other invoice alone: 216.00 is more than is due.
    status, refused = await pay(world, who, body(), new_key())
    assert status == 422 and refused["errors"][0]["field"] == "amount", refused
    status, created = await pay(world, who, body(amount="108.00"), new_key())
    assert status == 201, created
    assert [i["invoice_number"] for i in created["invoices"]] == [who.second_invoice]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_part_paid_by_transfer_and_a_part_online_leave_nothing_to_pay_twice(
    world: World,
) -> None:
    """The lag window: an online payment billing has not counted yet, and money the ERP
    booked, are both taken off what is due; once billing counts the online payment it is
    not taken off twice."""
    who = await payer(world)
    first = who.customer.invoice_number
    await booked_by_the_erp(world, who, first, "40.00")
    status, created = await pay(world, who, body(invoices=[first], amount="68.00"), new_key())
    assert status == 201, created
    await person_pays(world, created["redirect_url"])
    assert (await final(world, who, created["payment_id"]))["status"] == "paid"
    # Whether or not billing's word on it has come back yet, nothing is due on the invoice.
    status, refused = await pay(world, who, body(invoices=[first], amount="1.00"), new_key())
    assert status == 422 and refused["errors"][0]["code"] == "nothing_due", refused

    async def counted() -> bool:
        found = await rows(
            world,
            "SELECT counted_by_billing_at IS NOT NULL AS c FROM payment_invoices "
            "WHERE payment_id = $1",
            uuid.UUID(created["payment_id"]),
        )
        return bool(found) and found[0]["c"]

    await wait_until(counted, what="billing to count the online payment")
    status, refused = await pay(world, who, body(invoices=[first], amount="1.00"), new_key())
    assert status == 422 and refused["errors"][0]["code"] == "nothing_due", refused
    # The other invoice is still due in full.
    status, created = await pay(world, who, body(amount="108.00"), new_key())
    assert status == 201 and created["invoices"][0]["invoice_number"] == who.second_invoice


async def cancel(world: World, who: Payer, payment_id: str) -> tuple[int, dict]:
    status, answer = await world.stack.api.request(
        "POST", f"/api/v1/payments/{payment_id}/cancel", token=who.token
    )
    return status, answer  # type: ignore[return-value]


@pytest.mark.asyncio(loop_scope="session")
async def test_a_cancelled_payment_is_still_paid_by_money_that_arrives(world: World) -> None:
    who = await payer(world)
    status, created = await pay(world, who, body(amount="20.00"), new_key())
    assert status == 201 and created["status"] == "pending"
    status, cancelled = await cancel(world, who, created["payment_id"])
    assert status == 200 and cancelled["status"] == "cancelled", cancelled
    status, again = await cancel(world, who, created["payment_id"])  # the same answer
    assert status == 200 and again["status"] == "cancelled"
    assert await completed_events(world, created["payment_id"]) == []
    # Another customer's cancel of it: 404.
    other = await payer(world)
    status, _ = await cancel(world, other, created["payment_id"])
    assert status == 404
    # The payer paid at the provider all the same: the money is never refused.
    await person_pays(world, created["redirect_url"])

    async def paid() -> bool:
        return (await payment(world, who, created["payment_id"]))["status"] == "paid"

    await wait_until(paid, what="the cancelled payment to be paid by its notification")
    assert len(await completed_events(world, created["payment_id"])) == 1
    status, refused = await cancel(world, who, created["payment_id"])
    assert status == 409 and refused["type"].endswith("/not-cancellable"), refused


async def notify_from(world: World, address: str) -> int:
    """A (malformed) notification straight to payments, from `address` as the gateway would
    say it saw the client."""
    settings = world.stack.platform.settings
    assert settings.internal_token is not None
    headers = {
        INTERNAL_TOKEN_HEADER: settings.internal_token.get_secret_value(),
        CLIENT_IP_HEADER: address,
    }
    async with world.stack.api.session.post(
        world.stack.platform.urls["payments"] + "/payments/notifications/p24",
        json={"nothing": "signed"},
        headers=headers,
    ) as resp:
        return resp.status


@pytest.mark.asyncio(loop_scope="session")
async def test_notifications_are_rate_limited_per_client_address(world: World) -> None:
    flood = f"203.0.113.{secrets.randbelow(250) + 1}"
    answers = [await notify_from(world, flood) for _ in range(80)]
    assert set(answers) == {400}, "within the limit each is read (and refused: not signed)"
    assert await notify_from(world, flood) == 429
    recorded = await rows(
        world, "SELECT count(*) AS n FROM provider_notifications WHERE source_ip = $1", flood
    )
    assert recorded[0]["n"] == 80, "nothing beyond the limit is read nor recorded"
    # Another address is not held back by it.
    assert await notify_from(world, "198.51.100.9") == 400
