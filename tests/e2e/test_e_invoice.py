"""E-invoice consent through the gateway, as the front end and the ERP use it: turned on with the
link from the confirmation email, the address changed (the old address told), withdrawn; links
used, replaced, expired; managers with a partial and a full grant; the ERP's paper-form consent;
each change once on the ERP's outbound queue; another customer's consent out of reach; the
request limit; the regulations."""

from __future__ import annotations

import json
import re
import secrets
from collections import defaultdict

import aio_pika

from deploy.mailbox import ReceivedMail
from services.billing.regulations import CURRENT_VERSION
from shared.events import erp
from shared.messaging.topology import Names
from tests.support.flows import (
    access_token,
    known_customer,
    manager_granted_by_erp,
    registered_account,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack

E_INVOICE = "/api/v1/e-invoice"
ADDRESS = "/api/v1/e-invoice/address"
CONFIRM = "/api/v1/e-invoice/confirmations"

# What the back office's queue held, by customer: each read takes messages off the queue.
_OUTBOUND: dict[str, list[dict]] = defaultdict(list)


def new_address(what: str) -> str:
    return f"{what}.{secrets.token_hex(4)}@example.com"


def code(problem: object) -> str:
    assert isinstance(problem, dict), problem
    return str(problem["type"]).rsplit("/", 1)[-1]


def link_token(mail: ReceivedMail) -> str:
    found = re.search(r"/e-invoice/confirm#token=([A-Za-z0-9_-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    return found.group(1)


async def confirmation_token(stack: Stack, address: str, count: int = 1) -> str:
    return link_token(await wait_for_mail(stack, address, "e-invoice-confirmation", count))


async def turn_on(stack: Stack, token: str, address: str, query: str = "") -> dict:
    status, body = await stack.api.request(
        "POST",
        E_INVOICE + query,
        token=token,
        json={"address": address, "regulations_version": CURRENT_VERSION},
    )
    assert status == 202, body
    return body  # type: ignore[return-value]


async def confirm(stack: Stack, link: str) -> tuple[int, dict]:
    return await stack.api.request("POST", CONFIRM, json={"token": link})  # type: ignore[return-value]


async def consent(stack: Stack, token: str, query: str = "") -> dict:
    status, body = await stack.api.request("GET", E_INVOICE + query, token=token)
    assert status == 200, body
    return body  # type: ignore[return-value]


async def outbound(stack: Stack, customer_id: str) -> list[dict]:
    """The billing.e-invoice.changed payloads about `customer_id` on `<ns>.backoffice.e-invoice`
    so far."""
    connection = await aio_pika.connect(stack.platform.settings.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Names(stack.platform.settings.namespace).queue("backoffice", "e-invoice"), ensure=False
        )
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            envelope = json.loads(message.body)
            assert envelope["type"] == "billing.e-invoice.changed", envelope
            _OUTBOUND[envelope["payload"]["customer_id"]].append(envelope["payload"])
    finally:
        await connection.close()
    return list(_OUTBOUND[customer_id])


async def outbound_actions(stack: Stack, customer_id: str, count: int) -> list[tuple]:
    """The changes told to the ERP about `customer_id`, once `count` of them have arrived."""

    async def arrived() -> list[dict] | None:
        found = await outbound(stack, customer_id)
        return found if len(found) >= count else None

    found = await wait_until(arrived, what=f"{count} e-invoice changes on the outbound queue")
    return [(c["action"], c["state"], c["address"], c["previous_address"]) for c in found]


async def test_turned_on_with_the_link_from_the_email(stack: Stack) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    before = await consent(stack, token)
    assert (before["state"], before["may_change"], before["history"]) == ("off", True, [])
    assert before["regulations_version"] == CURRENT_VERSION

    address = new_address("ei")
    asked = await turn_on(stack, token, address)
    assert (asked["state"], asked["address"]) == ("pending", None)
    assert (asked["pending"]["address"], asked["pending"]["purpose"]) == (address, "activate")

    link = await confirmation_token(stack, address)
    status, body = await confirm(stack, link)
    assert (status, body) == (200, {"state": "on", "address": address, "purpose": "activate"})

    now = await consent(stack, token)
    assert (now["state"], now["address"], now["pending"]) == ("on", address, None)
    assert now["since"] is not None
    assert [(h["action"], h["address"], h["by"], h["by_login"]) for h in now["history"]] == [
        ("activated", address, "customer", account.login),
        ("activation-requested", address, "customer", account.login),
    ]
    for entry in now["history"]:
        assert entry["regulations_version"] == CURRENT_VERSION
        assert entry["client_address"] == "127.0.0.1"  # the address the gateway saw

    # Used once: the same link again is refused, and a link never sent is invalid.
    status, body = await confirm(stack, link)
    assert (status, code(body)) == (410, "used")
    status, body = await confirm(stack, secrets.token_urlsafe(32))
    assert (status, code(body)) == (400, "invalid")

    customer_id = account.customer.customer_id
    assert await outbound_actions(stack, customer_id, 1) == [("activated", "on", address, None)]
    [change] = await outbound(stack, customer_id)
    assert change["changed_by"] == "customer" and change["regulations_version"] == CURRENT_VERSION
    assert change["effective_from"] == stack.platform.settings.today().isoformat()


async def test_a_newer_request_replaces_the_link_and_an_expired_link_is_refused(
    stack: Stack,
) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    first, second = new_address("first"), new_address("second")
    await turn_on(stack, token, first)
    first_link = await confirmation_token(stack, first)
    asked = await turn_on(stack, token, second)  # pending: the new request supersedes the old
    assert asked["pending"]["address"] == second
    second_link = await confirmation_token(stack, second)

    status, body = await confirm(stack, first_link)
    assert (status, code(body)) == (410, "superseded")

    conn = await stack.platform.db("billing")
    try:
        await conn.execute(
            """UPDATE e_invoice_confirmations SET expires_at = now() - interval '1 second'
                WHERE customer_id = $1 AND status = 'pending'""",
            account.customer.customer_id,
        )
    finally:
        await conn.close()
    status, body = await confirm(stack, second_link)
    assert (status, code(body)) == (410, "expired")
    assert (await consent(stack, token))["state"] == "pending"

    # Withdrawn while pending: the request is cancelled, nothing was ever on.
    status, body = await stack.api.request("DELETE", E_INVOICE, token=token)
    assert status == 200, body
    assert (body["state"], body["pending"]) == ("off", None)
    assert body["history"][0]["action"] == "withdrawn"
    status, body = await stack.api.request("DELETE", E_INVOICE, token=token)
    assert (status, code(body)) == (409, "e-invoice-off")
    status, body = await stack.api.request("PUT", ADDRESS, token=token, json={"address": first})
    assert (status, code(body)) == (409, "e-invoice-not-on")
    assert await outbound(stack, account.customer.customer_id) == []


async def test_address_change_and_withdrawal(stack: Stack) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    customer_id = account.customer.customer_id
    old, new, third = new_address("old"), new_address("new"), new_address("third")
    await turn_on(stack, token, old)
    assert (await confirm(stack, await confirmation_token(stack, old)))[0] == 200

    status, body = await stack.api.request(
        "POST",
        E_INVOICE,
        token=token,
        json={"address": new, "regulations_version": CURRENT_VERSION},
    )
    assert (status, code(body)) == (409, "e-invoice-on")

    status, body = await stack.api.request("PUT", ADDRESS, token=token, json={"address": new})
    assert status == 202, body
    # Until the new address is confirmed, e-invoices keep going to the old one.
    assert (body["state"], body["address"]) == ("on", old)
    assert (body["pending"]["address"], body["pending"]["purpose"]) == (new, "change-address")

    status, body = await confirm(stack, await confirmation_token(stack, new))
    assert (status, body) == (200, {"state": "on", "address": new, "purpose": "change-address"})
    told = await wait_for_mail(stack, old, "e-invoice-address-changed")
    # In the account's language (registered in English; the ERP's is Polish).
    assert new in told.body("plain") and "From now on" in told.body("plain")
    assert (await consent(stack, token))["address"] == new

    status, body = await stack.api.request("PUT", ADDRESS, token=token, json={"address": new})
    assert (status, code(body)) == (409, "same-address")

    # A change waiting when the consent is withdrawn ends with it.
    status, body = await stack.api.request("PUT", ADDRESS, token=token, json={"address": third})
    assert status == 202, body
    third_link = await confirmation_token(stack, third)
    status, body = await stack.api.request("DELETE", E_INVOICE, token=token)
    assert status == 200, body
    assert (body["state"], body["address"], body["since"], body["pending"]) == (
        "off",
        None,
        None,
        None,
    )
    status, body = await confirm(stack, third_link)
    assert (status, code(body)) == (410, "cancelled")

    history = (await consent(stack, token))["history"]
    assert [(h["action"], h["address"]) for h in history] == [
        ("withdrawn", new),
        ("address-change-requested", third),
        ("address-changed", new),
        ("address-change-requested", new),
        ("activated", old),
        ("activation-requested", old),
    ]
    assert await outbound_actions(stack, customer_id, 3) == [
        ("activated", "on", old, None),
        ("address-changed", "on", new, old),
        ("withdrawn", "off", None, new),
    ]
    withdrawn = (await outbound(stack, customer_id))[2]
    # Paper again from the next invoice: the first one issued from the utility's today.
    assert withdrawn["effective_from"] == stack.platform.settings.today().isoformat()


async def test_a_partial_manager_sees_and_a_full_manager_changes(stack: Stack) -> None:
    customer = await known_customer(stack)
    query = f"?customer={customer.customer_id}"
    _, _, partial = await manager_granted_by_erp(stack, customer, "partial")
    full_id, full_login, full = await manager_granted_by_erp(stack, customer, "full")

    seen = await consent(stack, partial, query)
    assert (seen["state"], seen["may_change"]) == ("off", False)
    for method, path, body in [
        ("POST", E_INVOICE, {"address": new_address("p"), "regulations_version": CURRENT_VERSION}),
        ("PUT", ADDRESS, {"address": new_address("p")}),
        ("DELETE", E_INVOICE, None),
    ]:
        status, problem = await stack.api.request(method, path + query, token=partial, json=body)
        assert (status, code(problem)) == (403, "partial-scope"), (method, path)

    assert (await consent(stack, full, query))["may_change"] is True
    address = new_address("full")
    await turn_on(stack, full, address, query)
    assert (await confirm(stack, await confirmation_token(stack, address)))[0] == 200
    seen = await consent(stack, partial, query)
    assert (seen["state"], seen["address"], seen["may_change"]) == ("on", address, False)
    assert [(h["action"], h["by"], h["by_login"]) for h in seen["history"]] == [
        ("activated", "manager", full_login),
        ("activation-requested", "manager", full_login),
    ]
    assert await outbound_actions(stack, customer.customer_id, 1) == [
        ("activated", "on", address, None)
    ]
    [change] = await outbound(stack, customer.customer_id)
    assert (change["changed_by"], change["changed_by_account_id"]) == ("manager", full_id)


async def test_the_erp_sets_the_consent_and_it_is_echoed_once(stack: Stack) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    customer_id = account.customer.customer_id
    address = new_address("form")
    on = erp.EInvoiceChanged(
        customer_id=customer_id, state="on", address=address, regulations_version="2025-01"
    )
    await stack.erp.publish("erp.e-invoice.changed", on)
    await stack.erp.publish("erp.e-invoice.changed", on)  # sent again: changes nothing

    async def state(expected: str) -> dict | None:
        found = await consent(stack, token)
        return found if found["state"] == expected else None

    seen = await wait_until(lambda: state("on"), what="the ERP's consent to show")
    assert seen["address"] == address  # type: ignore[index]
    assert [
        (h["action"], h["by"], h["by_login"], h["regulations_version"]) for h in seen["history"]
    ] == [  # type: ignore[index]
        ("activated", "erp", None, "2025-01")
    ]

    await stack.erp.publish(
        "erp.e-invoice.changed", erp.EInvoiceChanged(customer_id=customer_id, state="off")
    )
    await wait_until(lambda: state("off"), what="the ERP's withdrawal to show")
    assert await outbound_actions(stack, customer_id, 2) == [
        ("activated", "on", address, None),
        ("withdrawn", "off", None, address),
    ]
    assert {c["changed_by"] for c in await outbound(stack, customer_id)} == {"erp"}


async def test_another_customers_consent_is_out_of_reach(stack: Stack) -> None:
    mine = await registered_account(stack)
    other = await registered_account(stack)
    my_token, other_token = await access_token(stack, mine), await access_token(stack, other)
    address = new_address("mine")
    await turn_on(stack, my_token, address)

    query = f"?customer={mine.customer.customer_id}"
    for method, path, body in [
        ("GET", E_INVOICE, None),
        ("POST", E_INVOICE, {"address": new_address("x"), "regulations_version": CURRENT_VERSION}),
        ("PUT", ADDRESS, {"address": new_address("x")}),
        ("DELETE", E_INVOICE, None),
    ]:
        status, problem = await stack.api.request(
            method, path + query, token=other_token, json=body
        )
        assert (status, code(problem)) == (404, "not-found"), (method, path)
    assert (await consent(stack, other_token))["state"] == "off"
    assert (await consent(stack, my_token))["pending"]["address"] == address


async def test_requests_are_limited_per_customer_and_hour(stack: Stack) -> None:
    account = await registered_account(stack)
    token = await access_token(stack, account)
    limit = stack.platform.settings.e_invoice_requests_per_hour
    for _ in range(limit - 1):
        await turn_on(stack, token, new_address("many"))
    # A refused request counts too.
    status, body = await stack.api.request(
        "PUT", ADDRESS, token=token, json={"address": new_address("x")}
    )
    assert (status, code(body)) == (409, "e-invoice-not-on")
    status, body = await stack.api.request(
        "POST",
        E_INVOICE,
        token=token,
        json={"address": new_address("over"), "regulations_version": CURRENT_VERSION},
    )
    assert (status, code(body)) == (429, "rate-limited")


async def test_the_regulations_and_a_version_not_in_force(stack: Stack) -> None:
    status, body = await stack.api.request("GET", "/api/v1/e-invoice/regulations?language=uk")
    assert status == 200, body
    assert (body["version"], body["language"]) == (CURRENT_VERSION, "uk")  # type: ignore[index]
    assert "106n" in body["text"] and body["title"]  # type: ignore[index]
    status, body = await stack.api.request("GET", "/api/v1/e-invoice/regulations")
    assert (status, body["language"]) == (200, "pl")  # type: ignore[index]
    status, body = await stack.api.request("GET", "/api/v1/e-invoice/regulations?language=de")
    assert status == 422, body

    account = await registered_account(stack, customer=await known_customer(stack))
    token = await access_token(stack, account)
    status, body = await stack.api.request(
        "POST",
        E_INVOICE,
        token=token,
        json={"address": new_address("old"), "regulations_version": "2020-01"},
    )
    assert status == 422, body
    assert code(body) == "regulations-outdated"
    assert [e["field"] for e in body["errors"]] == ["regulations_version"]  # type: ignore[index]
    assert (await consent(stack, token))["state"] == "off"
