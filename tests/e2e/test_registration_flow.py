"""A customer registers through the gateway, gets the three emails, activates and logs in."""

from __future__ import annotations

import re

from tests.conftest import Stack
from tests.support.erp import Customer, publish_customer
from tests.support.platform import wait_until


async def wait_for_invoice(stack: Stack, customer: Customer) -> None:
    conn = await stack.platform.db("identity")
    try:
        await wait_until(
            lambda: conn.fetchval(
                "SELECT 1 FROM invoices WHERE invoice_number = $1", customer.invoice_number
            ),
            what="identity to learn the invoice",
        )
    finally:
        await conn.close()


async def register(stack: Stack, customer: Customer, **overrides: object) -> tuple[int, object]:
    status, captcha = await stack.api.request("POST", "/api/v1/captcha")
    assert status == 201, captcha
    body = {
        "invoice_number": customer.invoice_number,
        "invoice_amount": str(customer.gross),
        "email": customer.email,
        "accept_terms": True,
        "terms_version": "2026-01",
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "TEST1",
        "language": "en",
        **overrides,
    }
    return await stack.api.request("POST", "/api/v1/registrations", json=body)


def templates_for(stack: Stack, address: str) -> list[str]:
    return [m.template for m in stack.mailbox.to_address(address)]


async def test_customer_registers_activates_and_logs_in(stack: Stack) -> None:
    customer = await publish_customer(stack.erp)
    await wait_for_invoice(stack, customer)

    status, body = await register(stack, customer)
    assert status == 202, body

    mails = await stack.mailbox.wait_for(
        lambda _: "registration" in templates_for(stack, customer.email)
    )
    first = stack.mailbox.to_address(customer.email)[0]
    assert first.subject == "Registration"
    link = re.search(r"https://ebok\.test/activate\?token=(\S+)", first.body("plain"))
    assert link, first.body("plain")
    assert link.group(0) in first.body("html")

    status, body = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": link.group(1)}
    )
    assert status == 200, body

    await stack.mailbox.wait_for(
        lambda _: "account-activation" in templates_for(stack, customer.email)
    )
    mails = stack.mailbox.to_address(customer.email)
    assert [m.template for m in mails] == [
        "registration",
        "registration-confirmation",
        "account-activation",
    ]
    confirmation = mails[1]
    assert confirmation.subject == "Registration — confirmation"
    text = confirmation.body("plain")
    login = re.search(r"^Login: (\S+)\r?$", text, re.M).group(1)
    password = re.search(r"^Password: (\S+)\r?$", text, re.M).group(1)
    assert mails[2].subject == "Account activation"

    # Login works once the third email was handed over; the password is for one use.
    async def logged_in() -> object:
        status, body = await stack.api.request(
            "POST", "/api/v1/auth/login", json={"login": login, "password": password}
        )
        return body if status == 200 else None

    tokens = await wait_until(logged_in, what="login to be enabled")
    assert tokens["must_change_password"] is True

    status, body = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 403 and body["type"].endswith("/password-change-required")

    status, tokens = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": password, "new_password": "Kranowka2026!"},
    )
    assert status == 200, tokens
    assert tokens["must_change_password"] is False

    status, me = await stack.api.request("GET", "/api/v1/me", token=tokens["access_token"])
    assert status == 200, me
    assert me["customer_id"] == customer.customer_id
    assert me["login"] == login
    assert me["status"] == "active"

    # The one-time password no longer works; the new one does.
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/login", json={"login": login, "password": password}
    )
    assert status == 401
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/login", json={"login": login, "password": "Kranowka2026!"}
    )
    assert status == 200
