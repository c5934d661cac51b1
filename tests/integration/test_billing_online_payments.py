"""Online payments in billing (issue 11): a payment the provider confirmed pays the invoices it
names at once (awaiting the ERP's booking) and counts in the balance once; the ERP's booking of
the same money (its `reference`) replaces it whichever arrives first; the ERP is told of each
payment once. Handlers against real PostgreSQL; the last tests run billing on the broker and
read it through its HTTP API as the customer and as a partial manager."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import aio_pika
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import erp, payments
from shared.messaging.consumer import PermanentError
from shared.messaging.topology import Names
from tests.integration.test_handlers_billing import invoice, online_payment, paid, payment
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.scoped_customer import publish_scoped_customer
from tests.support.scopes import Scopes, start_scopes


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


async def two_invoices(billing: ServiceHandlers) -> tuple[str, str, str]:
    """A customer with an older invoice A (100.00, due first) and a newer B (200.00)."""
    customer_id = f"C-{secrets.token_hex(4)}"
    a, b = f"FV/A/{customer_id}", f"FV/B/{customer_id}"
    await billing.deliver(invoice(customer_id, a, date(2025, 1, 15), "100.00"))
    await billing.deliver(invoice(customer_id, b, date(2025, 2, 15), "200.00"))
    return customer_id, a, b


async def entries(billing: ServiceHandlers, customer_id: str) -> list[tuple]:
    """The customer's payments as (amount, invoice, awaiting booking, reference), sorted."""
    rows = await billing.fetch(
        """SELECT amount, invoice_number, awaiting_booking, reference FROM payments
            WHERE customer_id = $1""",
        customer_id,
    )
    return sorted(
        ((r["amount"], r["invoice_number"], r["awaiting_booking"], r["reference"]) for r in rows),
        key=str,
    )


async def credits(billing: ServiceHandlers, customer_id: str) -> Decimal:
    """What the balance counts as paid (every payment of the customer)."""
    return await billing.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM payments WHERE customer_id = $1", customer_id
    )


async def told_the_erp(billing: ServiceHandlers, payment_id: uuid.UUID) -> list[dict]:
    return [
        e.payload
        for e in await billing.published("billing.online-payment.received")
        if e.payload["payment_id"] == str(payment_id)
    ]


def booking(p: payments.PaymentCompleted, invoice_number: str | None = None) -> erp.PaymentBooked:
    booked = payment(p.customer_id, f"B-{secrets.token_hex(4)}", str(p.amount), invoice_number)
    return booked.model_copy(update={"reference": p.payment_id})


async def test_a_completed_payment_pays_the_named_invoices_at_once_awaiting_booking(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    # B is named: it is paid, though A falls due first.
    p = online_payment(customer_id, "200.00", [(b, "200.00")])

    assert await billing.deliver(p) == "handled"

    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("200.00")}
    assert await entries(billing, customer_id) == [(Decimal("200.00"), b, True, p.payment_id)]
    [row] = await billing.fetch(
        "SELECT booking_id, booked_on, channel FROM payments WHERE customer_id = $1", customer_id
    )
    # Completed at 23:30 UTC on 31 March: 1 April in Warsaw, the utility's day.
    assert (row["booking_id"], row["booked_on"], row["channel"]) == (
        f"online:{p.payment_id}:1",
        date(2025, 4, 1),
        "card",
    )
    assert await credits(billing, customer_id) == Decimal("200.00")
    assert await told_the_erp(billing, p.payment_id) == [p.model_dump(mode="json")]


async def test_what_the_invoices_do_not_take_settles_the_oldest_due(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "250.00", [(b, "200.00")])

    await billing.deliver(p)

    assert await paid(billing, customer_id) == {a: Decimal("50.00"), b: Decimal("200.00")}
    assert await entries(billing, customer_id) == [
        (Decimal("200.00"), b, True, p.payment_id),
        (Decimal("50.00"), None, True, p.payment_id),
    ]


async def test_the_same_payment_twice_counts_once_and_is_told_once(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "120.00", [(a, "100.00"), (b, "20.00")])
    await billing.deliver(p)
    rows = await billing.snapshot(skip_tables=("inbox",))

    # A new message id (the payments service published it again), and a redelivery.
    assert await billing.deliver(p) == "handled"
    await billing.assert_redelivery_changes_nothing(p)

    assert await billing.snapshot(skip_tables=("inbox",)) == rows
    assert await credits(billing, customer_id) == Decimal("120.00")
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_the_erp_booking_replaces_the_payment_awaiting_booking(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "300.00", [(a, "100.00"), (b, "200.00")])
    await billing.deliver(p)
    assert await credits(billing, customer_id) == Decimal("300.00")

    booked = booking(p)
    await billing.deliver(booked)

    assert await entries(billing, customer_id) == [(Decimal("300.00"), None, False, p.payment_id)]
    assert await credits(billing, customer_id) == Decimal("300.00")
    assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("200.00")}
    # The booking again, and the payment again: still once.
    await billing.deliver(booked)
    await billing.deliver(p)
    assert await credits(billing, customer_id) == Decimal("300.00")
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_a_booking_before_the_completed_payment_is_not_added_to(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    p = online_payment(customer_id, "200.00", [(b, "200.00")])
    await billing.deliver(booking(p, b))

    assert await billing.deliver(p) == "handled"

    assert await entries(billing, customer_id) == [(Decimal("200.00"), b, False, p.payment_id)]
    assert await credits(billing, customer_id) == Decimal("200.00")
    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("200.00")}
    # The ERP is still told of it: it learns of every completed payment, once.
    assert len(await told_the_erp(billing, p.payment_id)) == 1


async def test_a_booking_and_the_payment_at_the_same_time_count_once(
    billing: ServiceHandlers,
) -> None:
    for _ in range(5):
        customer_id, a, b = await two_invoices(billing)
        p = online_payment(customer_id, "150.00", [(a, "100.00"), (b, "50.00")])
        await asyncio.gather(billing.deliver(p), billing.deliver(booking(p)))

        assert await credits(billing, customer_id) == Decimal("150.00")
        assert [e[2] for e in await entries(billing, customer_id)] == [False]
        assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("50.00")}


async def test_invoices_worth_more_than_the_payment_are_refused_for_good(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, _ = await two_invoices(billing)
    p = online_payment(customer_id, "50.00", [(a, "100.00")])
    before = await billing.snapshot()

    # PermanentError: the consumer dead-letters it at once with this reason.
    with pytest.raises(PermanentError, match="exceed the amount"):
        await billing.deliver(p)

    assert await billing.snapshot() == before


# --- on the broker, read through billing's HTTP API --------------------------------------------


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scopes(infra: Infra, keys: Path) -> AsyncIterator[Scopes]:
    async for running in start_scopes(infra, keys):
        yield running


async def outbound(scopes: Scopes) -> list[dict]:
    """What waits for the ERP on `<ns>.backoffice.online-payments` (read and put back)."""
    names = Names(scopes.platform.settings.namespace)
    connection = await aio_pika.connect(scopes.platform.settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(names.queue("backoffice", "online-payments"))
        found = []
        while (message := await queue.get(no_ack=False, fail=False)) is not None:
            found.append(json.loads(message.body))
        await channel.close()  # unacknowledged: back on the queue
        return found
    finally:
        await connection.close()


async def test_a_payment_shows_at_once_is_told_to_the_erp_once_and_its_booking_replaces_it(
    scopes: Scopes,
) -> None:
    owner = await publish_scoped_customer(scopes.erp, scopes.platform)
    c = owner.customer_id
    # One more invoice, on contract 1 (not the partial manager's): 60.00, due later.
    fv4 = f"FV/{owner.suffix}/4"
    later = scopes.platform.settings.today() + timedelta(days=40)
    await scopes.erp.publish(
        erp.InvoiceIssued.TYPE,
        invoice(c, fv4, later, "60.00").model_copy(update={"contract_number": owner.contracts[0]}),
    )
    customer = scopes.token("customer", customer_id=c)
    manager = uuid.uuid4()
    await scopes.grant(manager, c, [owner.points[2]])  # SP-3: contract 2, FV2 and FV3
    partial = scopes.token("manager", str(manager))

    async def view(path: str, token: str = customer) -> dict:
        status, body = await scopes.get("billing", path, token, customer=c)
        assert status == 200, (path, body)
        assert isinstance(body, dict)
        return body

    async def invoices(token: str = customer) -> dict[str, tuple]:
        return {
            i["invoice_number"]: (i["status"], i["paid"], i["payment_awaiting_booking"])
            for i in (await view("/invoices", token))["items"]
        }

    await wait_until(lambda: _has(view, "/invoices", fv4), what="FV4 in billing")
    before = await view("/balance")
    assert before["balance"] == "-278.00"  # -218.00 and FV4

    # FV2's 170.00 due, FV4's 60.00, and 10.00 more (an overpayment the customer confirmed).
    p = online_payment(c, "240.00", [(owner.invoices[1], "170.00"), (fv4, "60.00")])
    async with IntegrationClient(
        scopes.platform.settings.amqp_url,
        scopes.platform.settings.namespace,
        producer="payments",
        exchange="events",
    ) as payments_service:
        await payments_service.publish(p.TYPE, p)
        await payments_service.publish(p.TYPE, p)  # published again: a new message id

        await wait_until(
            lambda: _balance_is(view, "-38.00"), what="the payment in the balance", timeout=10
        )
        assert await invoices() == {
            owner.invoices[0]: ("paid", "100.00", False),
            owner.invoices[1]: ("paid", "250.00", True),
            owner.invoices[2]: ("partly_paid", "10.00", False),  # the 10.00 left over
            fv4: ("paid", "60.00", True),
        }
        received = (await view("/payments-received"))["items"]
        mine = sorted(
            (r["invoice_number"] or "", r["amount"], r["status"])
            for r in received
            if r["reference"] == str(p.payment_id)
        )
        assert mine == [
            ("", "10.00", "awaiting_booking"),
            (owner.invoices[1], "170.00", "awaiting_booking"),
            (fv4, "60.00", "awaiting_booking"),
        ]
        # The partial manager: only the entry naming a granted invoice (FV2).
        seen = (await view("/payments-received", partial))["items"]
        assert [(r["invoice_number"], r["amount"]) for r in seen if r["reference"]] == [
            (owner.invoices[1], "170.00")
        ]
        assert (await view("/balance", partial))["credits"] == "250.00"  # 80.00 + 170.00
        assert fv4 not in await invoices(partial)

        # The ERP is told once, though the payment came twice.
        await wait_until(lambda: _outbound_has(scopes, p.payment_id), what="the ERP is told")
        told = [
            m for m in await outbound(scopes) if m["payload"]["payment_id"] == str(p.payment_id)
        ]
        assert [(m["type"], m["payload"]) for m in told] == [
            ("billing.online-payment.received", p.model_dump(mode="json"))
        ]

        # The ERP books it, one booking per invoice and one for the rest, naming the payment.
        for n, (number, amount) in enumerate(
            ((owner.invoices[1], "170.00"), (fv4, "60.00"), (None, "10.00"))
        ):
            booked = payment(c, f"B-{owner.suffix}-online-{n}", amount, number)
            await scopes.erp.publish(
                booked.TYPE, booked.model_copy(update={"reference": p.payment_id})
            )
        await wait_until(
            lambda: _booked(view, p.payment_id), what="the booking replaces the payment"
        )
        assert (await view("/balance"))["balance"] == "-38.00"
        received = (await view("/payments-received"))["items"]
        assert sorted(
            (r["amount"], r["status"]) for r in received if r["reference"] == str(p.payment_id)
        ) == [("10.00", "booked"), ("170.00", "booked"), ("60.00", "booked")]
        assert not any(flag for _, _, flag in (await invoices()).values())

        # A late copy of the payment changes nothing.
        late = await payments_service.publish(p.TYPE, p)
        await wait_until(lambda: _handled(scopes, late), what="the late copy handled")
    assert (await view("/balance"))["balance"] == "-38.00"
    assert len(await view_entries(view, p.payment_id)) == 3
    told = [m for m in await outbound(scopes) if m["payload"]["payment_id"] == str(p.payment_id)]
    assert len(told) == 1


async def view_entries(view, payment_id: uuid.UUID) -> list[dict]:  # type: ignore[no-untyped-def]
    items = (await view("/payments-received"))["items"]
    return [r for r in items if r["reference"] == str(payment_id)]


async def _handled(scopes: Scopes, message_id: uuid.UUID) -> bool:
    conn = await scopes.platform.db("billing")
    try:
        return bool(await conn.fetchval("SELECT 1 FROM inbox WHERE message_id = $1", message_id))
    finally:
        await conn.close()


async def _has(view, path: str, number: str) -> bool:  # type: ignore[no-untyped-def]
    return any(i["invoice_number"] == number for i in (await view(path))["items"])


async def _balance_is(view, value: str) -> bool:  # type: ignore[no-untyped-def]
    return (await view("/balance"))["balance"] == value


async def _booked(view, payment_id: uuid.UUID) -> bool:  # type: ignore[no-untyped-def]
    mine = [
        r for r in (await view("/payments-received"))["items"] if r["reference"] == str(payment_id)
    ]
    return len(mine) == 3 and all(r["status"] == "booked" for r in mine)


async def _outbound_has(scopes: Scopes, payment_id: uuid.UUID) -> bool:
    return any(m["payload"]["payment_id"] == str(payment_id) for m in await outbound(scopes))


async def settled(billing: ServiceHandlers, invoice_number: str) -> list[dict]:
    """The billing.invoice.settled events of the invoice, in the order published."""
    return [
        e.payload
        for e in await billing.published("billing.invoice.settled")
        if e.payload["invoice_number"] == invoice_number
    ]


async def test_every_change_of_what_an_invoice_is_paid_is_published_with_its_online_payments(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    # A bank transfer the ERP booked pays A: payments must not offer A again.
    await billing.deliver(payment(customer_id, f"B-{secrets.token_hex(4)}", "100.00", a))
    assert [
        (e["paid"], e["gross"], e["online_payment_ids"]) for e in await settled(billing, a)
    ] == [("100.00", "100.00", [])]
    assert await settled(billing, b) == []  # nothing changed on B: nothing published
    # An online payment of B: B's event names it (billing counts its money now).
    p = online_payment(customer_id, "50.00", [(b, "50.00")])
    await billing.deliver(p)
    [event] = await settled(billing, b)
    assert (event["customer_id"], event["paid"], event["online_payment_ids"]) == (
        customer_id,
        "50.00",
        [str(p.payment_id)],
    )
    # The ERP's booking of it names it too (its reference); paid unchanged: no new event.
    await billing.deliver(booking(p, b))
    assert len(await settled(billing, b)) == 1
    # A redelivery publishes nothing more.
    await billing.assert_redelivery_changes_nothing(p)
    assert len(await settled(billing, b)) == 1
