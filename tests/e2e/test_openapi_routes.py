"""Every route of the public API answers as its OpenAPI document says: one walk through all of
them, as the front end would use them. A route added to the gateway's table without a call here
fails the test, so no route's responses go unchecked."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from openapi_spec_validator import validate as validate_spec

from deploy.p24_dev_provider import DevProvider, start
from services.gateway.api import ROUTES
from services.payments.keys import PROVIDER
from shared.auth import Principal, TokenSigner
from tests.support.erp import address, publish_household
from tests.support.flows import (
    ACCOUNT_VIEWS,
    activation_token,
    known_customer,
    login,
    new_captcha,
    new_captcha_out,
    operator_token,
    register,
    registered_account,
    wait_for_mail,
)
from tests.support.openapi import OpenApi
from tests.support.platform import wait_until
from tests.support.stack import Stack


async def test_every_route_answers_as_documented(stack: Stack) -> None:
    api = stack.api
    household = await publish_household(stack.erp, stack.platform.settings.today())
    account = await registered_account(stack, customer=household.customer)
    status, tokens = await login(stack, account.login, account.password)
    assert status == 200, tokens
    token = tokens["access_token"]

    status, _ = await api.request("GET", "/api/v1/terms")
    assert status == 200
    captcha = await new_captcha_out(stack)
    async with api.session.get(api.base_url + captcha["audio_url"]) as resp:
        assert resp.status == 200 and resp.content_type == "audio/wav"
        api.recorded.append(("GET", resp.url.raw_path, resp.status, resp.content_type, None))
    other = await known_customer(stack)
    assert (await register(stack, other))[0] == 202
    await wait_for_mail(stack, other.email, "registration")
    status, _ = await api.request(
        "POST",
        "/api/v1/registrations/activation-links",
        json={
            "invoice_number": other.invoice_number,
            "email": other.email,
            "captcha_id": await new_captcha(stack),
            "captcha_answer": "TEST1",
        },
    )
    assert status == 202
    fresh = activation_token(await wait_for_mail(stack, other.email, "registration", count=2))
    status, _ = await api.request("POST", "/api/v1/registrations/activate", json={"token": fresh})
    assert status == 200

    status, renewed = await api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    for path in ("/api/v1/me", *ACCOUNT_VIEWS):
        status, body = await api.request("GET", path, token=token)
        assert status == 200, (path, body)
    invoice = "/api/v1/invoices/" + quote(household.invoices[0], safe="")
    status, _ = await api.request("GET", invoice, token=token)
    assert status == 200
    readings = f"/api/v1/meters/{household.meters[0]}/readings"
    status, _ = await api.request("GET", readings, token=token)
    assert status == 200
    status, _ = await api.request(
        "POST",
        readings,
        token=token,
        json={"value": "1.000", "read_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()},
    )
    assert status == 201
    status, _ = await api.request(
        "GET", f"/api/v1/meters/{household.meters[0]}/consumption?granularity=day", token=token
    )
    assert status == 422, "a day for each day since 2024-01-10 is more than a series holds"
    status, _ = await api.request(
        "GET",
        f"/api/v1/meters/{household.meters[0]}/consumption?granularity=day&from=2025-01-01"
        "&to=2025-01-31",
        token=token,
    )
    assert status == 200
    async with api.session.get(
        api.base_url + invoice + "/pdf", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200 and resp.content_type == "application/pdf"
        api.recorded.append(("GET", resp.url.raw_path, resp.status, resp.content_type, None))
    await _managers_and_grants(stack, token)
    await _payments(stack, token, household.customer.customer_id)
    await _e_invoice_and_preferences(stack, token)
    await _correspondence(stack, token, household.customer.customer_id)
    status, _ = await api.request(
        "POST", "/api/v1/auth/logout", json={"refresh_token": renewed["refresh_token"]}
    )
    assert status == 204
    # The same session as a browser keeps it: the refresh token in the cookie, not the bodies.
    cookie: dict[str, str] = {}
    for path, body in (
        ("/api/v1/auth/login", {"login": account.login, "password": account.password}),
        ("/api/v1/auth/refresh", None),
        ("/api/v1/auth/logout", None),
    ):
        headers = {"X-Ebok-Session": "cookie"}
        if cookie:
            headers["Cookie"] = f"ebok_refresh={cookie['ebok_refresh']}"
        async with api.session.post(api.base_url + path, json=body, headers=headers) as resp:
            answer = await resp.json() if resp.status != 204 else None
            api.recorded.append(("POST", resp.url.raw_path, resp.status, resp.content_type, answer))
            assert resp.status in (200, 204), answer
            assert answer is None or "refresh_token" not in answer
            cookie.update({name: morsel.value for name, morsel in resp.cookies.items()})
    assert cookie == {"ebok_refresh": ""}

    status, document = await api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    validate_spec(document)
    openapi = OpenApi(document)
    answered = {
        (method, openapi.template_of(path.split("?")[0]), status)
        for method, path, status, _, _ in api.recorded
        if "openapi.json" not in path
    }
    unanswered = [
        f"{route.method} {route.path} {route.status}"
        for route in ROUTES
        if (route.method, route.path, route.status) not in answered
    ]
    assert not unanswered, f"routes never called with success here: {unanswered}"
    recorded = [r for r in api.recorded if "openapi.json" not in r[1]]
    assert openapi.check_all(recorded) >= len(ROUTES)


async def _managers_and_grants(stack: Stack, owner_token: str) -> None:
    """A manager request approved and one rejected, a grant changed and revoked by an
    operator; a manager invited and revoked by the owner."""
    api = stack.api
    operator = await operator_token(stack)
    references = []
    for _ in range(2):
        status, answer = await api.request(
            "POST",
            "/api/v1/manager-requests",
            json={
                "company": "Zarządca Sp. z o.o.",
                "nip": "5260001246",
                "contact_person": "Anna Nowak",
                "email": "zarzadca@example.com",
                "phone": "+48 600 100 200",
                "properties": [
                    {"address": address().model_dump(), "contract_number": "U-1", "scope": "full"}
                ],
                "accept_terms": True,
                "terms_version": "2026-01",
                "captcha_id": await new_captcha(stack),
                "captcha_answer": "TEST1",
            },
        )
        assert status == 202, answer
        references.append(answer["reference"])
    status, _ = await api.request("GET", "/api/v1/operator/manager-requests", token=operator)
    assert status == 200
    status, _ = await api.request(
        "POST",
        "/api/v1/operator/operators",
        token=operator,
        json={"login": f"op.{secrets.token_hex(3)}", "email": "op@wodociagi.example"},
    )
    assert status == 201
    status, invited = await api.request(
        "POST",
        "/api/v1/me/managers",
        token=owner_token,
        json={"email": "zaproszony@example.com", "scope": "full"},
    )
    assert status == 201, invited
    customer_id = invited["customer_id"]
    status, decision = await api.request(
        "POST",
        f"/api/v1/operator/manager-requests/{references[0]}/approval",
        token=operator,
        json={"grants": [{"customer_id": customer_id, "scope": "full"}]},
    )
    assert status == 200, decision
    # The approved manager's portfolio, once the grant has reached billing (a token as identity
    # signs a manager's).
    manager, _ = TokenSigner(stack.platform.settings).issue(
        Principal(decision["manager_account_id"], "manager", "manager")
    )

    async def portfolio() -> object:
        status, page = await api.request("GET", "/api/v1/portfolio", token=manager)
        return status == 200 and page["items"]

    await wait_until(portfolio, what="the approved manager's grant in billing")
    status, _ = await api.request(
        "POST",
        f"/api/v1/operator/manager-requests/{references[1]}/rejection",
        token=operator,
        json={"reason": "not the administrator of U-1"},
    )
    assert status == 200
    status, _ = await api.request("GET", "/api/v1/operator/managers?q=e&limit=5", token=operator)
    assert status == 200
    grants = f"/api/v1/operator/managers/{decision['manager_account_id']}/grants"
    status, _ = await api.request("GET", grants, token=operator)
    assert status == 200
    status, _ = await api.request(
        "PUT", f"{grants}/{customer_id}", token=operator, json={"scope": "full"}
    )
    assert status == 200
    status, _ = await api.request("DELETE", f"{grants}/{customer_id}", token=operator)
    assert status == 200
    status, _ = await api.request("GET", "/api/v1/me/managers", token=owner_token)
    assert status == 200
    status, _ = await api.request(
        "DELETE", f"/api/v1/me/managers/{invited['manager_account_id']}", token=owner_token
    )
    assert status == 200


async def _e_invoice_and_preferences(stack: Stack, token: str) -> None:
    """E-invoice on through the link sent to the address, the address changed, withdrawn; the
    regulations; the account's notification preferences read and changed."""
    api = stack.api
    status, regulations = await api.request("GET", "/api/v1/e-invoice/regulations?language=uk")
    assert status == 200 and regulations["language"] == "uk"
    address = f"e-{secrets.token_hex(4)}@example.com"
    status, body = await api.request(
        "POST",
        "/api/v1/e-invoice",
        token=token,
        json={"address": address, "regulations_version": regulations["version"]},
    )
    assert status == 202 and body["state"] == "pending", body
    mail = await wait_for_mail(stack, address, "e-invoice-confirmation")
    found = re.search(r"/e-invoice/confirm#token=([A-Za-z0-9_-]+)", mail.body("plain"))
    assert found, mail.body("plain")
    status, body = await api.request(
        "POST", "/api/v1/e-invoice/confirmations", json={"token": found.group(1)}
    )
    assert status == 200 and body["state"] == "on", body
    status, body = await api.request(
        "POST", "/api/v1/e-invoice/confirmations", json={"token": found.group(1)}
    )
    assert status == 410, "a link works once"
    status, body = await api.request(
        "PUT", "/api/v1/e-invoice/address", token=token, json={"address": "x" + address}
    )
    assert status == 202 and body["pending"]["purpose"] == "change-address", body
    status, body = await api.request("DELETE", "/api/v1/e-invoice", token=token)
    assert status == 200 and body["state"] == "off", body
    status, body = await api.request("GET", "/api/v1/e-invoice", token=token)
    assert status == 200 and [h["action"] for h in body["history"]][:1] == ["withdrawn"], body
    status, body = await api.request("GET", "/api/v1/me/notification-preferences", token=token)
    assert status == 200 and body["invoice_issued"] is True, body
    status, body = await api.request(
        "PUT",
        "/api/v1/me/notification-preferences",
        token=token,
        json={"invoice_issued": False, "due_reminder": True, "payment_received": True},
    )
    assert status == 200 and body["invoice_issued"] is False, body


async def _correspondence(stack: Stack, token: str, customer_id: str) -> None:
    """A photo uploaded, a failure report with it, the list, the case, a message, the photo."""
    api = stack.api
    auth = {"Authorization": f"Bearer {token}"}
    photo = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(2048)
    async with api.session.post(
        api.base_url + "/api/v1/attachments?filename=leak.png", data=photo, headers=auth
    ) as resp:
        uploaded = await resp.json()
        api.recorded.append(("POST", resp.url.raw_path, resp.status, resp.content_type, uploaded))
        assert resp.status == 201, uploaded
    point = f"SP-{customer_id.removeprefix('C-')}-1"
    body = {
        "kind": "failure",
        "service_point_id": point,
        "description": "Water leaks under the meter",
        "attachment_ids": [uploaded["attachment_id"]],
    }

    async def created() -> dict | None:
        async with api.session.post(
            api.base_url + "/api/v1/cases",
            json=body,
            headers={**auth, "Idempotency-Key": "walk-" + customer_id},
        ) as resp:
            answer = await resp.json()
            if resp.status != 201:
                return None  # correspondence learns the service point from billing's event
            api.recorded.append(("POST", resp.url.raw_path, resp.status, resp.content_type, answer))
            return answer

    case = await wait_until(created, what="a case at the household's service point")
    number = quote(case["number"], safe="")  # type: ignore[index]
    status, page = await api.request("GET", "/api/v1/cases?kind=failure", token=token)
    assert status == 200 and page["items"], page
    status, found = await api.request("GET", f"/api/v1/cases/{number}", token=token)
    assert status == 200 and found["attachments"], found
    status, message = await api.request(
        "POST", f"/api/v1/cases/{number}/messages", token=token, json={"text": "Still leaking"}
    )
    assert status == 201, message
    async with api.session.get(
        api.base_url + f"/api/v1/attachments/{uploaded['attachment_id']}", headers=auth
    ) as resp:
        assert resp.status == 200 and await resp.read() == photo
        api.recorded.append(("GET", resp.url.raw_path, resp.status, resp.content_type, None))


async def _payments(stack: Stack, token: str, customer_id: str) -> None:
    """A payment through the development Przelewy24, its notification repeated, its status."""
    api, settings = stack.api, stack.platform.settings
    conn = await stack.platform.db("payments")
    try:
        await wait_until(
            lambda: conn.fetchval("SELECT 1 FROM invoices WHERE customer_id = $1", customer_id),
            what="payments to learn the invoices",
        )
    finally:
        await conn.close()
    provider = DevProvider(
        settings.p24_merchant_id,
        settings.p24_pos_id,
        settings.p24_crc.get_secret_value(),
        settings.p24_api_key.get_secret_value(),
        deliver_to=stack.platform.urls["gateway"],
    )
    runner, url = await start(provider, "127.0.0.1", 0)
    adapter = stack.platform.apps["payments"][PROVIDER]
    adapter.base_url = url  # type: ignore[attr-defined]
    try:
        body = {
            "invoices": "all-due",
            "amount": "1.00",
            "method": "blik",
            "return_url": settings.public_url + "/payments/return",
        }
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)}
        async with api.session.post(
            api.base_url + "/api/v1/payments", json=body, headers=headers
        ) as resp:
            created = await resp.json()
            answer = ("POST", resp.url.raw_path, resp.status, resp.content_type, created)
            api.recorded.append(answer)
            assert resp.status == 201, created
        async with api.session.post(
            created["redirect_url"] + "/pay", data={"method": "154"}, allow_redirects=False
        ) as resp:
            assert resp.status == 303
        path = f"/api/v1/payments/{created['payment_id']}"

        async def paid() -> bool:
            status, found = await api.request("GET", path, token=token)
            return status == 200 and found["status"] == "paid"

        await wait_until(paid, what="the payment to be paid")
        again = provider.notification(provider.by_session[created["payment_id"]])
        status, _ = await api.request("POST", "/api/v1/payments/notifications/p24", json=again)
        assert status == 200
        status, _ = await api.request("GET", "/api/v1/payments", token=token)
        assert status == 200
        # A paid payment cannot be cancelled; a pending one can (a confirmed overpayment).
        status, _ = await api.request("POST", path + "/cancel", token=token)
        assert status == 409
        headers["Idempotency-Key"] = secrets.token_hex(8)
        async with api.session.post(
            api.base_url + "/api/v1/payments",
            json=body | {"confirm_overpayment": True},
            headers=headers,
        ) as resp:
            other = await resp.json()
            assert resp.status == 201, other
        status, cancelled = await api.request(
            "POST", f"/api/v1/payments/{other['payment_id']}/cancel", token=token
        )
        assert status == 200 and cancelled["status"] == "cancelled", cancelled
    finally:
        await runner.cleanup()
