"""Steps of the customer's journey, as the front end performs them through the gateway."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass

from deploy.create_operator import create_operator
from deploy.mailbox import ReceivedMail
from services.identity import domain, proof_of_work, repository
from shared.db import create_pool
from shared.events import erp
from tests.support.erp import Customer, publish_customer
from tests.support.platform import wait_until
from tests.support.stack import Stack

NEW_PASSWORD = "Kranowka2026!"
# The customer's account views that take no parameters.
ACCOUNT_VIEWS = (
    "/api/v1/me/dashboard",
    "/api/v1/contracts",
    "/api/v1/invoices",
    "/api/v1/balance",
    "/api/v1/payments-received",
    "/api/v1/notes",
    "/api/v1/meters",
)


async def known_customer(stack: Stack, customer: Customer | None = None) -> Customer:
    """A customer the ERP has sent (a new one unless given), once identity knows its invoice."""
    customer = customer or await publish_customer(stack.erp)
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
    return customer


async def solved_proof(stack: Stack) -> dict:
    """A proof-of-work challenge, solved as the browser solves it."""
    status, challenge = await stack.api.request("POST", "/api/v1/captcha/challenge")
    assert status == 201, challenge
    number = proof_of_work.solve(proof_of_work.Challenge(**challenge))
    return {**{k: v for k, v in challenge.items() if k != "maxnumber"}, "number": number}


async def new_captcha_out(stack: Stack) -> dict:
    status, captcha = await stack.api.request(
        "POST", "/api/v1/captcha", json={"proof": await solved_proof(stack)}
    )
    assert status == 201, captcha
    return captcha


async def new_captcha(stack: Stack) -> str:
    return (await new_captcha_out(stack))["captcha_id"]


def registration_body(customer: Customer, captcha: str, **overrides: object) -> dict:
    return {
        "invoice_number": customer.invoice_number,
        "invoice_amount": str(customer.gross),
        "email": customer.email,
        "accept_terms": True,
        "terms_version": "2026-01",
        "captcha_id": captcha,
        "captcha_answer": "TEST1",
        "language": "en",
        **overrides,
    }


async def register(stack: Stack, customer: Customer, **overrides: object) -> tuple[int, dict]:
    body = registration_body(customer, await new_captcha(stack), **overrides)
    return await stack.api.request("POST", "/api/v1/registrations", json=body)  # type: ignore[return-value]


def mails_of(stack: Stack, address: str, template: str) -> list[ReceivedMail]:
    return [m for m in stack.mailbox.to_address(address) if m.template == template]


async def wait_for_mail(
    stack: Stack, address: str, template: str, count: int = 1, timeout: float = 30.0
) -> ReceivedMail:
    await stack.mailbox.wait_for(
        lambda _: len(mails_of(stack, address, template)) >= count, timeout=timeout
    )
    return mails_of(stack, address, template)[count - 1]


def activation_token(mail: ReceivedMail) -> str:
    # Links are /activate#token=…; emails sent before issue 7 said /activate?token=….
    found = re.search(r"/activate[#?]token=([A-Za-z0-9_-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    return found.group(1)


def credentials(mail: ReceivedMail) -> tuple[str, str]:
    text = mail.body("plain")
    login = re.search(r"^Login: (\S+)\r?$", text, re.M)
    password = re.search(r"^Password: (\S+)\r?$", text, re.M)
    assert login and password, text
    return login.group(1), password.group(1)


@dataclass
class Account:
    customer: Customer
    login: str
    password: str


async def login(stack: Stack, login_name: str, password: str) -> tuple[int, dict]:
    return await stack.api.request(  # type: ignore[return-value]
        "POST", "/api/v1/auth/login", json={"login": login_name, "password": password}
    )


async def registered_account(
    stack: Stack, change_password: bool = True, customer: Customer | None = None
) -> Account:
    """Register, activate, wait for the three emails; optionally replace the one-time password."""
    customer = await known_customer(stack, customer)
    status, body = await register(stack, customer)
    assert status == 202, body
    token = activation_token(await wait_for_mail(stack, customer.email, "registration"))
    status, body = await stack.api.request(
        "POST", "/api/v1/registrations/activate", json={"token": token}
    )
    assert status == 200, body
    login_name, password = credentials(
        await wait_for_mail(stack, customer.email, "registration-confirmation")
    )
    await wait_for_mail(stack, customer.email, "account-activation")

    async def can_log_in() -> dict | None:
        status, body = await login(stack, login_name, password)
        return body if status == 200 else None

    tokens = await wait_until(can_log_in, what="login to be enabled")
    # Billing learns of the account on a queue of its own (identity.account.activated): the
    # language of the emails it asks for, and whose bookings are told for a receipt.
    billing = await stack.platform.db("billing")
    try:
        await wait_until(
            lambda: billing.fetchval(
                "SELECT 1 FROM account_languages WHERE customer_id = $1", customer.customer_id
            ),
            what="billing to learn of the account",
        )
    finally:
        await billing.close()
    if change_password:
        status, body = await stack.api.request(
            "POST",
            "/api/v1/me/password",
            token=tokens["access_token"],  # type: ignore[index]
            json={"current_password": password, "new_password": NEW_PASSWORD},
        )
        assert status == 200, body
        password = NEW_PASSWORD
    return Account(customer, login_name, password)


async def access_token(stack: Stack, account: Account) -> str:
    status, tokens = await login(stack, account.login, account.password)
    assert status == 200, tokens
    return tokens["access_token"]


async def operator_token(stack: Stack) -> str:
    """A new operator, made as `python -m deploy.create_operator` makes one, signed in with
    its one-time password changed: its access token."""
    name = f"op.{secrets.token_hex(3)}"
    _, password = await create_operator(
        stack.platform.settings, name, f"{name}@wodociagi.example", "en"
    )
    status, tokens = await login(stack, name, password)
    assert status == 200 and tokens["must_change_password"] is True, tokens
    status, tokens = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": password, "new_password": NEW_PASSWORD},
    )
    assert status == 200, tokens
    return tokens["access_token"]


async def staff_account(stack: Stack, role: str) -> tuple[str, str]:
    """A manager's or operator's account, signed in with its password changed: its id and an
    access token."""
    settings = stack.platform.settings
    account_id, one_time = uuid.uuid4(), domain.new_one_time_password()
    login_name = f"{role}-{secrets.token_hex(4)}"
    pool = await create_pool(settings, "identity")
    try:
        async with pool.acquire() as conn:
            assert await repository.insert_account(
                conn,
                account_id=account_id,
                role=role,
                status="active",
                login=login_name,
                email=f"{login_name}@example.com",
                phone=None,
                language="en",
                password_hash=domain.hash_password(one_time),
                one_time_password_ttl_seconds=settings.one_time_password_ttl_seconds,
            )
    finally:
        await pool.close()
    status, tokens = await login(stack, login_name, one_time)
    assert status == 200, tokens
    status, body = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": one_time, "new_password": NEW_PASSWORD},
    )
    assert status == 200, body
    status, tokens = await login(stack, login_name, NEW_PASSWORD)
    assert status == 200, tokens
    return str(account_id), tokens["access_token"]


async def manager_granted_by_erp(
    stack: Stack, customer: Customer, scope: str, *, known_to: tuple[str, ...] = ("billing",)
) -> tuple[str, str, str]:
    """A manager the ERP grants `scope` over `customer` (partial: its one service point): their
    account id, login and access token, once the services `known_to` know the grant."""
    account_id, token = await staff_account(stack, "manager")
    identity = await stack.platform.db("identity")
    try:
        manager_login = await identity.fetchval(
            "SELECT login FROM accounts WHERE id = $1::uuid", account_id
        )
    finally:
        await identity.close()
    points = [f"SP-{customer.customer_id.removeprefix('C-')}"] if scope == "partial" else []
    await stack.erp.publish(
        "erp.manager.granted",
        erp.ManagerGranted(
            manager_login=manager_login,
            customer_id=customer.customer_id,
            scope=scope,  # type: ignore[arg-type]
            service_point_ids=points,
        ),
    )
    for service in known_to:
        db = await stack.platform.db(service)
        try:
            await wait_until(
                lambda db=db: db.fetchval(
                    """SELECT 1 FROM access_grants WHERE manager_account_id = $1::uuid
                          AND customer_id = $2 AND scope = $3 AND NOT revoked""",
                    account_id,
                    customer.customer_id,
                    scope,
                ),
                what=f"{service} to learn the grant",
            )
        finally:
            await db.close()
    return account_id, manager_login, token
