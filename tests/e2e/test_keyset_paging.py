"""Keyset paging through the gateway (decision 51): every list that grows (invoices, payments,
notes, a meter's readings) is walked with its cursors, each row once and in order, however rows
arrive meanwhile; a cursor that is not one the list wrote is a 422 naming `cursor`; and a cursor
carries a position and nothing else, so another customer's cursor shows the caller only the
caller's own rows."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import erp, reading
from tests.support.erp import Household, daily_readings, publish_household
from tests.support.flows import access_token, registered_account
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack

# Besides each household's own (3 invoices, 2 payments, 2 notes): two rows on most days, so
# that the tie-breaking number counts too.
EXTRA = 23
READINGS = 61
LIMIT = 4


@dataclass
class Customer:
    household: Household
    token: str


@dataclass
class World:
    stack: Stack
    a: Customer
    b: Customer


def invoice(household: Household, n: int, issued: date) -> erp.InvoiceIssued:
    customer = household.customer.customer_id
    return erp.InvoiceIssued(
        invoice_number=f"FV/K/{customer}/{n:02d}",
        customer_id=customer,
        contract_number=household.contract_number,
        issued_on=issued,
        due_on=issued + timedelta(days=14),
        period_from=issued.replace(day=1),
        period_to=issued,
        net=Decimal("10.00"),
        vat=Decimal("0.80"),
        gross=Decimal("10.80"),
    )


def payment(household: Household, n: int, booked: date) -> erp.PaymentBooked:
    customer = household.customer.customer_id
    return erp.PaymentBooked(
        booking_id=f"B-K-{customer}-{n:02d}",
        customer_id=customer,
        booked_on=booked,
        amount=Decimal("1.00"),
        channel="transfer",
    )


def note(household: Household, n: int, issued: date) -> erp.NoteIssued:
    customer = household.customer.customer_id
    return erp.NoteIssued(
        note_number=f"NO/K/{customer}/{n:02d}",
        customer_id=customer,
        kind="interest",
        issued_on=issued,
        amount=Decimal("0.10"),
        description="Odsetki",
    )


def day(n: int) -> date:
    """Two rows a day from 2024-03-01 on."""
    return date(2024, 3, 1) + timedelta(days=n // 2)


async def publish_rows(stack: Stack, household: Household) -> None:
    for n in range(EXTRA):
        await stack.erp.publish("erp.invoice.issued", invoice(household, n, day(n)))
        await stack.erp.publish("erp.payment.booked", payment(household, n, day(n)))
        await stack.erp.publish("erp.note.issued", note(household, n, day(n)))


async def publish_readings(stack: Stack, readings: list[dict]) -> None:
    settings = stack.platform.settings
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="reading"
    ) as reading_system:
        await reading_system.publish(
            "reading.batch.recorded", reading.ReadingBatchRecorded(readings=readings)
        )


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(infra: Infra, keys: Path) -> AsyncIterator[World]:
    async for stack in start_stack(infra, keys):
        customers = []
        for _ in range(2):
            household = await publish_household(stack.erp, stack.platform.settings.today())
            await publish_rows(stack, household)
            meter = household.meters[0]
            await publish_readings(
                stack,
                daily_readings(meter, date(2024, 2, 1), READINGS, Decimal("10"), Decimal("0.5")),
            )
            account = await registered_account(stack, customer=household.customer)
            customers.append(Customer(household, await access_token(stack, account)))
        world = World(stack, *customers)
        for who in customers:
            for path, count in (
                ("/api/v1/invoices", 3 + EXTRA),
                ("/api/v1/payments-received", 2 + EXTRA),
                ("/api/v1/notes", 2 + EXTRA),
                (readings_path(who), READINGS),
            ):

                async def complete(
                    p: str = path, c: int = count, w: Customer = who, at: World = world
                ) -> bool:
                    status, page = await get(at, p, {"limit": "100"}, w)
                    return status == 200 and len(page["items"]) == c

                await wait_until(complete, what=f"every row of {path}")
        yield world


def readings_path(who: Customer) -> str:
    return f"/api/v1/meters/{who.household.meters[0]}/readings"


async def get(
    world: World, path: str, query: dict[str, str] | None = None, who: Customer | None = None
) -> tuple[int, dict]:
    target = path + ("?" + urlencode(query) if query else "")
    return await world.stack.api.request("GET", target, token=(who or world.a).token)  # type: ignore[return-value]


LISTS = {
    "/api/v1/invoices": ("invoice_number", ("issued_on", "invoice_number")),
    "/api/v1/payments-received": ("booking_id", ("booked_on", "booking_id")),
    "/api/v1/notes": ("note_number", ("issued_on", "note_number")),
    "readings": ("read_at", ("read_at",)),
}


def list_path(name: str, who: Customer) -> str:
    return readings_path(who) if name == "readings" else name


def decoded(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


async def walk(
    world: World, path: str, way: str = "next_cursor", start: dict | None = None, **query: str
) -> list[dict]:
    """Every page from `start` (the first page when None) following `way`, until it ends."""
    pages = []
    page = start
    if page is None:
        status, page = await get(world, path, {"limit": str(LIMIT), **query})
        assert status == 200, page
    pages.append(page)
    while page[way] is not None:
        assert len(page["items"]) == LIMIT or page is start, "only the last page is short"
        status, page = await get(world, path, {"limit": str(LIMIT), "cursor": page[way], **query})
        assert status == 200, page
        pages.append(page)
        assert len(pages) < 100
    return pages


@pytest.mark.parametrize("name", LISTS)
async def test_the_cursors_walk_every_row_once_in_order_and_back(world: World, name: str) -> None:
    path = list_path(name, world.a)
    ident, key = LISTS[name]
    _, everything = await get(world, path, {"limit": "100"})
    assert everything["next_cursor"] is None and everything["prev_cursor"] is None
    rows = everything["items"]
    keys = [tuple(r[k] for k in key) for r in rows]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)

    pages = await walk(world, path)
    assert pages[0]["prev_cursor"] is None and pages[-1]["next_cursor"] is None
    assert [r for p in pages for r in p["items"]] == rows
    assert len(pages) == -(-len(rows) // LIMIT)
    for page in pages[1:]:
        assert decoded(page["prev_cursor"])["d"] == "newer"
    # And back from the last page to the first, page by page: the same pages.
    back = await walk(world, path, "prev_cursor", start=pages[-1])
    assert [p["items"] for p in back] == [p["items"] for p in reversed(pages)][: len(back)]
    assert back[-1]["items"] == pages[0]["items"] and back[-1]["prev_cursor"] is None
    assert [r[ident] for r in pages[0]["items"]] == [r[ident] for r in rows[:LIMIT]]


async def test_filters_hold_on_every_page(world: World) -> None:
    query = {"from": "2024-03-02", "to": "2024-03-08"}
    _, everything = await get(world, "/api/v1/invoices", {"limit": "100", **query})
    assert len(everything["items"]) > LIMIT
    pages = await walk(world, "/api/v1/invoices", **query)
    assert [r for p in pages for r in p["items"]] == everything["items"]


async def test_rows_arriving_while_paging_shift_nothing(world: World) -> None:
    """The customer has read two pages; then the ERP issues a new invoice (the newest), the
    reading system sends a new reading (the newest) and, for the invoices, one older than the
    cursor. The pages after the cursor are the rows that were there, plus the older invoice in
    its place: nothing repeated, nothing skipped. Going back to the newest shows the new ones."""
    stack = world.stack
    household = world.a.household
    lists = {
        "/api/v1/invoices": "invoice_number",
        readings_path(world.a): "read_at",
    }
    before = {path: (await get(world, path, {"limit": "100"}))[1]["items"] for path in lists}
    seconds = {}
    for path in lists:
        _, first = await get(world, path, {"limit": str(LIMIT)})
        _, second = await get(world, path, {"limit": str(LIMIT), "cursor": first["next_cursor"]})
        assert second["items"] == before[path][LIMIT : 2 * LIMIT]
        seconds[path] = second

    newest = invoice(household, 90, stack.platform.settings.today() + timedelta(days=1))
    older = invoice(household, 91, date(2024, 3, 1))  # on the oldest extra invoice's day
    await stack.erp.publish("erp.invoice.issued", newest)
    await stack.erp.publish("erp.invoice.issued", older)
    last = before[readings_path(world.a)][0]
    await publish_readings(
        stack,
        [
            {
                "meter_number": household.meters[0],
                "read_at": "2030-01-01T06:00:00+00:00",
                "value": str(Decimal(last["value"]) + 1),
                "source": "remote",
            }
        ],
    )

    async def arrived() -> bool:
        counts = [len((await get(world, p, {"limit": "100"}))[1]["items"]) for p in lists]
        return counts == [len(before[p]) + n for p, n in zip(lists, (2, 1), strict=True)]

    await wait_until(arrived, what="the new invoices and reading")

    for path, ident in lists.items():
        later = await walk(world, path, start=seconds[path])
        seen = [r[ident] for p in later[1:] for r in p["items"]]
        expected = before[path][2 * LIMIT :]
        if path == "/api/v1/invoices":
            # The older invoice takes its place among the older rows; the newest is not here.
            placed = {"issued_on": older.issued_on.isoformat(), ident: older.invoice_number}
            expected = sorted(
                [*expected, placed], key=lambda r: (r["issued_on"], r[ident]), reverse=True
            )
        assert seen == [r[ident] for r in expected], path
        # Back to the newest from the page after the second: the new rows are first now.
        back = await walk(world, path, "prev_cursor", start=later[1])
        top = back[-1]
        assert top["prev_cursor"] is None and len(top["items"]) == LIMIT
        if path == "/api/v1/invoices":
            assert top["items"][0][ident] == newest.invoice_number
        else:
            assert top["items"][0][ident].startswith("2030-01-01T06:00:00")
            assert top["items"][0]["consumption"] == "1.000"


BAD_CURSORS = {
    "not base64url": "not a cursor!",
    "not JSON": base64.urlsafe_b64encode(b"{{{").decode(),
    "edited": "eyJsIjoiaW52b2ljZXMiLCJkIjoib2xkZXIiLCJrIjpbIjIwMjYtMTAtMzEiXX0",
    "empty": "",
    "too long": "A" * 1000,
}


@pytest.mark.parametrize("bad", BAD_CURSORS.values(), ids=BAD_CURSORS.keys())
@pytest.mark.parametrize("name", LISTS)
async def test_a_malformed_cursor_is_a_422_naming_it(world: World, name: str, bad: str) -> None:
    status, problem = await world.stack.api.request(
        "GET", f"{list_path(name, world.a)}?cursor={quote(bad, safe='')}", token=world.a.token
    )
    assert status == 422, problem
    assert problem["type"].endswith("/validation-failed")
    assert [e["field"] for e in problem["errors"]] == ["cursor"]


async def test_a_cursor_of_another_list_is_refused(world: World) -> None:
    _, invoices = await get(world, "/api/v1/invoices", {"limit": "1"})
    for path in ("/api/v1/payments-received", "/api/v1/notes", readings_path(world.a)):
        status, problem = await get(world, path, {"cursor": invoices["next_cursor"]})
        assert status == 422 and problem["errors"][0]["field"] == "cursor"
        assert problem["errors"][0]["code"] == "invalid_cursor"


@pytest.mark.parametrize("name", LISTS)
async def test_another_customers_cursor_shows_only_the_callers_rows(
    world: World, name: str
) -> None:
    ident, key = LISTS[name]
    theirs = (await get(world, list_path(name, world.b), {"limit": "3"}, world.b))[1]
    cursor = theirs["next_cursor"]
    # All that the cursor carries: which list, which way, and the sort key of a row.
    at = tuple(theirs["items"][-1][k] for k in key)
    body = decoded(cursor)
    assert set(body) == {"l", "d", "k"} and body["d"] == "older"
    if name != "readings":  # (a moment is carried in UTC to the microsecond)
        assert tuple(body["k"]) == at
    mine = (await get(world, list_path(name, world.a), {"limit": "100"}))[1]["items"]
    status, page = await get(world, list_path(name, world.a), {"limit": "100", "cursor": cursor})
    assert status == 200
    # The caller's own rows after that position, as if it were the caller's own cursor.
    assert page["items"] == [r for r in mine if tuple(r[k] for k in key) < at]
    if name != "readings":  # (readings of two meters may share their moments)
        assert not {r[ident] for r in theirs["items"]} & {r[ident] for r in page["items"]}
    else:
        # The other customer's meter stays theirs, cursor or not.
        status, problem = await get(world, readings_path(world.b), {"cursor": cursor}, world.a)
        assert status == 404 and problem["type"].endswith("/not-found")
