"""Identity's session handlers: login, refresh, logout, the account, password change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from services.identity import domain, ended_sessions, hashing_slots, repository
from services.identity.http_support import SIGNER, client_ip, log, too_many
from shared.api.identity import (
    LoginRequest,
    MeOut,
    PasswordChangeRequest,
    RefreshRequest,
    TokensOut,
)
from shared.auth import Principal
from shared.events import identity as events
from shared.http.problems import Problem, json_response, parse_body, problem_response
from shared.metrics import LOGIN_FAILURES, rate_limited
from shared.runtime import DB, SETTINGS, authenticate
from shared.sealing import sealer
from shared.tx import Tx

routes = web.RouteTableDef()

# --- login and tokens -----------------------------------------------------------------------


async def _issue_tokens(
    request: web.Request,
    tx: Tx,
    account: asyncpg.Record,
    session: asyncpg.Record | None = None,
) -> TokensOut:
    """A token pair: of a new session, or of `session` (the refresh token being rotated)."""
    family_id = session["family_id"] if session else uuid.uuid4()
    refresh_token = domain.new_secret_token()
    session_ends = await repository.insert_refresh_token(
        tx.conn,
        account["id"],
        family_id,
        domain.token_digest(refresh_token),
        tx.settings.refresh_token_ttl_seconds,
        session["session_started_at"] if session else None,
        tx.settings.session_max_seconds,
    )
    principal = Principal(
        account_id=str(account["id"]),
        role=account["role"],
        login=account["login"],
        customer_ids=(account["customer_id"],) if account["customer_id"] else (),
        must_change_password=account["must_change_password"],
        session_id=str(family_id),
    )
    access_token, ttl = request.app[SIGNER].issue(principal, session_ends.timestamp())
    return TokensOut(
        access_token=access_token,
        expires_in=ttl,
        refresh_token=refresh_token,
        must_change_password=account["must_change_password"],
    )


_LOGIN_REFUSALS = {
    domain.LoginRefusal.LOCKED: (
        "Account locked",
        "This account is locked; contact the utility",
    ),
    domain.LoginRefusal.NOT_ACTIVE: (
        "Account not active yet",
        "The account is not active yet: log in after the 'Account activation' email arrives",
    ),
}


def _invalid_credentials() -> Problem:
    return Problem(
        401, "Invalid credentials", "The login or password is incorrect", code="invalid-credentials"
    )


Reserved = list[tuple[str, datetime]]


async def _reserve_attempt(
    conn: asyncpg.Connection, limits: dict[str, int], window: int, detail: str
) -> Reserved:
    """Count the attempt as a failure under each limit before its password is checked, each count
    committed on its own: parallel guesses cannot all pass a count read before any of them is
    recorded. 429 when a limit is exceeded, with what was counted given back."""
    reserved: Reserved = []
    for key, most in limits.items():
        hits, window_start = await repository.rate_limit_reserve(conn, key, window)
        reserved.append((key, window_start))
        if hits > most:
            await _give_back(conn, reserved)
            log.warning("security: rate limit reached", limit=key.split(":", 1)[0], key=key)
            rate_limited("identity", key)
            raise too_many(detail, window)
    return reserved


async def _give_back(conn: asyncpg.Connection, reserved: Reserved) -> None:
    for key, window_start in reserved:
        await repository.rate_limit_give_back(conn, key, window_start)


async def _password_matches(
    request: web.Request, reserved: Reserved, password_hash: str | None, password: str
) -> bool:
    """The password checked in a hashing turn (no connection held meanwhile). A wrong one keeps
    its reserved count as the recorded failure; an attempt never checked (busy) gives it back."""
    try:
        return await hashing_slots.run(
            request.app[SETTINGS], domain.verify_password, password_hash, password
        )
    except Exception:
        async with request.app[DB].connection() as tx:
            await _give_back(tx.conn, reserved)
        raise


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = await parse_body(request, LoginRequest)
    login_name = body.login.strip().lower()
    window = settings.login_window_seconds
    limits = {
        f"login-failure:{login_name}": settings.login_failures_per_window,
        f"login-failure-ip:{client_ip(request)}": settings.login_failures_per_ip_per_window,
    }
    async with request.app[DB].connection() as tx:
        reserved = await _reserve_attempt(
            tx.conn, limits, window, "Too many failed logins; try again later"
        )
        account = await repository.account_by_login(tx.conn, login_name)
    if not await _password_matches(
        request, reserved, account["password_hash"] if account else None, body.password
    ):
        log.warning(
            "security: login failed",
            login=login_name,
            client_ip=client_ip(request),
            login_exists=account is not None,
        )
        LOGIN_FAILURES.inc()
        raise _invalid_credentials()
    async with request.app[DB].connection() as tx:
        await _give_back(tx.conn, reserved)
        refusal = domain.refuse_login(account["status"])
        if refusal is not None:
            title, detail = _LOGIN_REFUSALS[refusal]
            raise Problem(403, title, detail, code=refusal.value)
        expires = account["one_time_password_expires_at"]
        if account["must_change_password"] and expires is not None and expires <= datetime.now(UTC):
            # The person holds the expired password from our email: send them a new one there.
            async with tx.transaction():
                await _reissue_one_time_password(tx, account)
            raise Problem(
                403,
                "One-time password expired",
                "The one-time password has expired; a new one is on its way to the account's "
                "email address",
                code="one-time-password-expired",
            )
        async with tx.transaction():
            tokens = await _issue_tokens(request, tx, account)
    log.info("login", account_id=str(account["id"]))
    return json_response(tokens)


async def _reissue_one_time_password(tx: Tx, account: asyncpg.Record) -> None:
    password = domain.new_one_time_password()
    password_hash = await hashing_slots.run(tx.settings, domain.hash_password, password)
    await repository.replace_one_time_password(
        tx.conn, account["id"], password_hash, tx.settings.one_time_password_ttl_seconds
    )
    await tx.publish(
        events.CredentialsIssued(
            account_id=account["id"],
            email=account["email"],
            language=account["language"],
            login=account["login"],
            one_time_password=sealer(tx.settings).seal(password),
        )
    )
    log.info("one-time password expired; a new one issued", account_id=str(account["id"]))


def _invalid_refresh() -> Problem:
    return Problem(
        401,
        "Invalid refresh token",
        "The refresh token is not valid; log in again",
        code="invalid-refresh",
    )


async def _stored(tx: Tx, body: RefreshRequest) -> asyncpg.Record | None:
    """The refresh token's row, locked for this transaction."""
    return await repository.refresh_token_for_update(
        tx.conn, domain.token_digest(body.refresh_token), tx.settings.session_max_seconds
    )


@routes.post("/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshRequest)
    async with request.app[DB].transaction() as tx:
        token = await _stored(tx, body)
        if token is None or token["revoked_at"] is not None or token["expired"]:
            raise _invalid_refresh()
        if token["used_at"] is not None:
            # A rotated token came back: someone holds a copy. End the whole session.
            ended = await repository.revoke_family(tx.conn, token["family_id"])
            await ended_sessions.announce(tx, token["account_id"], ended, "refresh_token_reused")
            log.warning(
                "security: refresh token reused; session revoked",
                account_id=str(token["account_id"]),
                client_ip=client_ip(request),
            )
            # Answer without raising, so the revocation commits although the request fails.
            return problem_response(_invalid_refresh(), request.path)
        account = await repository.account_by_id(tx.conn, token["account_id"])
        if account is None or account["status"] != "active":
            raise _invalid_refresh()
        await repository.mark_refresh_token_used(tx.conn, token["id"])
        tokens = await _issue_tokens(request, tx, account, token)
    return json_response(tokens)


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshRequest)
    async with request.app[DB].transaction() as tx:
        token = await _stored(tx, body)
        if token is not None:
            ended = await repository.revoke_family(tx.conn, token["family_id"])
            await ended_sessions.announce(tx, token["account_id"], ended, "logout")
    return web.Response(status=204)


# --- the logged-in account ------------------------------------------------------------------


@routes.get("/me")
async def me(request: web.Request) -> web.Response:
    principal = authenticate(request)
    async with request.app[DB].connection() as tx:
        account = await repository.account_by_id(tx.conn, uuid.UUID(principal.account_id))
    if account is None:
        raise _account_gone()
    return json_response(MeOut.model_validate({**dict(account), "account_id": account["id"]}))


def _account_gone() -> Problem:
    return Problem(401, "Unauthorized", "The account no longer exists", code="unauthorized")


@routes.post("/me/password")
async def change_password(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    principal = authenticate(request, password_change=True)
    body = await parse_body(request, PasswordChangeRequest)
    key = f"password-failure:{principal.account_id}"
    window = settings.login_window_seconds
    async with request.app[DB].connection() as tx:
        account = await repository.account_by_id(tx.conn, uuid.UUID(principal.account_id))
        if account is None:
            raise _account_gone()
        reserved = await _reserve_attempt(
            tx.conn,
            {key: settings.login_failures_per_window},
            window,
            "Too many wrong current passwords; try again later",
        )
    if not await _password_matches(
        request, reserved, account["password_hash"], body.current_password
    ):
        raise Problem(
            422,
            "Validation failed",
            "The current password is incorrect",
            code="validation-failed",
            errors=[
                {
                    "field": "current_password",
                    "message": "is incorrect",
                    "code": "invalid_password",
                }
            ],
        )
    async with request.app[DB].connection() as tx:
        await _give_back(tx.conn, reserved)
    problems = domain.password_problems(body.new_password, account["login"], body.current_password)
    if problems:
        raise Problem(
            422,
            "Validation failed",
            "The new password " + "; ".join(p.message for p in problems),
            code="validation-failed",
            errors=[
                {"field": "new_password", "message": p.message, "code": p.code} for p in problems
            ],
        )
    new_hash = await hashing_slots.run(settings, domain.hash_password, body.new_password)
    async with request.app[DB].transaction() as tx:
        await repository.set_password(tx.conn, account["id"], new_hash)
        ended = await repository.revoke_account_tokens(tx.conn, account["id"])
        await ended_sessions.announce(tx, account["id"], ended, "password_changed")
        account = await repository.account_by_id(tx.conn, account["id"])
        tokens = await _issue_tokens(request, tx, account)
    log.info("password changed", account_id=principal.account_id, at=datetime.now(UTC).isoformat())
    return json_response(tokens)
