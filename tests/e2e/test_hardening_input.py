"""Hostile input through the gateway gets a clear 4xx problem document, never a 500: JSON bodies
nested far deeper than any request needs."""

from __future__ import annotations

import pytest

from shared.http.problems import MAX_JSON_DEPTH
from tests.support.openapi import OpenApi
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


async def test_every_response_matches_the_openapi_document(stack: Stack) -> None:
    """Whatever this module's tests received (and a call of its own) fits the document."""
    await post_raw(stack, "/api/v1/auth/login", nested_list(10_000))
    status, document = await stack.api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    recorded = [r for r in stack.api.recorded if "openapi.json" not in r[1]]
    assert OpenApi(document).check_all(recorded) >= 1
