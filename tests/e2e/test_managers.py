"""Managers through the gateway: a company's request, an operator's decision, the manager's
three emails and sign-in; grants changed and revoked by operators and owners, each published
with its next revision."""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest
import pytest_asyncio

from shared.events import erp
from shared.messaging.topology import Names
from tests.support.erp import Customer, address
from tests.support.flows import (
    NEW_PASSWORD,
    access_token,
    activation_token,
    credentials,
    known_customer,
    login,
    new_captcha,
    operator_token,
    registered_account,
    staff_account,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack

VALID_NIP = "526-000-12-46"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operator(stack: Stack) -> str:
    return await operator_token(stack)


async def _customer_known(stack: Stack) -> Customer:
    """A customer whose invoice and service point identity knows."""
    customer = await known_customer(stack)
    conn = await stack.platform.db("identity")
    try:
        await wait_until(
            lambda: conn.fetchval(
                "SELECT 1 FROM service_points WHERE customer_id = $1", customer.customer_id
            ),
            what="identity to learn the service point",
        )
    finally:
        await conn.close()
    return customer


def _suffix(customer: Customer) -> str:
    return customer.customer_id.removeprefix("C-")


async def _request_body(stack: Stack, customer: Customer, email: str, **overrides: object) -> dict:
    return {
        "company": "Zarządca Nieruchomości Sp. z o.o.",
        "nip": VALID_NIP,
        "contact_person": "Anna Nowak",
        "email": email,
        "phone": "+48 600 100 200",
        "properties": [
            {
                "address": address().model_dump(),
                "contract_number": f"U-{_suffix(customer)}",
                "scope": "full",
            },
            {
                "address": {**address().model_dump(), "building": "9"},
                "invoice_number": customer.invoice_number,
                "invoice_amount": "999.99",  # not its amount
                "scope": "partial",
            },
        ],
        "accept_terms": True,
        "terms_version": "2026-01",
        "captcha_id": await new_captcha(stack),
        "captcha_answer": "TEST1",
        "language": "en",
        **overrides,
    }


async def _send_request(stack: Stack, customer: Customer, email: str) -> str:
    body = await _request_body(stack, customer, email)
    status, answer = await stack.api.request("POST", "/api/v1/manager-requests", json=body)
    assert status == 202, answer
    assert re.fullmatch(r"MR-\d{4}-\d{6}", answer["reference"]), answer
    return answer["reference"]


@pytest_asyncio.fixture(loop_scope="session")
async def grant_events(stack: Stack) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A queue of its own bound to identity.grant.changed on the events exchange."""
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    channel = await connection.channel()
    names = Names(stack.platform.settings.namespace)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(names.exchange("events"), "identity.grant.changed")
    try:
        yield queue
    finally:
        await connection.close()


async def _next_grant_event(queue: aio_pika.abc.AbstractQueue, customer_id: str) -> dict:
    """The next identity.grant.changed about `customer_id` (other tests' customers skipped)."""

    async def got() -> dict | None:
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            envelope = json.loads(message.body)
            assert envelope["type"] == "identity.grant.changed"
            if envelope["payload"]["customer_id"] == customer_id:
                return envelope["payload"]
        return None

    return await wait_until(got, what="an identity.grant.changed event")


async def _backoffice(stack: Stack, fact: str) -> list[dict]:
    """What waits on the back office's queue of `fact`, taken off it."""
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Names(stack.platform.settings.namespace).queue("backoffice", fact), ensure=False
        )
        found = []
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            found.append(json.loads(message.body))
        return found
    finally:
        await connection.close()


async def _pending(stack: Stack, token: str, reference: str) -> dict:
    status, pending = await stack.api.request(
        "GET", "/api/v1/operator/manager-requests", token=token
    )
    assert status == 200, pending
    [request] = [r for r in pending["items"] if r["reference"] == reference]
    return request


async def test_request_approved_manager_gets_three_emails_and_signs_in(
    stack: Stack, operator: str
) -> None:
    customer = await _customer_known(stack)
    manager_email = f"zarzadca.{secrets.token_hex(4)}@example.com"
    reference = await _send_request(stack, customer, manager_email)

    received = await wait_for_mail(stack, manager_email, "manager-request-received")
    assert received.message.get_content_type() == "multipart/alternative"
    assert reference in received.subject
    assert reference in received.body("plain") and reference in received.body("html")

    request = await _pending(stack, operator, reference)
    assert request["nip"] == "5260001246" and request["status"] == "pending"
    by_contract, by_invoice = request["properties"]
    assert by_contract["match"] == "matched", by_contract
    assert by_contract["customer_id"] == customer.customer_id
    assert by_contract["customer_name"].startswith("Jan Kowalski")
    [point] = by_contract["service_points"]
    assert point["service_point_id"] == f"SP-{_suffix(customer)}" and point["address_matches"]
    assert by_invoice["match"] == "unmatched", by_invoice

    status, decision = await stack.api.request(
        "POST",
        f"/api/v1/operator/manager-requests/{reference}/approval",
        token=operator,
        json={
            "grants": [
                {
                    "customer_id": customer.customer_id,
                    "scope": "partial",
                    "service_point_ids": [point["service_point_id"]],
                }
            ]
        },
    )
    assert status == 200, decision
    assert decision["status"] == "approved" and decision["manager_login"]
    [grant] = decision["grants"]
    assert (grant["revision"], grant["scope"], grant["changed_by"]) == (1, "partial", "operator")

    status, again = await stack.api.request(
        "POST",
        f"/api/v1/operator/manager-requests/{reference}/rejection",
        token=operator,
        json={"reason": "too late"},
    )
    assert status == 409 and again["type"].endswith("/decided-already"), again

    # The same three emails as a customer's registration; sign-in only after the third.
    token = activation_token(await wait_for_mail(stack, manager_email, "registration"))
    status, _ = await login(stack, decision["manager_login"], "anything-at-all-1")
    assert status == 401
    status, body = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": token}
    )
    assert status == 200, body
    login_name, password = credentials(
        await wait_for_mail(stack, manager_email, "registration-confirmation")
    )
    assert login_name == decision["manager_login"]
    await wait_for_mail(stack, manager_email, "account-activation")
    assert [m.template for m in stack.mailbox.to_address(manager_email)] == [
        "manager-request-received",
        "registration",
        "registration-confirmation",
        "account-activation",
    ]

    async def signed_in() -> dict | None:
        status, body = await login(stack, login_name, password)
        return body if status == 200 else None

    tokens = await wait_until(signed_in, what="the manager's sign-in to be enabled")
    status, tokens = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": password, "new_password": NEW_PASSWORD},
    )
    assert status == 200, tokens
    status, me = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 200, me
    assert (me["role"], me["customer_id"], me["email"]) == ("manager", None, manager_email)

    status, grants = await stack.api.request(
        "GET", f"/api/v1/operator/managers/{me['account_id']}/grants", token=operator
    )
    assert status == 200 and [g["customer_id"] for g in grants["items"]] == [customer.customer_id]

    decided = [
        d
        for d in await _backoffice(stack, "manager-decisions")
        if d["payload"]["reference"] == reference
    ]
    assert len(decided) == 1, decided
    payload = decided[0]["payload"]
    assert decided[0]["type"] == "identity.manager-request.decided"
    assert payload["decision"] == "approved" and payload["manager_login"] == login_name
    assert payload["grants"][0]["customer_id"] == customer.customer_id


async def test_rejected_request_gets_an_email_with_the_reason(stack: Stack, operator: str) -> None:
    customer = await _customer_known(stack)
    manager_email = f"odrzucony.{secrets.token_hex(4)}@example.com"
    reference = await _send_request(stack, customer, manager_email)
    reason = "The contract U-1 is not administered by your company <per the owner>"
    status, decision = await stack.api.request(
        "POST",
        f"/api/v1/operator/manager-requests/{reference}/rejection",
        token=operator,
        json={"reason": reason},
    )
    assert status == 200 and decision["status"] == "rejected", decision
    mail = await wait_for_mail(stack, manager_email, "manager-request-rejected")
    assert reference in mail.subject
    assert reason in mail.body("plain")
    assert "&lt;per the owner&gt;" in mail.body("html")
    decided = [
        d["payload"]
        for d in await _backoffice(stack, "manager-decisions")
        if d["payload"]["reference"] == reference
    ]
    assert [(d["decision"], d["reason"]) for d in decided] == [("rejected", reason)]


async def test_a_wrong_nip_or_a_property_without_proof_is_a_422_naming_the_field(
    stack: Stack,
) -> None:
    customer = Customer("C-x", "FV/x", 0, "x@example.com")  # type: ignore[arg-type]
    body = await _request_body(stack, customer, "a@example.com", nip="526-000-12-47")
    status, problem = await stack.api.request("POST", "/api/v1/manager-requests", json=body)
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["nip"]
    assert "check digit" in problem["errors"][0]["message"]

    body = await _request_body(stack, customer, "a@example.com")
    del body["properties"][0]["contract_number"]
    status, problem = await stack.api.request("POST", "/api/v1/manager-requests", json=body)
    assert status == 422, problem
    assert [e["field"] for e in problem["errors"]] == ["properties.0"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/operator/manager-requests"),
        ("GET", "/api/v1/operator/managers?q=a"),
        ("POST", "/api/v1/operator/manager-requests/MR-2026-000001/rejection"),
        ("DELETE", "/api/v1/operator/managers/00000000-0000-0000-0000-000000000000/grants/C-1"),
    ],
)
async def test_operator_routes_refuse_a_customer_at_the_gateway_and_in_identity(
    stack: Stack, method: str, path: str
) -> None:
    token = await access_token(stack, await registered_account(stack))
    body = {"reason": "x"} if method == "POST" else None
    status, problem = await stack.api.request(method, path, token=token, json=body)
    assert status == 403 and problem["type"].endswith("/insufficient-scope"), problem
    # Identity checks again on its own.
    url = stack.platform.urls["identity"] + path.removeprefix("/api/v1")
    async with stack.api.session.request(
        method, url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 403, await resp.text()


async def test_grant_changes_and_revocations_are_published_with_the_next_revision(
    stack: Stack, operator: str, grant_events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await registered_account(stack, customer=await _customer_known(stack))
    owner_token = await access_token(stack, owner)
    point = f"SP-{_suffix(owner.customer)}"
    manager_email = f"zaproszony.{secrets.token_hex(4)}@example.com"

    # The owner invites a manager: a new manager account, its activation link, a grant.
    status, grant = await stack.api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": manager_email, "scope": "partial", "service_point_ids": [point]},
    )
    assert status == 201, grant
    assert (grant["revision"], grant["changed_by"]) == (1, "customer")
    await wait_for_mail(stack, manager_email, "registration")
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["revoked"], event["service_point_ids"]) == (1, False, [point])
    manager_id = grant["manager_account_id"]

    status, mine = await stack.api.request("GET", "/api/v1/me/managers", token=owner_token)
    assert status == 200 and [m["manager_account_id"] for m in mine["items"]] == [manager_id]

    status, problem = await stack.api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": manager_email, "scope": "partial", "service_point_ids": ["SP-not-mine"]},
    )
    assert status == 422 and problem["errors"][0]["field"] == "service_point_ids", problem

    # An operator widens it, then revokes it: revisions 2 and 3.
    path = f"/api/v1/operator/managers/{manager_id}/grants/{owner.customer.customer_id}"
    status, grant = await stack.api.request("PUT", path, token=operator, json={"scope": "full"})
    assert status == 200 and (grant["revision"], grant["scope"]) == (2, "full"), grant
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["scope"], event["changed_by"]) == (2, "full", "operator")

    status, grant = await stack.api.request("DELETE", path, token=operator)
    assert status == 200 and (grant["revision"], grant["revoked"]) == (3, True), grant
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["revoked"]) == (3, True)
    status, problem = await stack.api.request("DELETE", path, token=operator)
    assert status == 404, problem

    status, mine = await stack.api.request("GET", "/api/v1/me/managers", token=owner_token)
    assert status == 200 and mine["items"] == []

    # Invited again (the same address: the same account), then revoked by the owner.
    status, grant = await stack.api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": manager_email.upper(), "scope": "full"},
    )
    assert status == 201 and grant["manager_account_id"] == manager_id
    assert grant["revision"] == 4
    assert (await _next_grant_event(grant_events, owner.customer.customer_id))["revision"] == 4
    status, grant = await stack.api.request(
        "DELETE", f"/api/v1/me/managers/{manager_id}", token=owner_token
    )
    assert status == 200 and (grant["revision"], grant["changed_by"]) == (5, "customer")
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["revoked"], event["changed_by"]) == (5, True, "customer")

    copies = [
        e["payload"]["revision"]
        for e in await _backoffice(stack, "manager-grants")
        if e["payload"]["manager_account_id"] == manager_id
    ]
    assert copies == [1, 2, 3, 4, 5]


async def test_the_erp_grants_and_revokes_over_the_integration_exchange(
    stack: Stack, grant_events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await registered_account(stack, customer=await _customer_known(stack))
    owner_token = await access_token(stack, owner)
    status, grant = await stack.api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": f"erp.{secrets.token_hex(4)}@example.com", "scope": "full"},
    )
    assert status == 201, grant
    assert (await _next_grant_event(grant_events, owner.customer.customer_id))["revision"] == 1
    status, mine = await stack.api.request("GET", "/api/v1/me/managers", token=owner_token)
    [manager] = mine["items"]
    point = f"SP-{_suffix(owner.customer)}"

    await stack.erp.publish(
        "erp.manager.granted",
        erp.ManagerGranted(
            manager_login=manager["login"],
            customer_id=owner.customer.customer_id,
            scope="partial",
            service_point_ids=[point],
        ),
    )
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["scope"], event["changed_by"]) == (2, "partial", "erp")
    assert event["service_point_ids"] == [point]

    await stack.erp.publish(
        "erp.manager.revoked",
        erp.ManagerRevoked(manager_login=manager["login"], customer_id=owner.customer.customer_id),
    )
    event = await _next_grant_event(grant_events, owner.customer.customer_id)
    assert (event["revision"], event["revoked"], event["changed_by"]) == (3, True, "erp")
    status, mine = await stack.api.request("GET", "/api/v1/me/managers", token=owner_token)
    assert status == 200 and mine["items"] == []


async def test_a_revoked_manager_is_refused_on_the_next_request_within_5_seconds(
    stack: Stack, grant_events: aio_pika.abc.AbstractQueue
) -> None:
    owner = await registered_account(stack, customer=await _customer_known(stack))
    owner_token = await access_token(stack, owner)
    manager_email = f"odwolany.{secrets.token_hex(4)}@example.com"
    status, grant = await stack.api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": manager_email, "scope": "full", "language": "en"},
    )
    assert status == 201, grant
    token = activation_token(await wait_for_mail(stack, manager_email, "registration"))
    status, body = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": token}
    )
    assert status == 200, body
    login_name, password = credentials(
        await wait_for_mail(stack, manager_email, "registration-confirmation")
    )
    await wait_for_mail(stack, manager_email, "account-activation")

    async def signed_in() -> dict | None:
        status, body = await login(stack, login_name, password)
        return body if status == 200 else None

    tokens = await wait_until(signed_in, what="the manager's sign-in to be enabled")
    status, tokens = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": password, "new_password": NEW_PASSWORD},
    )
    assert status == 200, tokens
    manager_token = tokens["access_token"]
    contracts = f"/api/v1/contracts?customer={owner.customer.customer_id}"

    async def sees_contracts() -> bool:
        status, _ = await stack.api.request("GET", contracts, token=manager_token)
        return status == 200

    await wait_until(sees_contracts, what="the grant to reach billing")

    status, revoked = await stack.api.request(
        "DELETE", f"/api/v1/me/managers/{grant['manager_account_id']}", token=owner_token
    )
    assert status == 200 and revoked["revoked"], revoked
    started = time.monotonic()

    async def refused() -> bool:
        status, _ = await stack.api.request("GET", contracts, token=manager_token)
        return status == 404

    await wait_until(refused, what="the revocation to take effect", timeout=5.0)
    assert time.monotonic() - started < 5.0


async def test_an_operator_makes_another_who_signs_in_after_the_emails(
    stack: Stack, operator: str
) -> None:
    name = f"op.{secrets.token_hex(3)}"
    email = f"{name}@wodociagi.example"
    body = {"login": name, "email": email, "language": "en"}
    status, made = await stack.api.request(
        "POST", "/api/v1/operator/operators", token=operator, json=body
    )
    assert status == 201 and made["login"] == name, made
    status, problem = await stack.api.request(
        "POST", "/api/v1/operator/operators", token=operator, json=body
    )
    assert status == 422 and problem["errors"][0]["field"] == "login", problem

    login_name, password = credentials(
        await wait_for_mail(stack, email, "registration-confirmation")
    )
    assert login_name == name
    await wait_for_mail(stack, email, "account-activation")

    async def signed_in() -> dict | None:
        status, body = await login(stack, login_name, password)
        return body if status == 200 else None

    tokens = await wait_until(signed_in, what="the new operator's sign-in to be enabled")
    assert tokens["must_change_password"] is True


async def test_a_second_request_from_the_same_manager_adds_grants_to_the_same_account(
    stack: Stack, operator: str
) -> None:
    manager_email = f"zarzadca.{secrets.token_hex(4)}@example.com"
    approved = []
    for _ in range(2):
        customer = await _customer_known(stack)
        reference = await _send_request(stack, customer, manager_email)
        request = await _pending(stack, operator, reference)
        point = request["properties"][0]["service_points"][0]["service_point_id"]
        status, decision = await stack.api.request(
            "POST",
            f"/api/v1/operator/manager-requests/{reference}/approval",
            token=operator,
            json={
                "grants": [
                    {
                        "customer_id": customer.customer_id,
                        "scope": "partial",
                        "service_point_ids": [point],
                    }
                ]
            },
        )
        assert status == 200, decision
        approved.append((customer.customer_id, decision))
    (first_customer, first), (second_customer, second) = approved
    assert second["manager_account_id"] == first["manager_account_id"]
    assert second["manager_login"] == first["manager_login"]
    status, grants = await stack.api.request(
        "GET", f"/api/v1/operator/managers/{first['manager_account_id']}/grants", token=operator
    )
    assert status == 200, grants
    assert sorted(g["customer_id"] for g in grants["items"]) == sorted(
        [first_customer, second_customer]
    )
    await wait_for_mail(stack, manager_email, "manager-request-received", count=2)
    await wait_for_mail(stack, manager_email, "registration")
    # One account, so one activation link: the second approval only widened its grants.
    assert [m.template for m in stack.mailbox.to_address(manager_email)].count("registration") == 1


async def test_a_managers_token_stays_small_whatever_the_number_of_grants(stack: Stack) -> None:
    account_id, few = await staff_account(stack, "manager")
    conn = await stack.platform.db("identity")
    try:
        await conn.execute(
            """INSERT INTO grants (manager_account_id, customer_id, scope, service_point_ids,
                                   revision, changed_by)
               SELECT $1::uuid, 'C-MANY-' || n, 'partial',
                      ARRAY['SP-MANY-' || n || '-1', 'SP-MANY-' || n || '-2'], 1, 'operator'
                 FROM generate_series(1, 5000) n""",
            account_id,
        )
        status, me = await stack.api.request("GET", "/api/v1/me", token=few)
        assert status == 200, me
        status, tokens = await login(stack, me["login"], NEW_PASSWORD)
        assert status == 200, tokens
    finally:
        await conn.close()
    many = tokens["access_token"]
    # Grants are not in the token: 5,000 customers (10,000 service points) change nothing.
    assert len(many) < 4096
    assert abs(len(many) - len(few)) <= 8, (len(few), len(many))


async def test_operators_find_managers_by_login_company_or_email_a_page_at_a_time(
    stack: Stack, operator: str
) -> None:
    mark = secrets.token_hex(4)
    made = []
    for n in range(3):
        customer = await _customer_known(stack)
        email = f"szukany.{mark}.{n}@example.com"
        body = await _request_body(stack, customer, email, company=f"Admin {mark} nr {n} Sp. j.")
        status, answer = await stack.api.request("POST", "/api/v1/manager-requests", json=body)
        assert status == 202, answer
        status, decision = await stack.api.request(
            "POST",
            f"/api/v1/operator/manager-requests/{answer['reference']}/approval",
            token=operator,
            json={"grants": [{"customer_id": customer.customer_id, "scope": "full"}]},
        )
        assert status == 200, decision
        made.append(decision)
    logins = sorted(d["manager_login"] for d in made)

    # By company, two a page, in the order of the logins: the cursor leads on and back.
    status, page = await stack.api.request(
        "GET", f"/api/v1/operator/managers?q=ADMIN%20{mark}&limit=2", token=operator
    )
    assert status == 200, page
    assert [m["login"] for m in page["items"]] == logins[:2] and page["prev_cursor"] is None
    first = page["items"][0]
    assert first["grants"] == 1 and first["company"].startswith("Admin ")
    assert first["status"] == "awaiting_activation_link"
    status, rest = await stack.api.request(
        "GET",
        f"/api/v1/operator/managers?q=admin%20{mark}&limit=2&cursor={page['next_cursor']}",
        token=operator,
    )
    assert status == 200, rest
    assert [m["login"] for m in rest["items"]] == logins[2:] and rest["next_cursor"] is None
    status, back = await stack.api.request(
        "GET",
        f"/api/v1/operator/managers?q=admin%20{mark}&limit=2&cursor={rest['prev_cursor']}",
        token=operator,
    )
    assert status == 200 and [m["login"] for m in back["items"]] == logins[:2], back

    # By email and by login, each the one account; its id leads to its grants.
    by_email = made[1]
    status, found = await stack.api.request(
        "GET", f"/api/v1/operator/managers?q=szukany.{mark}.1@", token=operator
    )
    assert status == 200 and [m["login"] for m in found["items"]] == [by_email["manager_login"]]
    assert found["items"][0]["account_id"] == by_email["manager_account_id"]
    status, found = await stack.api.request(
        "GET", f"/api/v1/operator/managers?q={by_email['manager_login']}", token=operator
    )
    assert status == 200 and [m["login"] for m in found["items"]] == [by_email["manager_login"]]

    # Nothing matches: an empty page; % and _ are taken literally.
    status, none = await stack.api.request(
        "GET", f"/api/v1/operator/managers?q=%25{mark}_x", token=operator
    )
    assert status == 200 and none["items"] == [], none
    # Another list's cursor and an empty search are refused at their field.
    status, problem = await stack.api.request("GET", "/api/v1/operator/managers?q=", token=operator)
    assert status == 422 and problem["errors"][0]["field"] == "q", problem
    status, problem = await stack.api.request(
        "GET", f"/api/v1/operator/managers?cursor={page['next_cursor']}x", token=operator
    )
    assert status == 422 and problem["errors"][0]["field"] == "cursor", problem
