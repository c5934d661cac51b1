"""The gateway composes the dashboard from the services' answers; the result must be a
DashboardOut, whichever services answered."""

from __future__ import annotations

import orjson
import pytest

from services.gateway.api import compose_dashboard
from shared.api.dashboard import DashboardOut

ADDRESS = {"street": "Wodna", "building": "1", "postal_code": "00-001", "city": "Warszawa"}
SUMMARY = {
    "balance": {
        "balance": "-108.00",
        "amount_due": "108.00",
        "overdue_amount": "0.00",
        "overpaid": "0.00",
        "charges": "108.00",
        "credits": "0.00",
        "open_invoices": 1,
        "as_of": "2026-11-25",
        "currency": "PLN",
    },
    "latest_invoices": [
        {
            "invoice_number": "FV/1",
            "contract_number": "U/1",
            "issued_on": "2026-10-31",
            "due_on": "2026-11-14",
            "period_from": "2026-10-01",
            "period_to": "2026-10-31",
            "net": "100.00",
            "vat": "8.00",
            "gross": "108.00",
            "paid": "0.00",
            "amount_due": "108.00",
            "status": "overdue",
        }
    ],
    "contracts": [
        {
            "contract_number": "U/1",
            "customer_id": "C1",
            "signed_on": "2024-01-01",
            "status": "active",
            "service_points": [
                {"service_point_id": "SP1", "address": ADDRESS, "meter_number": "M1"}
            ],
        }
    ],
}
METERS = {
    "items": [
        {
            "meter_number": "M1",
            "service_point_id": "SP1",
            "contract_number": "U/1",
            "address": ADDRESS,
            "installed_on": "2024-01-01",
            "removed_on": None,
            "latest_reading": None,
        }
    ]
}


CASES = {
    "open": 1,
    "latest_open": [
        {
            "number": "KOR/2026/000123",
            "kind": "failure",
            "status": "registered",
            "title": "Wodna 1, 00-001 Warszawa",
            "service_point_id": "SP1",
            "invoice_number": None,
            "submitted_by": {"role": "customer", "login": "e123456789", "name": None},
            "submitted_at": "2026-11-25T09:00:00Z",
            "updated_at": "2026-11-25T10:00:00Z",
        }
    ],
}
EVERY_PART = {"balance", "latest_invoices", "meters", "contracts", "open_cases"}


@pytest.mark.parametrize(
    ("billing", "metering", "correspondence", "available"),
    [
        (SUMMARY, METERS, CASES, EVERY_PART),
        ("billing answered 500", METERS, CASES, {"meters", "open_cases"}),
        (
            SUMMARY,
            "The metering service is not answering",
            CASES,
            {"balance", "latest_invoices", "contracts", "open_cases"},
        ),
        (SUMMARY, METERS, "correspondence answered 404", EVERY_PART - {"open_cases"}),
    ],
)
def test_the_composed_dashboard_is_a_dashboard(
    billing: object, metering: object, correspondence: object, available: set[str]
) -> None:
    body = compose_dashboard(
        {"billing": billing, "metering": metering, "correspondence": correspondence}
    )

    board = DashboardOut.model_validate_json(orjson.dumps(body))

    assert {name for name, part in board if part.available} == available
    for name, part in board:
        assert (part.data is None) == (name not in available)
        assert (part.error is None) == (name in available)
    if "meters" in available:
        assert board.meters.data is not None and board.meters.data[0].meter_number == "M1"
    else:
        assert board.meters.error == metering
    if "open_cases" in available:
        # The whole of correspondence's answer is the part.
        assert board.open_cases.data is not None and board.open_cases.data.open == 1
        assert board.open_cases.data.latest_open[0].number == "KOR/2026/000123"
    else:
        assert board.open_cases.error == correspondence
