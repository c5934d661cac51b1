"""A signing key rotation through the real platform (docs/operations.md, "Keys"): while the
previous public key is configured, the services accept access tokens it signed; once it is
dropped and the services restarted, they refuse them, and the new key's tokens keep working."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import jwt
import pytest_asyncio

from shared.auth import TokenSigner, generate_keypair
from shared.runtime import VERIFIER
from tests.support.flows import access_token, registered_account
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

# Identity, billing, metering and the gateway's composed dashboard.
PRIVATE = ("/api/v1/me", "/api/v1/invoices", "/api/v1/meters", "/api/v1/me/dashboard")


async def answers(stack: Stack, token: str) -> dict[str, int]:
    return {path: (await stack.api.request("GET", path, token=token))[0] for path in PRIVATE}


async def billing_answers(stack: Stack, token: str) -> int:
    """Straight at a service, past the gateway (each service verifies again)."""
    async with stack.api.session.get(
        stack.platform.urls["billing"] + "/invoices",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        return resp.status


async def restart(stack: Stack, **settings: object) -> None:
    """Every service restarted with changed settings, as an operator's rollout would."""
    platform = stack.platform
    await platform.stop()
    platform.settings = platform.settings.model_copy(update=settings)
    await platform.start()
    stack.api.base_url = platform.urls["gateway"]


@pytest_asyncio.fixture(loop_scope="session")
async def rotating(infra: Infra, keys: Path, tmp_path: Path) -> AsyncIterator[Stack]:
    """Mid-rotation: identity signs with a new pair; the session's pair (keys/) is the previous
    one, still accepted everywhere."""
    new = tmp_path / "new"
    generate_keypair(new / "private.pem", new / "public.pem")
    async for running in start_stack(
        infra,
        keys,
        jwt_private_key_file=new / "private.pem",
        jwt_public_key_file=new / "public.pem",
        jwt_previous_public_key_files=[keys / "public.pem"],
    ):
        yield running


async def test_a_previous_key_is_accepted_until_it_is_dropped(rotating: Stack, keys: Path) -> None:
    stack = rotating
    account = await registered_account(stack)
    new_token = await access_token(stack, account)
    # The same session's token as identity signed it before the switch: with the old key.
    principal = stack.platform.apps["gateway"][VERIFIER].verify(new_token)
    old_signer = TokenSigner(
        stack.platform.settings.model_copy(
            update={
                "jwt_private_key_file": keys / "private.pem",
                "jwt_public_key_file": keys / "public.pem",
                "jwt_previous_public_key_files": [],
            }
        )
    )
    old_token, _ = old_signer.issue(principal)
    assert (
        jwt.get_unverified_header(old_token)["kid"] != (jwt.get_unverified_header(new_token)["kid"])
    )

    assert await answers(stack, old_token) == dict.fromkeys(PRIVATE, 200)
    assert await answers(stack, new_token) == dict.fromkeys(PRIVATE, 200)
    assert await billing_answers(stack, old_token) == 200

    await restart(stack, jwt_previous_public_key_files=[])

    assert await answers(stack, old_token) == dict.fromkeys(PRIVATE, 401)
    status, problem = await stack.api.request("GET", "/api/v1/invoices", token=old_token)
    assert (status, problem["detail"]) == (401, "The access token is not valid")
    assert await billing_answers(stack, old_token) == 401
    assert await answers(stack, new_token) == dict.fromkeys(PRIVATE, 200)
