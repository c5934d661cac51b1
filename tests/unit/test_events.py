from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.envelope import Envelope, new_envelope
from shared.events import CATALOG, erp
from tests.support.erp import address, customer_feed


def test_every_event_type_follows_the_naming_rule() -> None:
    for event_type in CATALOG:
        Envelope(
            id="00000000-0000-0000-0000-000000000001",
            type=event_type,
            occurred_at="2026-01-01T00:00:00Z",
            producer="x",
            correlation_id="c",
            payload={},
        )


def test_amounts_travel_as_decimal_strings() -> None:
    _, messages = customer_feed("x1")
    invoice = messages[2][1]
    body = json.loads(new_envelope("erp.invoice.issued", invoice, "erp").model_dump_json())
    assert body["payload"]["gross"] == "108.00"
    assert body["payload"]["lines"][0]["net"] == "50.00"


def test_invoice_totals_must_add_up() -> None:
    with pytest.raises(ValidationError, match="gross must equal net \\+ vat"):
        erp.InvoiceIssued(
            invoice_number="F1",
            customer_id="C1",
            contract_number="U1",
            issued_on=date(2026, 1, 31),
            due_on=date(2026, 2, 14),
            period_from=date(2026, 1, 1),
            period_to=date(2026, 1, 31),
            net=Decimal("10"),
            vat=Decimal("1"),
            gross=Decimal("12"),
        )


def test_unknown_fields_and_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        erp.CustomerUpserted(
            customer_id="C1", name="A", kind="person", address=address(), shoe_size=42
        )
    with pytest.raises(ValidationError, match="occurred_at"):
        Envelope(
            id="00000000-0000-0000-0000-000000000001",
            type="erp.customer.upserted",
            occurred_at="2026-01-01T00:00:00",
            producer="x",
            correlation_id="c",
            payload={},
        )


def test_postal_codes_are_polish() -> None:
    with pytest.raises(ValidationError, match="postal_code"):
        erp.Address(street="A", building="1", postal_code="12345", city="X")


def test_published_schemas_match_the_models() -> None:
    from shared.events.schemas import DIRECTORY, documents

    for name, text in documents().items():
        path = DIRECTORY / name
        assert path.exists() and path.read_text() == text, (
            f"docs/events/{name} is stale: run python -m shared.events.schemas"
        )
