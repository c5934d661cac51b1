"""What a logged-in customer sees, fed over RabbitMQ, served by billing and metering, through
the gateway; and that nobody sees another customer's data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import aio_pika
import pytest
import pytest_asyncio
from openapi_spec_validator import validate as validate_spec

from deploy.integration_client import IntegrationClient
from shared.events import erp, reading
from tests.support.erp import Household, address, daily_readings, publish_household
from tests.support.flows import ACCOUNT_VIEWS, access_token, registered_account
from tests.support.infra import Infra
from tests.support.openapi import OpenApi
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

D_HALF = Decimal("0.500")


@dataclass
class Customer:
    household: Household
    token: str


@dataclass
class World:
    stack: Stack
    a: Customer
    b: Customer


async def _settled(stack: Stack, token: str) -> bool:
    status, balance = await stack.api.request("GET", "/api/v1/balance", token=token)
    return status == 200 and balance["credits"] == "170.00" and balance["charges"] == "612.34"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infra, keys: Path) -> AsyncIterator[World]:
    async for stack in start_stack(infra, keys):
        today = stack.platform.settings.today()
        customers = []
        for _ in range(2):
            household = await publish_household(stack.erp, today)
            account = await registered_account(stack, customer=household.customer)
            token = await access_token(stack, account)
            await wait_until(lambda s=stack, t=token: _settled(s, t), what="billing to settle")
            customers.append(Customer(household, token))
        a = customers[0].household
        async with IntegrationClient(
            stack.platform.settings.amqp_url, stack.platform.settings.namespace, producer="reading"
        ) as rs:
            await rs.publish(
                "reading.batch.recorded",
                reading.ReadingBatchRecorded(
                    readings=daily_readings(
                        a.meters[0], date(2024, 1, 5), 10, Decimal("100.000"), Decimal("0.500")
                    )
                ),
            )
        yield World(stack, *customers)


async def get(world: World, path: str, who: Customer | None = None) -> tuple[int, dict]:
    return await world.stack.api.request("GET", path, token=(who or world.a).token)  # type: ignore[return-value]


def invoice_path(number: str) -> str:
    return "/api/v1/invoices/" + quote(number, safe="")


async def test_balance_is_derived_from_invoices_payments_and_notes(world: World) -> None:
    status, balance = await get(world, "/api/v1/balance")
    assert status == 200
    assert balance == {
        "balance": "-442.34",
        "amount_due": "442.34",
        "overpaid": "0.00",
        "overdue_amount": "130.00",
        "charges": "612.34",
        "credits": "170.00",
        "open_invoices": 2,
        "as_of": world.stack.platform.settings.today().isoformat(),
        "currency": "PLN",
    }


async def test_invoice_statuses_follow_bookings_and_due_dates(world: World) -> None:
    status, page = await get(world, "/api/v1/invoices")
    assert status == 200 and len(page["items"]) == 3
    assert page["next_cursor"] is None and page["prev_cursor"] is None
    by_number = {i["invoice_number"]: i for i in page["items"]}
    first, second, third = world.a.household.invoices
    assert (by_number[first]["status"], by_number[first]["paid"]) == ("paid", "100.00")
    assert (by_number[second]["status"], by_number[second]["paid"]) == ("overdue", "70.00")
    assert by_number[second]["amount_due"] == "130.00"
    assert (by_number[third]["status"], by_number[third]["paid"]) == ("unpaid", "0.00")
    assert [i["invoice_number"] for i in page["items"]] == [third, second, first]


async def test_invoices_page_and_filter(world: World) -> None:
    status, page = await get(world, "/api/v1/invoices?limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["prev_cursor"] is None
    status, page = await get(world, f"/api/v1/invoices?limit=2&cursor={page['next_cursor']}")
    assert status == 200 and len(page["items"]) == 1 and page["next_cursor"] is None
    assert [i["invoice_number"] for i in page["items"]] == [world.a.household.invoices[0]]
    status, page = await get(world, "/api/v1/invoices?status=overdue")
    assert [i["invoice_number"] for i in page["items"]] == [world.a.household.invoices[1]]
    status, page = await get(world, "/api/v1/invoices?from=2025-02-01&to=2025-02-28")
    assert [i["invoice_number"] for i in page["items"]] == [world.a.household.invoices[1]]
    status, problem = await get(world, "/api/v1/invoices?status=lost&limit=0")
    assert status == 422
    assert {e["field"] for e in problem["errors"]} == {"status", "limit"}
    status, problem = await get(world, "/api/v1/invoices?page=2")
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["page"]
    status, problem = await get(world, "/api/v1/invoices?from=2025-02-01&to=2025-01-01")
    assert status == 422


async def test_invoice_detail_and_pdf(world: World) -> None:
    number = world.a.household.invoices[1]
    status, invoice = await get(world, invoice_path(number))
    assert status == 200
    assert invoice["gross"] == "200.00" and invoice["status"] == "overdue"
    assert invoice["lines"][0]["description"] == "Zaopatrzenie w wodę"
    async with world.stack.api.session.get(
        world.stack.api.base_url + invoice_path(number) + "/pdf",
        headers={"Authorization": f"Bearer {world.a.token}"},
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/pdf"
        body = await resp.read()
    assert body.startswith(b"%PDF-") and len(body) > 1000


async def test_contracts_show_every_service_point_and_meter(world: World) -> None:
    status, body = await get(world, "/api/v1/contracts")
    assert status == 200
    [contract] = body["items"]
    assert contract["contract_number"] == world.a.household.contract_number
    assert contract["signed_on"] == "2024-01-10"
    assert sorted(sp["meter_number"] for sp in contract["service_points"]) == sorted(
        world.a.household.meters
    )


async def test_payments_received_and_notes(world: World) -> None:
    status, payments = await get(world, "/api/v1/payments-received")
    assert status == 200 and payments["next_cursor"] is None
    assert [p["amount"] for p in payments["items"]] == ["50.00", "100.00"]
    status, notes = await get(world, "/api/v1/notes")
    assert status == 200
    assert {(n["kind"], n["amount"]) for n in notes["items"]} == {
        ("interest", "12.34"),
        ("credit", "20.00"),
    }


async def test_readings_of_the_contract_period_with_consumption(world: World) -> None:
    meter = world.a.household.meters[0]

    async def readings() -> dict | None:
        status, page = await get(world, f"/api/v1/meters/{meter}/readings")
        return page if status == 200 and len(page["items"]) == 5 else None

    page = await wait_until(readings, what="the reading batch")
    assert [r["read_at"][:10] for r in page["items"]] == [
        "2024-01-14",
        "2024-01-13",
        "2024-01-12",
        "2024-01-11",
        "2024-01-10",
    ]
    # The first reading of the contract has no consumption: the one before it (01-09) is not
    # the customer's.
    assert [r["consumption"] for r in page["items"]] == ["0.500"] * 4 + [None]
    assert page["items"][0]["value"] == "104.500"
    status, page = await get(
        world, f"/api/v1/meters/{meter}/readings?from=2024-01-01&to=2024-01-11"
    )
    assert status == 200
    assert [r["value"] for r in page["items"]] == ["103.000", "102.500"]
    assert page["items"][1]["consumption"] is None
    # Readings from before the contract (2024-01-05 to 01-09) are not the customer's.
    status, page = await get(
        world, f"/api/v1/meters/{meter}/readings?from=2000-01-01&to=2024-01-09"
    )
    assert status == 200 and page["items"] == [] and page["next_cursor"] is None

    _, meters = await get(world, "/api/v1/meters")
    by_number = {m["meter_number"]: m for m in meters["items"]}
    assert by_number[meter]["latest_reading"]["value"] == "104.500"
    assert by_number[world.a.household.meters[1]]["latest_reading"] is None


async def test_a_meter_passed_on_shows_its_new_holder_nothing_of_the_previous_one(
    world: World,
) -> None:
    stack = world.stack
    today = stack.platform.settings.today()
    before, after = [await publish_household(stack.erp, today) for _ in range(2)]
    meter = before.meters[0]
    async with IntegrationClient(
        stack.platform.settings.amqp_url, stack.platform.settings.namespace, producer="reading"
    ) as rs:
        # Readings of the previous holder: 2024-01-10 to 2024-01-19, 100.000 + 0.5 a day.
        await rs.publish(
            "reading.batch.recorded",
            reading.ReadingBatchRecorded(
                readings=daily_readings(meter, date(2024, 1, 10), 10, Decimal("100"), D_HALF)
            ),
        )
    # The previous holder's contract ends; the meter comes onto the next holder's new contract,
    # signed on 2024-01-15.
    old = before.contract_number
    point = erp.ServicePoint(
        service_point_id=f"SP-{old}-handover", address=address(), meter_number=meter
    )
    await stack.erp.publish(
        "erp.contract.upserted",
        erp.ContractUpserted(
            contract_number=old,
            customer_id=before.customer.customer_id,
            signed_on=date(2024, 1, 10),
            status="terminated",
            service_points=[point],
        ),
    )
    await stack.erp.publish(
        "erp.contract.upserted",
        erp.ContractUpserted(
            contract_number=f"{after.contract_number}-2",
            customer_id=after.customer.customer_id,
            signed_on=date(2024, 1, 15),
            status="active",
            service_points=[point],
        ),
    )
    account = await registered_account(stack, customer=after.customer)
    token = await access_token(stack, account)

    async def readings() -> dict | None:
        status, page = await stack.api.request(
            "GET", f"/api/v1/meters/{meter}/readings?from=2000-01-01", token=token
        )
        return page if status == 200 and len(page["items"]) == 5 else None

    page = await wait_until(readings, what="the meter on the new holder's contract")
    assert [r["read_at"][:10] for r in page["items"]][-1] == "2024-01-15"
    assert [r["consumption"] for r in page["items"]] == ["0.500"] * 4 + [None]
    _, meters = await stack.api.request("GET", "/api/v1/meters", token=token)
    [mine] = [m for m in meters["items"] if m["meter_number"] == meter]
    assert mine["installed_on"] == "2024-01-15"
    assert mine["latest_reading"]["value"] == "104.500"


async def backoffice_messages(world: World) -> list[dict]:
    settings = world.stack.platform.settings
    connection = await aio_pika.connect(settings.amqp_url)
    found = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(
            world.stack.platform.names.queue("backoffice", "self-readings"), passive=True
        )
        while (message := await queue.get(no_ack=True, fail=False)) is not None:
            found.append(json.loads(message.body))
    return found


async def test_self_reading_is_checked_stored_and_published_once(world: World) -> None:
    meter = world.a.household.meters[1]
    path = f"/api/v1/meters/{meter}/readings"
    now = datetime.now(UTC).replace(microsecond=0)

    async def submit(
        value: str, read_at: datetime, who: Customer | None = None
    ) -> tuple[int, dict]:
        return await world.stack.api.request(  # type: ignore[return-value]
            "POST",
            path,
            token=(who or world.a).token,
            json={"value": value, "read_at": read_at.isoformat()},
        )

    status, created = await submit("15.250", now - timedelta(minutes=10))
    assert status == 201, created
    assert created["value"] == "15.250" and created["source"] == "customer"

    def refusal(problem: dict) -> tuple[str, str]:
        [error] = problem["errors"]
        return error["field"], error["code"]

    status, problem = await submit("15.000", now - timedelta(minutes=5))
    assert status == 422 and refusal(problem) == ("value", "reading_below_last")
    assert "below the last reading" in problem["detail"]
    assert problem["errors"][0]["params"] == {
        "value": "15.000",
        "last_value": "15.250",
        "last_read_at": (now - timedelta(minutes=10)).isoformat(),
    }
    status, problem = await submit("16.000", now + timedelta(days=2))
    assert status == 422 and refusal(problem) == ("read_at", "reading_in_future")
    status, problem = await submit("16.000", now - timedelta(minutes=20))
    assert status == 422 and refusal(problem) == ("read_at", "reading_not_after_last")
    status, problem = await submit("16.000", datetime(2000, 1, 1, tzinfo=UTC))
    assert status == 422 and refusal(problem) == ("read_at", "reading_before_installation")
    status, problem = await world.stack.api.request(
        "POST", path, token=world.a.token, json={"value": "-1", "read_at": "yesterday"}
    )
    assert status == 422 and {e["field"] for e in problem["errors"]} == {"value", "read_at"}

    messages = await wait_until(lambda: backoffice_messages(world), what="the back office copy")
    assert len(messages) == 1
    [message] = messages
    assert message["type"] == "metering.reading.submitted"
    assert message["payload"]["meter_number"] == meter
    assert message["payload"]["value"] == "15.250"
    assert message["payload"]["customer_id"] == world.a.household.customer.customer_id


OTHERS_ROUTES = [
    ("GET", "/api/v1/invoices/{invoice}"),
    ("GET", "/api/v1/invoices/{invoice}/pdf"),
    ("GET", "/api/v1/meters/{meter}/readings"),
    ("POST", "/api/v1/meters/{meter}/readings"),
]


@pytest.mark.parametrize(("method", "template"), OTHERS_ROUTES)
async def test_another_customers_objects_are_404(world: World, method: str, template: str) -> None:
    theirs = world.b.household
    for invoice, meter in ((theirs.invoices[0], theirs.meters[0]), ("FV/none/at-all", "M-none")):
        path = template.format(invoice=quote(invoice, safe=""), meter=meter)
        body = {"value": "999.000", "read_at": datetime.now(UTC).isoformat()}
        status, problem = await world.stack.api.request(
            method, path, token=world.a.token, json=body if method == "POST" else None
        )
        assert status == 404, (path, problem)
        assert problem["type"].endswith("/not-found")


async def test_lists_show_only_the_callers_data(world: World) -> None:
    mine = world.a.household
    _, invoices = await get(world, "/api/v1/invoices?limit=100")
    assert {i["invoice_number"] for i in invoices["items"]} == set(mine.invoices)
    _, contracts = await get(world, "/api/v1/contracts")
    assert [c["contract_number"] for c in contracts["items"]] == [mine.contract_number]
    _, meters = await get(world, "/api/v1/meters")
    assert {m["meter_number"] for m in meters["items"]} == set(mine.meters)
    _, payments = await get(world, "/api/v1/payments-received")
    assert all(
        p["booking_id"].startswith("B-" + mine.customer.customer_id[2:]) for p in payments["items"]
    )
    _, notes = await get(world, "/api/v1/notes")
    assert all(mine.customer.customer_id[2:] in n["note_number"] for n in notes["items"])


ACCOUNT_ROUTES = list(ACCOUNT_VIEWS)


@pytest.mark.parametrize("path", ACCOUNT_ROUTES)
async def test_account_routes_need_a_token(world: World, path: str) -> None:
    status, problem = await world.stack.api.request("GET", path)
    assert status == 401 and problem["type"].endswith("/unauthorized")


async def test_dashboard_brings_every_part(world: World) -> None:
    status, board = await get(world, "/api/v1/me/dashboard")
    assert status == 200
    assert all(board[part]["available"] for part in board), board
    assert board["balance"]["data"]["amount_due"] == "442.34"
    newest = board["latest_invoices"]["data"][0]
    assert newest["invoice_number"] == world.a.household.invoices[2]
    assert {m["meter_number"] for m in board["meters"]["data"]} == set(world.a.household.meters)
    assert board["contracts"]["data"][0]["contract_number"] == world.a.household.contract_number


async def test_a_second_contract_shows_up_everywhere(world: World) -> None:
    mine = world.a.household
    second = erp.ContractUpserted(
        contract_number=mine.contract_number + "-B",
        customer_id=mine.customer.customer_id,
        signed_on=date(2025, 6, 1),
        status="active",
        service_points=[
            erp.ServicePoint(
                service_point_id=mine.contract_number + "-SP3",
                address=address(),
                meter_number=mine.meters[0] + "-B",
            )
        ],
    )
    await world.stack.erp.publish("erp.contract.upserted", second)

    async def both() -> dict | None:
        _, body = await get(world, "/api/v1/contracts")
        return body if len(body["items"]) == 2 else None

    contracts = await wait_until(both, what="the second contract")
    assert [c["contract_number"] for c in contracts["items"]] == [
        mine.contract_number,
        second.contract_number,
    ]

    async def three_meters() -> dict | None:
        _, body = await get(world, "/api/v1/meters")
        return body if len(body["items"]) == 3 else None

    meters = await wait_until(three_meters, what="the second contract's meter")
    new = next(m for m in meters["items"] if m["meter_number"] == mine.meters[0] + "-B")
    assert new["installed_on"] == "2025-06-01"
    assert new["contract_number"] == second.contract_number


async def test_every_response_matches_the_openapi_document(world: World) -> None:
    status, document = await world.stack.api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    validate_spec(document)
    recorded = [r for r in world.stack.api.recorded if "openapi.json" not in r[1]]
    assert OpenApi(document).check_all(recorded) >= 10  # the fixture alone makes more
