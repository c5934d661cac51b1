"""Cases through the gateway, as the browser and the back office use them: every kind written and
numbered (KOR/<year>/NNNNNN), each told once on the back office's queue; a repeated request (the
same Idempotency-Key) makes one case; another customer's case out of reach; lists filtered and
paged; messages; a partial manager's limits; the back office's update seen at once, an update of
an unknown case dead-lettered with the reason; numbers without gaps under concurrent creation."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import aio_pika
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import erp
from shared.events.correspondence import BackOfficeCaseUpdated
from shared.messaging.topology import REASON_HEADER, Names
from tests.support.erp import address
from tests.support.flows import Account, access_token, manager_granted_by_erp, registered_account
from tests.support.platform import wait_until
from tests.support.stack import Stack

CASES = "/api/v1/cases"
NUMBER = re.compile(r"^KOR/(\d{4})/(\d{6})$")
# What the back office's queues held, by case number: each read takes messages off the queue.
_OUTBOUND: dict[str, dict[str, list[dict]]] = {
    "cases": defaultdict(list),
    "case-messages": defaultdict(list),
}


@dataclass(frozen=True)
class Customer:
    """A registered customer with a second contract (its own service point and invoice)."""

    account: Account
    token: str
    point: str  # on the first contract (a partial manager's grant)
    other_point: str  # on the second contract
    invoice: str  # of the first contract
    other_invoice: str  # of the second contract


async def customer(stack: Stack) -> Customer:
    account = await registered_account(stack)
    suffix = account.customer.customer_id.removeprefix("C-")
    await stack.erp.publish(
        "erp.contract.upserted",
        erp.ContractUpserted(
            contract_number=f"U2-{suffix}",
            customer_id=account.customer.customer_id,
            signed_on=date(2024, 1, 1),
            status="active",
            service_points=[
                erp.ServicePoint(
                    service_point_id=f"SP2-{suffix}", address=address(), meter_number=f"M2-{suffix}"
                )
            ],
        ),
    )
    issued = date.today().replace(day=1) - timedelta(days=1)
    await stack.erp.publish(
        "erp.invoice.issued",
        erp.InvoiceIssued(
            invoice_number=f"FV/2/{suffix}",
            customer_id=account.customer.customer_id,
            contract_number=f"U2-{suffix}",
            issued_on=issued,
            due_on=issued + timedelta(days=14),
            period_from=issued.replace(day=1),
            period_to=issued,
            net="10.00",  # type: ignore[arg-type]
            vat="0.80",  # type: ignore[arg-type]
            gross="10.80",  # type: ignore[arg-type]
            lines=[],
        ),
    )
    found = Customer(
        account,
        await access_token(stack, account),
        f"SP-{suffix}",
        f"SP2-{suffix}",
        account.customer.invoice_number,
        f"FV/2/{suffix}",
    )
    db = await stack.platform.db("correspondence")
    try:
        await wait_until(
            lambda: db.fetchval(
                """SELECT count(*) = 2 FROM invoices i JOIN service_points s USING (contract_number)
                    WHERE i.invoice_number = ANY($1::text[])""",
                [found.invoice, found.other_invoice],
            ),
            what="correspondence to learn the customer's contracts and invoices",
        )
    finally:
        await db.close()
    return found


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def first(stack: Stack) -> Customer:
    return await customer(stack)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def second(stack: Stack) -> Customer:
    return await customer(stack)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def backoffice(stack: Stack) -> AsyncIterator[IntegrationClient]:
    settings = stack.platform.settings
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="backoffice"
    ) as client:
        yield client


def code(problem: object) -> str:
    assert isinstance(problem, dict), problem
    return str(problem["type"]).rsplit("/", 1)[-1]


def case_path(number: str, query: str = "") -> str:
    return f"{CASES}/{quote(number, safe='')}{query}"


async def post_case(
    stack: Stack, token: str, body: dict, key: str | None = None, query: str = ""
) -> tuple[int, dict]:
    """POST /api/v1/cases with an Idempotency-Key (a new one unless given)."""
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or str(uuid.uuid4())}
    api = stack.api
    async with api.session.post(
        f"{api.base_url}{CASES}{query}", json=body, headers=headers
    ) as resp:
        return resp.status, await resp.json(content_type=None)


async def created(stack: Stack, token: str, body: dict, query: str = "") -> dict:
    status, case = await post_case(stack, token, body, query=query)
    assert status == 201, case
    return case


async def get(stack: Stack, token: str, path: str) -> dict:
    status, body = await stack.api.request("GET", path, token=token)
    assert status == 200, body
    return body  # type: ignore[return-value]


def question(subject: str = "Odczyt licznika") -> dict:
    return {"kind": "question", "subject": subject, "description": "Kiedy będzie odczyt?"}


async def outbound(stack: Stack, fact: str, number: str) -> list[dict]:
    """The payloads about case `number` on `<ns>.backoffice.<fact>` so far."""
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Names(stack.platform.settings.namespace).queue("backoffice", fact), ensure=False
        )
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            envelope = json.loads(message.body)
            _OUTBOUND[fact][envelope["payload"]["number"]].append(envelope["payload"])
    finally:
        await connection.close()
    return list(_OUTBOUND[fact][number])


async def told_once(stack: Stack, fact: str, number: str) -> dict:
    """The one message about `number` on the back office's queue (waiting for it)."""

    async def arrived() -> list[dict] | None:
        return await outbound(stack, fact, number) or None

    await wait_until(arrived, what=f"case {number} on the back office's {fact} queue")
    # Whatever else was published before this one has arrived by now: nothing twice.
    [payload] = await outbound(stack, fact, number)
    return payload


async def test_every_kind_is_numbered_and_told_to_the_back_office_once(
    stack: Stack, first: Customer
) -> None:
    year = stack.platform.settings.today().year
    bodies = {
        "failure": {
            "kind": "failure",
            "service_point_id": first.point,
            "description": "Brak wody",
            "since": "2026-11-01",
        },
        "failure-elsewhere": {
            "kind": "failure",
            "location": "ul. Polna 1, Warszawa",
            "description": "Wyciek na ulicy",
        },
        "water-quality": {
            "kind": "water-quality",
            "service_point_id": first.other_point,
            "description": "Brązowa woda",
        },
        "data-change": {
            "kind": "data-change",
            "changes": [
                {"field": "phone", "current": "+48 600 000 000", "requested": "+48 601 000 000"},
                {"field": "contact_email", "requested": "nowy@example.com"},
            ],
            "comment": "Nowy numer",
        },
        "billing-complaint": {
            "kind": "billing-complaint",
            "invoice_number": first.invoice,
            "reason": "Za wysokie zużycie",
        },
        "question": question(),
    }
    cases = {name: await created(stack, first.token, body) for name, body in bodies.items()}
    login = first.account.login
    for name, case in cases.items():
        found = NUMBER.fullmatch(case["number"])
        assert found and int(found.group(1)) == year, case["number"]
        assert (case["kind"], case["status"]) == (bodies[name]["kind"], "submitted")
        assert case["customer_id"] == first.account.customer.customer_id
        assert case["submitted_by"] == {"role": "customer", "login": login, "name": None}
        assert [(t["status"], t["by"]["role"], t["by"]["login"]) for t in case["timeline"]] == [
            ("submitted", "customer", login)
        ]
        assert (case["messages"], case["attachments"]) == ([], [])
        # Read back as written.
        assert await get(stack, first.token, case_path(case["number"])) == case
    assert len({c["number"] for c in cases.values()}) == len(cases)
    assert cases["failure"]["title"] == "Wodna 7/3, 00-950 Warszawa"
    assert cases["failure"]["since"] == "2026-11-01"
    assert cases["failure-elsewhere"]["location"] == "ul. Polna 1, Warszawa"
    assert cases["billing-complaint"]["invoice_number"] == first.invoice
    assert cases["question"]["title"] == "Odczyt licznika"
    assert [c["field"] for c in cases["data-change"]["changes"]] == ["phone", "contact_email"]

    for name, case in cases.items():
        told = await told_once(stack, "cases", case["number"])
        assert (told["number"], told["kind"]) == (case["number"], bodies[name]["kind"])
        assert told["submitted_by"]["login"] == login
        assert told["customer_id"] == first.account.customer.customer_id
    told = await told_once(stack, "cases", cases["data-change"]["number"])
    assert told["changes"][1] == {
        "field": "contact_email",
        "current": None,
        "requested": "nowy@example.com",
    }
    assert (await told_once(stack, "cases", cases["failure"]["number"]))["service_point_id"] == (
        first.point
    )


async def test_the_same_key_makes_one_case(stack: Stack, first: Customer) -> None:
    key = f"case-{secrets.token_hex(8)}"
    body = question("Podwójne kliknięcie")
    status, one = await post_case(stack, first.token, body, key)
    assert status == 201, one
    status, again = await post_case(stack, first.token, body, key)
    assert (status, again) == (201, one)
    # Another body under the same key is refused, and makes nothing.
    status, problem = await post_case(stack, first.token, question("Inne pytanie"), key)
    assert (status, code(problem)) == (409, "idempotency-key-reused")
    listed = await get(stack, first.token, f"{CASES}?kind=question&limit=100")
    assert [c["title"] for c in listed["items"]].count("Podwójne kliknięcie") == 1
    assert [c["title"] for c in listed["items"]].count("Inne pytanie") == 0
    await told_once(stack, "cases", one["number"])
    # Concurrent requests with one key: one case.
    key = f"case-{secrets.token_hex(8)}"
    answers = await asyncio.gather(
        *(post_case(stack, first.token, question("Naraz"), key) for _ in range(5))
    )
    assert {s for s, _ in answers} == {201}
    assert len({c["number"] for _, c in answers}) == 1
    # No key: refused before anything is made.
    status, problem = await stack.api.request("POST", CASES, token=first.token, json=question())
    assert (status, code(problem)) == (400, "missing")


async def test_another_customers_case_is_not_found(
    stack: Stack, first: Customer, second: Customer
) -> None:
    case = await created(stack, first.token, question("Tylko moje"))
    status, problem = await stack.api.request("GET", case_path(case["number"]), token=second.token)
    assert (status, code(problem)) == (404, "not-found")
    status, problem = await stack.api.request(
        "POST", case_path(case["number"], "/messages"), token=second.token, json={"text": "Hej"}
    )
    assert (status, code(problem)) == (404, "not-found")
    listed = await get(stack, second.token, f"{CASES}?limit=100")
    assert case["number"] not in [c["number"] for c in listed["items"]]
    status, problem = await stack.api.request(
        "GET", case_path("KOR/1999/000001"), token=first.token
    )
    assert (status, code(problem)) == (404, "not-found")


async def test_another_customers_service_point_or_invoice_is_refused(
    stack: Stack, first: Customer, second: Customer
) -> None:
    status, problem = await post_case(
        stack,
        first.token,
        {"kind": "water-quality", "service_point_id": second.point, "description": "Mętna"},
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["service_point_id"]
    status, problem = await post_case(
        stack,
        first.token,
        {"kind": "billing-complaint", "invoice_number": second.invoice, "reason": "Nie moja"},
    )
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["invoice_number"]


async def test_the_list_filters_and_pages(stack: Stack) -> None:
    mine = await customer(stack)
    made = [await created(stack, mine.token, question(f"Pytanie {i}")) for i in range(5)]
    failure = await created(
        stack,
        mine.token,
        {"kind": "failure", "service_point_id": mine.point, "description": "Awaria"},
    )
    everything = await get(stack, mine.token, f"{CASES}?limit=100")
    newest_first = [failure["number"], *[c["number"] for c in reversed(made)]]
    assert [c["number"] for c in everything["items"]] == newest_first
    assert (everything["next_cursor"], everything["prev_cursor"]) == (None, None)

    questions = await get(stack, mine.token, f"{CASES}?kind=question&limit=100")
    assert [c["number"] for c in questions["items"]] == newest_first[1:]
    failures = await get(stack, mine.token, f"{CASES}?kind=failure&status=submitted")
    assert [c["number"] for c in failures["items"]] == [failure["number"]]
    assert (await get(stack, mine.token, f"{CASES}?status=closed"))["items"] == []
    today = stack.platform.settings.today()
    on_today = await get(stack, mine.token, f"{CASES}?since={today}&until={today}&limit=100")
    assert len(on_today["items"]) == 6
    tomorrow = today + timedelta(days=1)
    assert (await get(stack, mine.token, f"{CASES}?since={tomorrow}"))["items"] == []
    yesterday = today - timedelta(days=1)
    assert (await get(stack, mine.token, f"{CASES}?until={yesterday}"))["items"] == []

    # Pages of two, older and back.
    pages, cursor = [], None
    while True:
        page = await get(
            stack, mine.token, f"{CASES}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        )
        pages.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [c["number"] for p in pages for c in p["items"]] == newest_first
    assert len(pages) == 3 and pages[0]["prev_cursor"] is None
    back = await get(stack, mine.token, f"{CASES}?limit=2&cursor={pages[2]['prev_cursor']}")
    assert back["items"] == pages[1]["items"]
    status, problem = await stack.api.request("GET", f"{CASES}?cursor=bogus", token=mine.token)
    assert status == 422, problem


async def test_messages_join_the_thread_and_go_to_the_back_office_once(
    stack: Stack, first: Customer, backoffice: IntegrationClient
) -> None:
    case = await created(stack, first.token, question("Wątek"))
    path = case_path(case["number"], "/messages")
    status, message = await stack.api.request(
        "POST", path, token=first.token, json={"text": "Dodam, że licznik jest w piwnicy."}
    )
    assert status == 201, message
    assert message["author"] == {"role": "customer", "login": first.account.login, "name": None}
    assert message["attachments"] == []
    read = await get(stack, first.token, case_path(case["number"]))
    assert [m["message_id"] for m in read["messages"]] == [message["message_id"]]
    assert read["updated_at"] >= case["updated_at"]

    async def told() -> list[dict] | None:
        return await outbound(stack, "case-messages", case["number"]) or None

    [posted] = await wait_until(told, what="the message on the back office's queue")
    assert (posted["message_id"], posted["text"]) == (message["message_id"], message["text"])
    assert posted["posted_by"]["login"] == first.account.login

    # Closed by the back office: no more messages.
    await update(backoffice, case["number"], "closed", reply="Zamykamy.")
    await wait_until(
        lambda: status_of(stack, first.token, case["number"], "closed"), what="the case closed"
    )
    status, problem = await stack.api.request("POST", path, token=first.token, json={"text": "?"})
    assert (status, code(problem)) == (409, "case-closed")


async def status_of(stack: Stack, token: str, number: str, status: str) -> dict | None:
    case = await get(stack, token, case_path(number))
    return case if case["status"] == status else None


async def update(client: IntegrationClient, number: str, status: str, **fields: object) -> None:
    await client.publish(
        BackOfficeCaseUpdated.TYPE,
        BackOfficeCaseUpdated.model_validate(
            {
                "number": number,
                "status": status,
                "by": "Anna Nowak",
                "updated_at": datetime.now(UTC),
                **fields,
            }
        ),
    )


async def test_the_back_office_update_is_seen_at_once(
    stack: Stack, first: Customer, backoffice: IntegrationClient
) -> None:
    case = await created(
        stack,
        first.token,
        {"kind": "failure", "service_point_id": first.point, "description": "Cieknie"},
    )
    await update(backoffice, case["number"], "registered")
    await update(backoffice, case["number"], "answered", reply="Ekipa będzie jutro.")
    answered = await wait_until(
        lambda: status_of(stack, first.token, case["number"], "answered"),
        what="the back office's answer",
    )
    assert [(t["status"], t["by"]["role"], t["by"]["name"]) for t in answered["timeline"]] == [
        ("submitted", "customer", None),
        ("registered", "utility", "Anna Nowak"),
        ("answered", "utility", "Anna Nowak"),
    ]
    assert [(m["author"], m["text"]) for m in answered["messages"]] == [
        ({"role": "utility", "login": None, "name": "Anna Nowak"}, "Ekipa będzie jutro.")
    ]
    listed = await get(stack, first.token, f"{CASES}?status=answered&limit=100")
    assert case["number"] in [c["number"] for c in listed["items"]]


async def test_an_update_of_an_unknown_case_is_dead_lettered_with_the_reason(
    stack: Stack, backoffice: IntegrationClient
) -> None:
    number = f"KOR/1999/{secrets.randbelow(999_999) + 1:06d}"
    await update(backoffice, number, "registered")
    settings = stack.platform.settings
    names = Names(settings.namespace)
    dlq = names.dead_letter_queue(names.queue("correspondence", "backoffice"))
    connection = await aio_pika.connect(settings.amqp_url)
    seen: list[aio_pika.abc.AbstractIncomingMessage] = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(dlq, ensure=False)

        async def dead() -> aio_pika.abc.AbstractIncomingMessage | None:
            while (message := await queue.get(fail=False, no_ack=True)) is not None:
                seen.append(message)
            return next(
                (m for m in seen if json.loads(m.body)["payload"]["number"] == number), None
            )

        message = await wait_until(dead, what="the update on the dead-letter queue")
    finally:
        await connection.close()
    assert f"no case {number}" in str(message.headers[REASON_HEADER])


async def test_a_partial_manager_writes_and_sees_only_the_granted_part(
    stack: Stack, first: Customer
) -> None:
    customer_id = first.account.customer.customer_id
    # The customer's own cases beforehand: a question, and one on each contract.
    own_question = await created(stack, first.token, question("Pytanie właściciela"))
    granted_complaint = await created(
        stack,
        first.token,
        {"kind": "billing-complaint", "invoice_number": first.invoice, "reason": "Zła kwota"},
    )
    other_failure = await created(
        stack,
        first.token,
        {"kind": "failure", "service_point_id": first.other_point, "description": "Awaria"},
    )
    manager_id, manager_login, token = await manager_granted_by_erp(
        stack, first.account.customer, "partial", known_to=("billing", "correspondence")
    )
    q = f"?customer={customer_id}"

    status, problem = await post_case(
        stack,
        token,
        {"kind": "data-change", "changes": [{"field": "name", "requested": "Nowa Nazwa"}]},
        query=q,
    )
    assert (status, code(problem)) == (403, "partial-scope")
    status, problem = await post_case(stack, token, question(), query=q)
    assert (status, code(problem)) == (403, "partial-scope")
    for body, field in (
        (
            {"kind": "failure", "service_point_id": first.other_point, "description": "X"},
            "service_point_id",
        ),
        ({"kind": "failure", "location": "ul. Polna 1", "description": "X"}, "service_point_id"),
        (
            {"kind": "billing-complaint", "invoice_number": first.other_invoice, "reason": "X"},
            "invoice_number",
        ),
    ):
        status, problem = await post_case(stack, token, body, query=q)
        assert status == 422, problem
        assert [e["field"] for e in problem["errors"]] == [field]

    mine = await created(
        stack,
        token,
        {"kind": "failure", "service_point_id": first.point, "description": "Zalana piwnica"},
        query=q,
    )
    assert mine["submitted_by"] == {"role": "manager", "login": manager_login, "name": None}
    told = await told_once(stack, "cases", mine["number"])
    assert told["submitted_by"] == {
        "role": "manager",
        "account_id": manager_id,
        "login": manager_login,
        "name": None,
    }
    listed = await get(stack, token, f"{CASES}{q}&limit=100")
    numbers = [c["number"] for c in listed["items"]]
    assert mine["number"] in numbers and granted_complaint["number"] in numbers
    assert own_question["number"] not in numbers and other_failure["number"] not in numbers
    for hidden in (own_question, other_failure):
        status, problem = await stack.api.request(
            "GET", case_path(hidden["number"], q), token=token
        )
        assert (status, code(problem)) == (404, "not-found")
    # The customer sees the manager's case, named as the manager's.
    read = await get(stack, first.token, case_path(mine["number"]))
    assert read["submitted_by"]["role"] == "manager"


async def test_numbers_have_no_gaps_under_concurrent_creation(
    stack: Stack, first: Customer, second: Customer
) -> None:
    tokens = [first.token, second.token]
    bodies = [question(f"Naraz {i}") for i in range(30)]
    # One that fails after taking its number (an unknown attachment): it gives the number back.
    broken = {**question("Zepsute"), "attachment_ids": [str(uuid.uuid4())]}
    answers = await asyncio.gather(
        *(post_case(stack, tokens[i % 2], body) for i, body in enumerate(bodies)),
        post_case(stack, first.token, broken),
    )
    *made, (status, problem) = answers
    assert status == 422 and [e["field"] for e in problem["errors"]] == ["attachment_ids"]
    assert {s for s, _ in made} == {201}
    year = stack.platform.settings.today().year
    seqs = sorted(int(NUMBER.fullmatch(c["number"]).group(2)) for _, c in made)  # type: ignore[union-attr]
    assert {NUMBER.fullmatch(c["number"]).group(1) for _, c in made} == {str(year)}  # type: ignore[union-attr]
    assert seqs == list(range(seqs[0], seqs[0] + 30))
    after = await created(stack, second.token, question("Po"))
    assert int(NUMBER.fullmatch(after["number"]).group(2)) == seqs[-1] + 1  # type: ignore[union-attr]


async def test_a_full_manager_writes_any_kind_named_as_the_manager(
    stack: Stack, second: Customer
) -> None:
    customer_id = second.account.customer.customer_id
    own_question = await created(stack, second.token, question("Pytanie klienta"))
    _manager_id, manager_login, token = await manager_granted_by_erp(
        stack, second.account.customer, "full", known_to=("billing", "correspondence")
    )
    q = f"?customer={customer_id}"
    change = await created(
        stack,
        token,
        {"kind": "data-change", "changes": [{"field": "name", "requested": "Nowa Nazwa"}]},
        query=q,
    )
    assert change["submitted_by"] == {"role": "manager", "login": manager_login, "name": None}
    assert change["title"] == "name"
    listed = await get(stack, token, f"{CASES}{q}&limit=100")
    numbers = [c["number"] for c in listed["items"]]
    assert {own_question["number"], change["number"]} <= set(numbers)
    assert (await get(stack, token, case_path(own_question["number"], q)))["number"] == (
        own_question["number"]
    )
