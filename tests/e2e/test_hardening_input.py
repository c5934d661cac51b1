"""Hostile input through the gateway gets a clear 4xx problem document, never a 500 and never
another route's data: JSON bodies nested far deeper than any request needs, and path parameters
that are dot segments (`.`, `..`), which URL resolution would turn into another path."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from yarl import URL

from shared.http.problems import MAX_JSON_DEPTH
from tests.support.erp import publish_household
from tests.support.flows import access_token, registered_account
from tests.support.openapi import OpenApi
from tests.support.platform import wait_until
from tests.support.stack import Stack


async def post_raw(stack: Stack, path: str, body: bytes) -> tuple[int, str, dict]:
    api = stack.api
    async with api.session.post(
        api.base_url + path, data=body, headers={"Content-Type": "application/json"}
    ) as resp:
        answer = await resp.json(content_type=None)
        api.recorded.append(("POST", resp.url.raw_path, resp.status, resp.content_type, answer))
        return resp.status, resp.content_type, answer


def nested_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def login_nested(depth: int) -> bytes:
    """A login body (one level) whose login member nests `depth - 1` more levels."""
    return b'{"login":' + nested_list(depth - 1) + b',"password":"x"}'


@pytest.mark.parametrize(
    "body",
    [nested_list(100_000), nested_object(50_000), login_nested(5_000), nested_list(65)],
    ids=["list-100000", "object-50000", "member-5000", "list-65"],
)
@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/registrations"])
async def test_deeply_nested_json_is_refused_with_a_problem(
    stack: Stack, path: str, body: bytes
) -> None:
    status, content_type, problem = await post_raw(stack, path, body)
    assert status == 400, problem
    assert content_type == "application/problem+json"
    assert problem["type"] == "https://e-bok.example/problems/json-too-deep"
    assert f"{MAX_JSON_DEPTH} levels" in problem["detail"]
    assert problem["instance"] == path


async def test_an_unknown_charset_is_malformed_json_not_a_500(stack: Stack) -> None:
    api = stack.api
    async with api.session.post(
        api.base_url + "/api/v1/auth/login",
        data=b'{"login": "a", "password": "b"}',
        headers={"Content-Type": "application/json; charset=nonexistent"},
    ) as resp:
        problem = await resp.json(content_type=None)
        assert resp.status == 400 and problem["type"].endswith("/malformed-json"), problem


async def test_nesting_up_to_the_limit_is_parsed(stack: Stack) -> None:
    """The limit refuses only what is deeper: a body at it is parsed and validated as usual."""
    status, _, problem = await post_raw(stack, "/api/v1/auth/login", login_nested(MAX_JSON_DEPTH))
    assert status == 422, problem
    assert problem["type"].endswith("/validation-failed")
    assert [e["field"] for e in problem["errors"]] == ["login"]
    status, _, problem = await post_raw(
        stack, "/api/v1/auth/login", login_nested(MAX_JSON_DEPTH + 1)
    )
    assert status == 400 and problem["type"].endswith("/json-too-deep")
    # Brackets inside strings (escaped quotes too) are text, not nesting.
    brackets = '\\"[{' * 100
    status, _, problem = await post_raw(
        stack,
        "/api/v1/auth/login",
        f'{{"login": "{brackets}", "password": "[[[{brackets}"}}'.encode(),
    )
    assert status in (401, 422), problem
    assert not problem["type"].endswith("/json-too-deep")


async def send_raw_path(
    stack: Stack, method: str, path: str, token: str | None = None, json: object = None
) -> tuple[int, dict]:
    """`path` sent exactly as written: no dot segment resolved, no percent-encoding undone."""
    api = stack.api
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = URL(api.base_url + path, encoded=True)
    async with api.session.request(method, url, headers=headers, json=json) as resp:
        answer = await resp.json(content_type=None)
        api.recorded.append((method, resp.url.raw_path, resp.status, resp.content_type, answer))
        assert resp.content_type == "application/problem+json" or resp.status < 400, answer
        return resp.status, answer


DOT_PATHS = [
    ("GET", "/api/v1/invoices/%2E%2E", "number", ".."),
    ("GET", "/api/v1/invoices/%2e", "number", "."),
    ("GET", "/api/v1/invoices/..", "number", ".."),
    ("GET", "/api/v1/invoices/%2E%2E/pdf", "number", ".."),
    ("GET", "/api/v1/invoices/.%2E/pdf", "number", ".."),
    ("GET", "/api/v1/meters/./readings", "meter_number", "."),
    ("GET", "/api/v1/meters/%2E/readings", "meter_number", "."),
    ("GET", "/api/v1/meters/%2E%2E/readings", "meter_number", ".."),
    ("GET", "/api/v1/meters/../readings", "meter_number", ".."),
    ("POST", "/api/v1/meters/%2E%2E/readings", "meter_number", ".."),
    ("POST", "/api/v1/meters/./readings", "meter_number", "."),
]


async def test_dot_segment_path_parameters_are_refused_before_forwarding(stack: Stack) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    token = await access_token(stack, await registered_account(stack, customer=household.customer))
    invoice = "/api/v1/invoices/" + quote(household.invoices[0], safe="")

    async def invoice_served() -> bool:
        return (await send_raw_path(stack, "GET", invoice, token))[0] == 200

    await wait_until(invoice_served, what="billing to hold the invoice")
    reading = {"value": "1.000", "read_at": "2026-01-01T08:00:00+01:00"}
    for method, path, parameter, value in DOT_PATHS:
        status, problem = await send_raw_path(
            stack, method, path, token, json=reading if method == "POST" else None
        )
        assert status == 400, (path, problem)
        assert problem["type"] == "https://e-bok.example/problems/invalid-path-parameter", path
        assert parameter in problem["detail"] and repr(value) in problem["detail"], problem
        assert [e["field"] for e in problem["errors"]] == [parameter]
        assert problem["instance"] == URL(path, encoded=True).path
    # Nothing was written through a refused path.
    for meter in household.meters:

        async def readings(path: str = f"/api/v1/meters/{meter}/readings") -> dict | None:
            status, page = await send_raw_path(stack, "GET", path, token)
            return page if status == 200 else None

        page = await wait_until(readings, what=f"metering to know meter {meter}")
        assert page["items"] == []  # type: ignore[index]


async def test_only_exact_dot_segments_are_refused_and_only_after_authentication(
    stack: Stack,
) -> None:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    token = await access_token(stack, await registered_account(stack, customer=household.customer))
    # Dots within a value, or more of them, are an ordinary (here unknown) invoice or meter.
    for path in ("/api/v1/invoices/...", "/api/v1/invoices/.x", "/api/v1/meters/..%2F/readings"):
        status, problem = await send_raw_path(stack, "GET", path, token)
        assert status == 404, (path, problem)
    # Without a token the answer is the same 401 as for any other value.
    status, problem = await send_raw_path(stack, "GET", "/api/v1/invoices/%2E%2E")
    assert status == 401 and problem["type"].endswith("/unauthorized")


async def test_every_response_matches_the_openapi_document(stack: Stack) -> None:
    """Whatever this module's tests received (and a call of its own) fits the document."""
    await post_raw(stack, "/api/v1/auth/login", nested_list(10_000))
    await send_raw_path(stack, "GET", "/api/v1/invoices/%2E%2E")
    status, document = await stack.api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    recorded = [r for r in stack.api.recorded if "openapi.json" not in r[1]]
    assert OpenApi(document).check_all(recorded) >= 1


async def test_a_nul_character_is_a_validation_problem_not_a_500(stack: Stack) -> None:
    # PostgreSQL cannot store U+0000: schemathesis found it as a 500 on the login.
    status, problem = await stack.api.request(
        "POST", "/api/v1/auth/login", json={"login": "\x00¢Á\x84", "password": "x"}
    )
    assert status == 422, problem
    assert problem["errors"] == [
        {"field": "login", "message": "must not contain a NUL character", "code": "nul_character"}
    ]
    account = await registered_account(stack)
    token = await access_token(stack, account)
    status, problem = await stack.api.request("GET", "/api/v1/invoices?status=%00", token=token)
    assert status == 422 and problem["errors"][0]["code"] == "nul_character"
    status, problem = await stack.api.request("GET", "/api/v1/invoices/a%00b", token=token)
    assert status == 400 and problem["type"].endswith("/invalid-path-parameter")
