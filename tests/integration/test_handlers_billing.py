"""Billing's ERP feed handlers against real PostgreSQL, without the broker: what each stores and
publishes, how money settles invoices, and that a message (or the same fact) twice is once."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from services.billing.handlers import SUBSCRIPTIONS
from shared.events import Event, erp, identity, payments
from shared.messaging.consumer import Undeliverable
from tests.support.erp import address, customer_feed
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def billing(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("billing", infra, keys) as handlers:
        yield handlers


def feed(suffix: str) -> tuple[erp.CustomerUpserted, erp.ContractUpserted, erp.InvoiceIssued]:
    _, messages = customer_feed(suffix)
    customer, contract, invoice = (payload for _, payload in messages)
    assert isinstance(customer, erp.CustomerUpserted)
    assert isinstance(contract, erp.ContractUpserted)
    assert isinstance(invoice, erp.InvoiceIssued)
    return customer, contract, invoice


def invoice(customer_id: str, number: str, due_on: date, gross: str) -> erp.InvoiceIssued:
    amount = Decimal(gross)
    return erp.InvoiceIssued(
        invoice_number=number,
        customer_id=customer_id,
        contract_number=f"U-{customer_id}",
        issued_on=date(2025, 1, 1),
        due_on=due_on,
        period_from=date(2024, 12, 1),
        period_to=date(2024, 12, 31),
        net=amount,
        vat=Decimal("0.00"),
        gross=amount,
    )


def payment(
    customer_id: str, booking_id: str, amount: str, invoice_number: str | None = None
) -> erp.PaymentBooked:
    return erp.PaymentBooked(
        booking_id=booking_id,
        customer_id=customer_id,
        booked_on=date(2025, 2, 1),
        amount=Decimal(amount),
        invoice_number=invoice_number,
        channel="transfer",
    )


def note(
    customer_id: str, number: str, kind: str, amount: str, invoice_number: str | None = None
) -> erp.NoteIssued:
    return erp.NoteIssued(
        note_number=number,
        customer_id=customer_id,
        kind=kind,  # type: ignore[arg-type]
        issued_on=date(2025, 3, 1),
        amount=Decimal(amount),
        description="Nota",
        invoice_number=invoice_number,
    )


def online_payment(
    customer_id: str, amount: str, invoices: list[tuple[str, str]]
) -> payments.PaymentCompleted:
    """A payment the provider confirmed, paying `invoices` (number, amount) out of `amount`."""
    return payments.PaymentCompleted(
        payment_id=uuid.uuid4(),
        customer_id=customer_id,
        amount=Decimal(amount),
        invoices=[payments.PaidInvoice(invoice_number=n, amount=Decimal(a)) for n, a in invoices],
        method="card",
        provider="p24",
        provider_transaction_id=f"T-{secrets.token_hex(6)}",
        paid_by_account_id=uuid.uuid4(),
        completed_at=datetime(2025, 3, 31, 23, 30, tzinfo=UTC),
    )


async def two_invoices(billing: ServiceHandlers) -> tuple[str, str, str]:
    """A customer with an older invoice A (100.00, due first) and a newer B (200.00)."""
    customer_id = f"C-{secrets.token_hex(4)}"
    a, b = f"FV/A/{customer_id}", f"FV/B/{customer_id}"
    await billing.deliver(invoice(customer_id, a, date(2025, 1, 15), "100.00"))
    await billing.deliver(invoice(customer_id, b, date(2025, 2, 15), "200.00"))
    return customer_id, a, b


async def paid(billing: ServiceHandlers, customer_id: str) -> dict[str, Decimal]:
    rows = await billing.fetch(
        "SELECT invoice_number, paid FROM invoices WHERE customer_id = $1", customer_id
    )
    return {r["invoice_number"]: r["paid"] for r in rows}


async def outbox_size(billing: ServiceHandlers) -> int:
    return int(await billing.fetchval("SELECT count(*) FROM outbox"))


async def announced(billing: ServiceHandlers, event_type: str, key: str, value: str) -> list[dict]:
    """Payloads of `event_type` in billing's outbox whose `key` is `value`."""
    return [e.payload for e in await billing.published(event_type) if e.payload[key] == value]


# One message per handler, with what must be stored before it (an invoice for money to settle).
Case = tuple[list[Event], Event]


def cases(suffix: str) -> dict[str, Case]:
    customer, contract, first_invoice = feed(suffix)
    cid = customer.customer_id
    return {
        erp.CustomerUpserted.TYPE: ([], customer),
        erp.ContractUpserted.TYPE: ([], contract),
        erp.InvoiceIssued.TYPE: ([], first_invoice),
        erp.PaymentBooked.TYPE: (
            [first_invoice],
            payment(cid, f"B-{suffix}", "30.00", first_invoice.invoice_number),
        ),
        erp.NoteIssued.TYPE: (
            [first_invoice],
            note(cid, f"NO/{suffix}", "credit", "20.00", first_invoice.invoice_number),
        ),
        payments.PaymentCompleted.TYPE: (
            [first_invoice],
            online_payment(cid, "30.00", [(first_invoice.invoice_number, "25.00")]),
        ),
        erp.EInvoiceChanged.TYPE: (
            [customer],
            erp.EInvoiceChanged(customer_id=cid, state="on", address=f"e-{suffix}@example.com"),
        ),
        identity.AccountActivated.TYPE: (
            [customer],
            identity.AccountActivated(
                account_id=uuid.uuid5(uuid.NAMESPACE_URL, cid),
                email=f"a-{suffix}@example.com",
                language="uk",
                login=f"login-{suffix}",
                customer_id=cid,
            ),
        ),
    }


HANDLED = [model.TYPE for subscription in SUBSCRIPTIONS for model in subscription.handlers]
ANNOUNCES = {
    erp.CustomerUpserted.TYPE: ("billing.customer.upserted", "customer_id"),
    erp.ContractUpserted.TYPE: ("billing.contract.upserted", "contract_number"),
    erp.InvoiceIssued.TYPE: ("billing.invoice.issued", "invoice_number"),
}


def test_every_handler_has_a_case() -> None:
    assert sorted(cases("x")) == sorted(HANDLED)


@pytest.mark.parametrize("event_type", HANDLED)
async def test_a_redelivered_message_changes_nothing(
    billing: ServiceHandlers, event_type: str
) -> None:
    setup, payload = cases(secrets.token_hex(4))[event_type]
    for earlier in setup:
        await billing.deliver(earlier)

    await billing.assert_redelivery_changes_nothing(payload)


@pytest.mark.parametrize("event_type", HANDLED)
async def test_the_same_fact_under_a_new_message_id_changes_no_row(
    billing: ServiceHandlers, event_type: str
) -> None:
    setup, payload = cases(secrets.token_hex(4))[event_type]
    for earlier in setup:
        await billing.deliver(earlier)
    await billing.deliver(payload)
    # The outbox is left out: a repeated fact is announced again (see below).
    rows = await billing.snapshot(skip_tables=("inbox", "outbox"), skip_columns=["updated_at"])

    assert await billing.deliver(payload) == "handled"

    assert await billing.snapshot(skip_tables=("inbox", "outbox"), skip_columns=["updated_at"]) == (
        rows
    )
    if event_type in ANNOUNCES:
        announced_type, key = ANNOUNCES[event_type]
        first, again = await announced(billing, announced_type, key, getattr(payload, key))
        assert again == first


# --- customers and contracts ------------------------------------------------------------------


async def test_a_customer_is_stored_and_announced(billing: ServiceHandlers) -> None:
    customer, _, _ = feed(secrets.token_hex(4))

    assert await billing.deliver(customer) == "handled"

    [row] = await billing.fetch(
        "SELECT * FROM customers WHERE customer_id = $1", customer.customer_id
    )
    assert (row["name"], row["kind"], row["email"], row["language"], row["tax_id"]) == (
        customer.name,
        "person",
        customer.email,
        "pl",
        None,
    )
    assert json.loads(row["address"]) == address().model_dump()
    assert await announced(
        billing, "billing.customer.upserted", "customer_id", customer.customer_id
    ) == [
        {
            "customer_id": customer.customer_id,
            "name": customer.name,
            "email": customer.email,
            "language": "pl",
        }
    ]


async def test_a_changed_customer_is_updated_and_announced_again(billing: ServiceHandlers) -> None:
    customer, _, _ = feed(secrets.token_hex(4))
    await billing.deliver(customer)
    moved = customer.model_copy(update={"name": "Anna Nowak", "email": None, "language": "en"})

    await billing.deliver(moved)

    rows = await billing.fetch(
        "SELECT name, email, language FROM customers WHERE customer_id = $1", customer.customer_id
    )
    assert [tuple(r) for r in rows] == [("Anna Nowak", None, "en")]
    events = await announced(
        billing, "billing.customer.upserted", "customer_id", customer.customer_id
    )
    assert events[-1] == {
        "customer_id": customer.customer_id,
        "name": "Anna Nowak",
        "email": None,
        "language": "en",
    }


async def test_a_contract_is_stored_with_its_service_points_and_announced(
    billing: ServiceHandlers,
) -> None:
    suffix = secrets.token_hex(4)
    _, contract, _ = feed(suffix)
    second = erp.ServicePoint(
        service_point_id=f"SP-{suffix}-2", address=address(), meter_number=f"M-{suffix}-2"
    )
    contract = contract.model_copy(update={"service_points": [*contract.service_points, second]})

    assert await billing.deliver(contract) == "handled"

    [row] = await billing.fetch(
        "SELECT customer_id, signed_on, status FROM contracts WHERE contract_number = $1",
        contract.contract_number,
    )
    assert tuple(row) == (contract.customer_id, date(2020, 1, 15), "active")
    points = await billing.fetch(
        """SELECT service_point_id, meter_number, address FROM service_points
            WHERE contract_number = $1 ORDER BY service_point_id""",
        contract.contract_number,
    )
    assert [(p[0], p[1], json.loads(p[2])) for p in points] == [
        (f"SP-{suffix}", f"M-{suffix}", address().model_dump()),
        (f"SP-{suffix}-2", f"M-{suffix}-2", address().model_dump()),
    ]
    [event] = await announced(
        billing, "billing.contract.upserted", "contract_number", contract.contract_number
    )
    assert event == {
        "contract_number": contract.contract_number,
        "customer_id": contract.customer_id,
        "signed_on": "2020-01-15",
        "status": "active",
        "service_points": [sp.model_dump(mode="json") for sp in contract.service_points],
    }


async def test_a_service_point_left_out_of_a_contract_is_removed(billing: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    _, contract, _ = feed(suffix)
    kept = erp.ServicePoint(
        service_point_id=f"SP-{suffix}-2", address=address(), meter_number=f"M-{suffix}-2"
    )
    await billing.deliver(
        contract.model_copy(update={"service_points": [*contract.service_points, kept]})
    )

    await billing.deliver(
        contract.model_copy(update={"service_points": [kept], "status": "terminated"})
    )

    points = await billing.fetch(
        "SELECT service_point_id FROM service_points WHERE contract_number = $1",
        contract.contract_number,
    )
    assert [p[0] for p in points] == [kept.service_point_id]
    events = await announced(
        billing, "billing.contract.upserted", "contract_number", contract.contract_number
    )
    assert events[-1]["status"] == "terminated"
    assert events[-1]["service_points"] == [kept.model_dump(mode="json")]


# --- invoices and settlement ------------------------------------------------------------------


async def test_an_invoice_is_stored_with_its_lines_and_announced(billing: ServiceHandlers) -> None:
    _, _, issued = feed(secrets.token_hex(4))

    assert await billing.deliver(issued) == "handled"

    [row] = await billing.fetch(
        "SELECT * FROM invoices WHERE invoice_number = $1", issued.invoice_number
    )
    assert (row["customer_id"], row["contract_number"], row["due_on"]) == (
        issued.customer_id,
        issued.contract_number,
        date(2026, 11, 14),
    )
    assert (row["net"], row["vat"], row["gross"], row["paid"]) == (
        Decimal("100.00"),
        Decimal("8.00"),
        Decimal("108.00"),
        Decimal("0.00"),
    )
    lines = await billing.fetch(
        """SELECT position, description, quantity, net FROM invoice_lines
            WHERE invoice_number = $1 ORDER BY position""",
        issued.invoice_number,
    )
    assert [tuple(r) for r in lines] == [
        (1, "Water supply", Decimal("10.000"), Decimal("50.00")),
        (2, "Sewage disposal", Decimal("10.000"), Decimal("50.00")),
    ]
    assert await announced(
        billing, "billing.invoice.issued", "invoice_number", issued.invoice_number
    ) == [
        {
            "invoice_number": issued.invoice_number,
            "customer_id": issued.customer_id,
            "contract_number": issued.contract_number,
            "issued_on": "2026-10-31",
            "due_on": "2026-11-14",
            "gross": "108.00",
            "e_invoice": False,
        }
    ]


async def test_a_payment_naming_an_invoice_pays_it_first(billing: ServiceHandlers) -> None:
    customer_id, a, b = await two_invoices(billing)
    events = await outbox_size(billing)

    assert await billing.deliver(payment(customer_id, f"B-{customer_id}", "150.00", b)) == "handled"

    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("150.00")}
    [row] = await billing.fetch(
        "SELECT amount, invoice_number, channel FROM payments WHERE customer_id = $1", customer_id
    )
    assert tuple(row) == (Decimal("150.00"), b, "transfer")
    # It announces what the invoice it paid has been paid now (for payments); the booking
    # itself only for a customer with an e-BOK account, which this one has not.
    assert await outbox_size(billing) == events + 1
    assert [
        (e["paid"], e["gross"])
        for e in await announced(billing, "billing.invoice.settled", "invoice_number", b)
    ] == [("150.00", "200.00")]


async def test_what_a_named_invoice_does_not_need_pays_the_oldest_due(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)

    await billing.deliver(payment(customer_id, f"B-{customer_id}", "250.00", b))

    assert await paid(billing, customer_id) == {a: Decimal("50.00"), b: Decimal("200.00")}


async def test_unnamed_money_pays_the_oldest_due_first(billing: ServiceHandlers) -> None:
    customer_id, a, b = await two_invoices(billing)

    await billing.deliver(payment(customer_id, f"B-{customer_id}-1", "120.00"))
    assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("20.00")}

    # Money naming an invoice billing does not hold is unnamed money.
    await billing.deliver(payment(customer_id, f"B-{customer_id}-2", "30.00", "FV/UNKNOWN"))
    assert await paid(billing, customer_id) == {a: Decimal("100.00"), b: Decimal("50.00")}


async def test_a_corrected_payment_settles_anew(billing: ServiceHandlers) -> None:
    customer_id, a, b = await two_invoices(billing)
    booking = payment(customer_id, f"B-{customer_id}", "250.00")
    await billing.deliver(booking)

    await billing.deliver(booking.model_copy(update={"amount": Decimal("60.00")}))

    assert await paid(billing, customer_id) == {a: Decimal("60.00"), b: Decimal("0.00")}


async def test_a_payment_rebooked_to_another_customer_leaves_the_first_one(
    billing: ServiceHandlers,
) -> None:
    wrong, a, _ = await two_invoices(billing)
    right, c, _ = await two_invoices(billing)
    booking = payment(wrong, f"B-{wrong}", "100.00")
    await billing.deliver(booking)
    assert (await paid(billing, wrong))[a] == Decimal("100.00")

    await billing.deliver(booking.model_copy(update={"customer_id": right}))

    assert (await paid(billing, right))[c] == Decimal("100.00")
    assert (await paid(billing, wrong))[a] == Decimal("0.00")


async def test_money_booked_before_its_invoice_settles_it_when_it_arrives(
    billing: ServiceHandlers,
) -> None:
    customer_id = f"C-{secrets.token_hex(4)}"
    await billing.deliver(payment(customer_id, f"B-{customer_id}", "80.00"))
    number = f"FV/{customer_id}"

    await billing.deliver(invoice(customer_id, number, date(2025, 1, 15), "100.00"))

    assert await paid(billing, customer_id) == {number: Decimal("80.00")}


async def test_a_credit_note_settles_invoices(billing: ServiceHandlers) -> None:
    customer_id, a, b = await two_invoices(billing)
    events = await outbox_size(billing)

    assert await billing.deliver(note(customer_id, f"NO/{customer_id}", "credit", "30.00", b)) == (
        "handled"
    )

    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("30.00")}
    [row] = await billing.fetch(
        "SELECT kind, amount, invoice_number FROM notes WHERE customer_id = $1", customer_id
    )
    assert tuple(row) == ("credit", Decimal("30.00"), b)
    # It announces only what the invoice it credited has been paid now (for payments).
    assert await outbox_size(billing) == events + 1
    assert [
        e["paid"] for e in await announced(billing, "billing.invoice.settled", "invoice_number", b)
    ] == ["30.00"]


@pytest.mark.parametrize("kind", ["interest", "debit"])
async def test_a_charging_note_is_stored_but_settles_nothing(
    billing: ServiceHandlers, kind: str
) -> None:
    customer_id, a, b = await two_invoices(billing)
    await billing.deliver(payment(customer_id, f"B-{customer_id}", "40.00"))

    assert await billing.deliver(note(customer_id, f"NO/{customer_id}", kind, "50.00", a)) == (
        "handled"
    )

    assert await paid(billing, customer_id) == {a: Decimal("40.00"), b: Decimal("0.00")}
    kinds = await billing.fetch("SELECT kind FROM notes WHERE customer_id = $1", customer_id)
    assert [r[0] for r in kinds] == [kind]


async def test_a_credit_note_corrected_into_a_charge_no_longer_settles(
    billing: ServiceHandlers,
) -> None:
    customer_id, a, b = await two_invoices(billing)
    credit = note(customer_id, f"NO/{customer_id}", "credit", "30.00", b)
    await billing.deliver(credit)

    await billing.deliver(credit.model_copy(update={"kind": "interest"}))

    assert await paid(billing, customer_id) == {a: Decimal("0.00"), b: Decimal("0.00")}


# --- what can never be handled -----------------------------------------------------------------


async def test_a_payload_that_does_not_validate_is_undeliverable_and_writes_nothing(
    billing: ServiceHandlers,
) -> None:
    _, _, issued = feed(secrets.token_hex(4))
    wrong = {**issued.model_dump(mode="json"), "gross": "999.00"}  # net + vat is 108.00
    before = await billing.snapshot(skip_tables=())

    with pytest.raises(Undeliverable, match="gross must equal net"):
        await billing.deliver_raw(erp.InvoiceIssued.TYPE, wrong, message_id=uuid.uuid4())
    with pytest.raises(Undeliverable, match="no handler"):
        await billing.deliver_raw("erp.meter.exploded", {"meter_number": "M-1"})

    assert await billing.snapshot(skip_tables=()) == before


def mixed_feed() -> list[Event]:
    """Messages of every type about two customers, with what batching must get right: a fact
    sent twice with a correction, an invoice and a payment moved to the other customer, a
    credit note corrected into an interest note, a service point passing to the other
    contract, an invoice losing a line."""
    a, b = "C-MIX-A", "C-MIX-B"
    customer_a, contract_a, _ = feed("MIX-A")
    customer_b, contract_b, _ = feed("MIX-B")
    point_a = contract_a.service_points[0]
    extra = point_a.model_copy(update={"service_point_id": "SP-MIX-X", "meter_number": "M-MIX-X"})
    two_lines = invoice(a, "FV/MIX/L", date(2025, 1, 20), "30.00").model_copy(
        update={
            "lines": [
                erp.InvoiceLine(
                    description=f"Line {n}",
                    quantity=Decimal("1.000"),
                    unit="m3",
                    unit_price=Decimal("15.0000"),
                    net=Decimal("15.00"),
                    vat_rate=Decimal("0.00"),
                )
                for n in (1, 2)
            ]
        }
    )
    return [
        customer_a.model_copy(update={"customer_id": a}),
        customer_b.model_copy(update={"customer_id": b}),
        contract_a.model_copy(update={"customer_id": a, "service_points": [point_a, extra]}),
        contract_b.model_copy(update={"customer_id": b}),
        invoice(a, "FV/MIX/1", date(2025, 1, 15), "100.00"),
        payment(a, "B-MIX-1", "50.00"),
        invoice(a, "FV/MIX/2", date(2025, 2, 15), "200.00"),
        two_lines,
        payment(a, "B-MIX-2", "30.00", "FV/MIX/2"),
        invoice(a, "FV/MIX/1", date(2025, 1, 15), "120.00"),  # corrected
        invoice(a, "FV/MIX/M", date(2025, 1, 10), "40.00"),
        payment(a, "B-MIX-M", "40.00", "FV/MIX/M"),
        note(a, "NO/MIX/1", "credit", "10.00", "FV/MIX/2"),
        invoice(b, "FV/MIX/M", date(2025, 1, 10), "40.00"),  # moved to B
        payment(b, "B-MIX-M", "40.00", "FV/MIX/M"),  # and its payment
        note(a, "NO/MIX/1", "interest", "10.00"),  # the credit was an interest note
        contract_b.model_copy(
            update={"customer_id": b, "service_points": [*contract_b.service_points, extra]}
        ),  # the extra point passes to B
        two_lines.model_copy(
            update={
                "lines": two_lines.lines[:1],
                "net": Decimal("15.00"),
                "gross": Decimal("15.00"),
            }
        ),
    ]


async def test_a_batch_leaves_what_the_same_messages_one_by_one_leave(
    infra: Infra, keys: Path
) -> None:
    messages = mixed_feed()
    async with (
        ServiceHandlers.open("billing", infra, keys) as one_by_one,
        ServiceHandlers.open("billing", infra, keys) as batched,
    ):
        for message in messages:
            assert await one_by_one.deliver(message) == "handled"
        assert await batched.deliver_batch(messages) == ["handled"] * len(messages)
        ignore = {"skip_tables": ("inbox", "outbox"), "skip_columns": ("updated_at", "received_at")}
        expected = await one_by_one.snapshot(**ignore)
        assert await batched.snapshot(**ignore) == expected
        # What was settled is what the rules say, so the comparison compares something.
        assert await paid(batched, "C-MIX-B") == {"FV/MIX/M": Decimal("40.00")}
        # A: 30.00 named FV/MIX/2; the unnamed 50.00 to the oldest due (FV/MIX/1, corrected to
        # 120.00); the credit note became interest, and FV/MIX/M went to B with its payment.
        assert await paid(batched, "C-MIX-A") == {
            "FV/MIX/L": Decimal("0.00"),
            "FV/MIX/1": Decimal("50.00"),
            "FV/MIX/2": Decimal("30.00"),
        }

        def last_per_key(events: list) -> dict:
            found: dict = {}
            for e in events:
                key = next(iter(e.payload.values()))  # the first field names the fact
                # A booking is told once, as it first stood: in a batch, its last version.
                found[(e.type, key)] = key if e.type == "billing.payment.booked" else e.payload
            return found

        assert last_per_key(await batched.published()) == last_per_key(await one_by_one.published())
