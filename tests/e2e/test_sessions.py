"""Sessions end everywhere at once: after a logout, a password change or a reused refresh token,
the ended sessions' access tokens are refused by every service on the next request (within
seconds, not when they expire), and a session ends at its absolute lifetime however often it
is refreshed."""

from __future__ import annotations

import uuid

import jwt

from tests.support.flows import (
    NEW_PASSWORD,
    credentials,
    login,
    registered_account,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack

# Revocation reaches every service within this (the relay and the loader are woken at once;
# their polling alone would take about a second each).
REVOKED_WITHIN = 5.0
# Identity, billing, metering and the gateway's composed dashboard.
PRIVATE = ("/api/v1/me", "/api/v1/invoices", "/api/v1/meters", "/api/v1/me/dashboard")


async def answers(stack: Stack, token: str) -> dict[str, int]:
    return {path: (await stack.api.request("GET", path, token=token))[0] for path in PRIVATE}


async def refused_everywhere(stack: Stack, token: str) -> bool:
    return set((await answers(stack, token)).values()) == {401}


async def wait_refused(stack: Stack, token: str, what: str) -> None:
    """Every service refuses `token` within REVOKED_WITHIN."""
    await wait_until(lambda: refused_everywhere(stack, token), timeout=REVOKED_WITHIN, what=what)


async def test_logout_ends_that_session_everywhere_and_no_other(stack: Stack) -> None:
    account = await registered_account(stack)
    _, first = await login(stack, account.login, account.password)
    _, second = await login(stack, account.login, account.password)
    assert jwt.decode(first["access_token"], options={"verify_signature": False})["sid"]
    assert await answers(stack, first["access_token"]) == dict.fromkeys(PRIVATE, 200)

    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]}
    )
    assert status == 204
    await wait_refused(
        stack, first["access_token"], "the logged-out session's access token to be refused"
    )
    status, problem = await stack.api.request(
        "GET", "/api/v1/invoices", token=first["access_token"]
    )
    assert problem["detail"] == "The session has ended; sign in again"
    assert await answers(stack, second["access_token"]) == dict.fromkeys(PRIVATE, 200)

    # Straight at a service, past the gateway: refused there too (defence in depth).
    billing = stack.platform.urls["billing"]
    async with stack.api.session.get(
        billing + "/invoices", headers={"Authorization": f"Bearer {first['access_token']}"}
    ) as resp:
        assert resp.status == 401


async def test_a_password_change_ends_every_other_session(stack: Stack) -> None:
    account = await registered_account(stack)
    _, phone = await login(stack, account.login, account.password)
    _, laptop = await login(stack, account.login, account.password)

    status, renewed = await stack.api.request(
        "POST",
        "/api/v1/me/password",
        token=laptop["access_token"],
        json={"current_password": account.password, "new_password": NEW_PASSWORD + "x"},
    )
    assert status == 200, renewed
    for ended in (phone, laptop):
        await wait_refused(
            stack,
            ended["access_token"],
            "the sessions from before the password change to be refused",
        )
        status, _ = await stack.api.request(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": ended["refresh_token"]}
        )
        assert status == 401
    assert await answers(stack, renewed["access_token"]) == dict.fromkeys(PRIVATE, 200)


async def test_a_reused_refresh_token_ends_the_session_everywhere(stack: Stack) -> None:
    account = await registered_account(stack)
    _, tokens = await login(stack, account.login, account.password)
    status, rotated = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 200
    # The spent token comes back (someone kept a copy): the whole session ends.
    status, _ = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert status == 401
    await wait_refused(
        stack, rotated["access_token"], "the session with a reused refresh token to be refused"
    )


async def test_a_session_ends_at_its_absolute_lifetime(stack: Stack) -> None:
    lifetime = stack.platform.settings.session_max_seconds
    account = await registered_account(stack)
    _, tokens = await login(stack, account.login, account.password)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    # As if the session had begun almost its whole lifetime ago.
    conn = await stack.platform.db("identity")
    try:
        await conn.execute(
            """UPDATE refresh_tokens
                  SET session_started_at = now() - make_interval(secs => $2 - 30)
                WHERE family_id = $1""",
            uuid.UUID(claims["sid"]),
            float(lifetime),
        )
        status, renewed = await stack.api.request(
            "POST", "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert status == 200, renewed
        # The new tokens end with the session, not a full access token lifetime later.
        assert renewed["expires_in"] <= 30
        # And once it is over, no refresh brings it back.
        await conn.execute(
            """UPDATE refresh_tokens
                  SET session_started_at = now() - make_interval(secs => $2 + 1)
                WHERE family_id = $1""",
            uuid.UUID(claims["sid"]),
            float(lifetime),
        )
    finally:
        await conn.close()
    status, problem = await stack.api.request(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": renewed["refresh_token"]}
    )
    assert status == 401 and problem["type"].endswith("/invalid-refresh")


async def test_an_expired_one_time_password_is_refused_and_a_new_one_sent(stack: Stack) -> None:
    account = await registered_account(stack, change_password=False)
    conn = await stack.platform.db("identity")
    try:
        expires = await conn.fetchval(
            "SELECT one_time_password_expires_at - now() FROM accounts WHERE login = $1",
            account.login,
        )
        ttl = stack.platform.settings.one_time_password_ttl_seconds
        assert ttl - 60 < expires.total_seconds() <= ttl
        # As if the password had been left unused for longer than it lives.
        await conn.execute(
            "UPDATE accounts SET one_time_password_expires_at = now() WHERE login = $1",
            account.login,
        )
    finally:
        await conn.close()

    status, problem = await login(stack, account.login, account.password)
    assert status == 403 and problem["type"].endswith("/one-time-password-expired"), problem
    latest = await wait_for_mail(
        stack, account.customer.email, "registration-confirmation", count=2
    )
    login_name, new_password = credentials(latest)
    assert login_name == account.login and new_password != account.password

    status, _ = await login(stack, account.login, account.password)
    assert status == 401, "the expired one is gone"
    status, tokens = await login(stack, account.login, new_password)
    assert status == 200 and tokens["must_change_password"] is True
