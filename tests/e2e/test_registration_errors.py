"""Every way a registration, activation or login can go wrong answers a clear 4xx."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.flows import (
    activation_token,
    known_customer,
    login,
    new_captcha,
    register,
    registered_account,
    registration_body,
    wait_for_mail,
)
from tests.support.openapi import OpenApi
from tests.support.stack import Stack


def fields(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


async def test_missing_fields_are_each_named(stack: Stack) -> None:
    status, problem = await stack.api.request("POST", "/api/v1/registrations", json={})
    assert status == 422
    assert problem["status"] == 422
    assert fields(problem) >= {
        "invoice_number",
        "invoice_amount",
        "email",
        "accept_terms",
        "terms_version",
        "captcha_id",
        "captcha_answer",
    }
    assert "invoice_number" in problem["detail"]


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"invoice_amount": "-5"}, "invoice_amount"),
        ({"invoice_amount": "12.345"}, "invoice_amount"),
        ({"phone": "call me"}, "phone"),
        ({"language": "de"}, "language"),
        ({"captcha_id": "nope"}, "captcha_id"),
        ({"accept_terms": False}, "accept_terms"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
async def test_bad_fields_are_named(stack: Stack, override: dict, field: str) -> None:
    customer = await known_customer(stack)
    status, problem = await register(stack, customer, **override)
    assert status == 422, problem
    assert field in fields(problem)
    assert problem["type"].endswith("/validation-failed")


async def test_terms_not_accepted_says_so(stack: Stack) -> None:
    customer = await known_customer(stack)
    status, problem = await register(stack, customer, accept_terms=False)
    assert status == 422
    [error] = [e for e in problem["errors"] if e["field"] == "accept_terms"]
    assert "regulations must be accepted" in error["message"]


async def test_malformed_json_and_wrong_media_type(stack: Stack) -> None:
    url = stack.api.base_url + "/api/v1/registrations"
    async with stack.api.session.post(
        url, data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        assert resp.content_type == "application/problem+json"
        assert (await resp.json())["type"].endswith("/malformed-json")
    async with stack.api.session.post(url, data=b"a=b") as resp:
        assert resp.status == 415


async def test_wrong_captcha_answer(stack: Stack) -> None:
    customer = await known_customer(stack)
    status, problem = await register(stack, customer, captcha_answer="WRONG")
    assert status == 400
    assert problem["type"].endswith("/captcha-failed")


async def test_captcha_is_single_use(stack: Stack) -> None:
    customer = await known_customer(stack)
    captcha_id = await new_captcha(stack)
    body = registration_body(customer, captcha_id)
    status, _ = await stack.api.request("POST", "/api/v1/registrations", json=body)
    assert status == 202
    status, problem = await stack.api.request("POST", "/api/v1/registrations", json=body)
    assert status == 400 and problem["type"].endswith("/captcha-failed")


async def test_expired_captcha_is_refused(stack: Stack) -> None:
    customer = await known_customer(stack)
    captcha_id = await new_captcha(stack)
    conn = await stack.platform.db("identity")
    try:
        await conn.execute(
            "UPDATE captchas SET expires_at = now() - interval '1 second' WHERE id = $1::uuid",
            captcha_id,
        )
    finally:
        await conn.close()
    status, problem = await stack.api.request(
        "POST", "/api/v1/registrations", json=registration_body(customer, captcha_id)
    )
    assert status == 400 and problem["type"].endswith("/captcha-failed")


async def test_outdated_terms_version(stack: Stack) -> None:
    customer = await known_customer(stack)
    status, problem = await register(stack, customer, terms_version="2019-01")
    assert status == 409
    assert "2026-01" in problem["detail"]


@pytest.mark.parametrize(
    "override",
    [{"invoice_amount": "1.00"}, {"invoice_number": "FV/0000/none"}],
)
async def test_invoice_not_matching(stack: Stack, override: dict) -> None:
    customer = await known_customer(stack)
    status, problem = await register(stack, customer, **override)
    assert status == 422
    assert problem["type"].endswith("/invoice-not-matching")
    assert not [m for m in stack.mailbox.to_address(customer.email)]


async def test_existing_account_is_not_revealed_but_owner_is_told(stack: Stack) -> None:
    account = await registered_account(stack)
    status, body = await register(stack, account.customer, email="someone.else@example.com")
    assert status == 202
    assert body == {
        "status": "accepted",
        "message": "If the data is correct, an email with an activation link is on its way "
        "to the address given.",
    }
    mail = await wait_for_mail(stack, account.customer.email, "account-exists")
    assert account.login in mail.body("plain")
    assert not stack.mailbox.to_address("someone.else@example.com")


async def test_activation_link_invalid_used_superseded_expired(stack: Stack) -> None:
    activate = "/api/v1/registrations/activate"
    status, problem = await stack.api.request("POST", activate, json={"token": "x" * 43})
    assert status == 400 and problem["type"].endswith("/activation-link-invalid")

    customer = await known_customer(stack)
    assert (await register(stack, customer))[0] == 202
    old = activation_token(await wait_for_mail(stack, customer.email, "registration"))
    assert (await register(stack, customer))[0] == 202
    new = activation_token(await wait_for_mail(stack, customer.email, "registration", count=2))
    status, problem = await stack.api.request("POST", activate, json={"token": old})
    assert status == 410 and problem["type"].endswith("/activation-link-superseded")

    conn = await stack.platform.db("identity")
    try:
        await conn.execute(
            "UPDATE registrations SET token_expires_at = now() - interval '1 second' "
            "WHERE customer_id = $1 AND status = 'pending'",
            customer.customer_id,
        )
    finally:
        await conn.close()
    status, problem = await stack.api.request("POST", activate, json={"token": new})
    assert status == 410 and problem["type"].endswith("/activation-link-expired")

    # A new link can be asked for; it works once, then it is used.
    link_request = {"invoice_number": customer.invoice_number, "email": customer.email}
    # Asking for a link takes the same CAPTCHA as registering.
    status, problem = await stack.api.request(
        "POST",
        "/api/v1/registrations/activation-links",
        json={**link_request, "captcha_id": await new_captcha(stack), "captcha_answer": "WRONG"},
    )
    assert status == 400 and problem["type"].endswith("/captcha-failed")
    status, problem = await stack.api.request(
        "POST", "/api/v1/registrations/activation-links", json=link_request
    )
    assert status == 422 and {e["field"] for e in problem["errors"]} == {
        "captcha_id",
        "captcha_answer",
    }
    status, _ = await stack.api.request(
        "POST",
        "/api/v1/registrations/activation-links",
        json={**link_request, "captcha_id": await new_captcha(stack), "captcha_answer": "TEST1"},
    )
    assert status == 202
    fresh = activation_token(await wait_for_mail(stack, customer.email, "registration", count=3))
    status, _ = await stack.api.request("POST", activate, json={"token": fresh})
    assert status == 200
    status, problem = await stack.api.request("POST", activate, json={"token": fresh})
    assert status == 410 and problem["type"].endswith("/activation-link-used")


async def test_activation_link_request_reveals_nothing(stack: Stack) -> None:
    status, body = await stack.api.request(
        "POST",
        "/api/v1/registrations/activation-links",
        json={
            "invoice_number": "FV/none",
            "email": "nobody@example.com",
            "captcha_id": await new_captcha(stack),
            "captcha_answer": "TEST1",
        },
    )
    assert status == 202 and body["status"] == "accepted"


async def test_wrong_password_and_unknown_login_answer_alike(stack: Stack) -> None:
    account = await registered_account(stack)
    status_wrong, wrong = await login(stack, account.login, "not-the-password-1")
    status_unknown, unknown = await login(stack, "e000000000x", "not-the-password-1")
    assert status_wrong == status_unknown == 401
    assert wrong["detail"] == unknown["detail"]


async def test_refresh_rotates_and_reuse_ends_the_session(stack: Stack) -> None:
    account = await registered_account(stack)
    status, tokens = await login(stack, account.login, account.password)
    assert status == 200
    first = tokens["refresh_token"]
    status, rotated = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": first}
    )
    assert status == 200 and rotated["refresh_token"] != first
    status, me = await stack.api.request("GET", "/api/v1/me", token=rotated["access_token"])
    assert status == 200 and me["login"] == account.login

    # The old token comes back: refused, and the rotated one dies with it.
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": first}
    )
    assert status == 401
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}
    )
    assert status == 401


async def test_logout_revokes_the_refresh_token(stack: Stack) -> None:
    account = await registered_account(stack)
    _, tokens = await login(stack, account.login, account.password)
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 204
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401


@pytest.mark.parametrize(
    ("new_password", "words", "code"),
    [
        ("short1", "at least 10", "password_too_short"),
        ("onlyletterslong", "letters and digits", "password_needs_letters_and_digits"),
        ("Warszawa2024", "too common", "password_too_common"),
    ],
)
async def test_weak_new_password_is_refused(
    stack: Stack, new_password: str, words: str, code: str
) -> None:
    account = await registered_account(stack)
    _, tokens = await login(stack, account.login, account.password)
    status, problem = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=tokens["access_token"],
        json={"current_password": account.password, "new_password": new_password},
    )
    assert status == 422
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("new_password", code)]
    assert words in problem["detail"]


async def test_me_needs_a_valid_token(stack: Stack) -> None:
    status, problem = await stack.api.request("GET", "/api/v1/me")
    assert status == 401 and problem["type"].endswith("/unauthorized")
    status, _ = await stack.api.request("GET", "/api/v1/me", token="not.a.jwt")
    assert status == 401


async def test_unknown_route_and_method_are_problems(stack: Stack) -> None:
    async with stack.api.session.get(stack.api.base_url + "/api/v1/nothing-here") as resp:
        assert resp.status == 404
        assert resp.content_type == "application/problem+json"
    async with stack.api.session.get(stack.api.base_url + "/api/v1/registrations") as resp:
        assert resp.status == 405
        assert "POST" in resp.headers["Allow"]


async def test_every_service_reports_health(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        for name, url in stack.platform.urls.items():
            async with session.get(url + "/health/live") as resp:
                assert resp.status == 200, name
            # The gateway's readiness is on its operations port, the others' on their own.
            async with session.get(stack.platform.ops_url(name) + "/health/ready") as resp:
                body = await resp.json()
                assert resp.status == 200 and body["status"] == "ok", (name, body)


async def test_every_response_matches_the_openapi_document(stack: Stack) -> None:
    """Whatever this module's tests received (and a few calls of its own) fits the document."""
    await stack.api.request("GET", "/api/v1/terms")
    await stack.api.request("POST", "/api/v1/captcha/challenge")
    await new_captcha(stack)
    await stack.api.request("POST", "/api/v1/registrations", json={"email": "x"})
    await stack.api.request("POST", "/api/v1/auth/login", json={"login": "a", "password": "b"})
    status, document = await stack.api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    recorded = [r for r in stack.api.recorded if "openapi.json" not in r[1]]
    assert OpenApi(document).check_all(recorded) >= 4
