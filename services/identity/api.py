"""Identity's HTTP handlers (internal API; the gateway exposes them under /api/v1)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
from aiohttp import web

from services.identity import captcha_media, domain, repository
from shared.api.identity import (
    ActivationLinkRequest,
    ActivationRequest,
    LoginRequest,
    PasswordChangeRequest,
    RefreshRequest,
    RegistrationRequest,
)
from shared.auth import Principal, TokenSigner, TokenVerifier
from shared.events import identity as events
from shared.http.problems import Problem, json_response, parse_body, problem_response
from shared.logs import get_logger
from shared.messaging.outbox import add_to_outbox
from shared.runtime import POOL, SETTINGS

log = get_logger(__name__)

PRODUCER = "identity"
SIGNER = web.AppKey("signer", TokenSigner)
VERIFIER = web.AppKey("verifier", TokenVerifier)
CLIENT_IP_HEADER = "X-Ebok-Client-Ip"

ACCEPTED_MESSAGE = (
    "If the data is correct, an email with an activation link is on its way to the address given."
)


def _client_ip(request: web.Request) -> str:
    return request.headers.get(CLIENT_IP_HEADER) or request.remote or "unknown"


def _too_many(detail: str, retry_after: int) -> Problem:
    return Problem(
        429,
        "Too many requests",
        detail,
        code="rate-limited",
        headers={"Retry-After": str(retry_after)},
    )


async def _limit(conn: asyncpg.Connection, key: str, limit: int, window: int, detail: str) -> None:
    if await repository.rate_limit_hit(conn, key, window) > limit:
        raise _too_many(detail, window)


async def _limit_registrations(request: web.Request, conn: asyncpg.Connection) -> None:
    """Registrations and new activation links share one budget per client address."""
    settings = request.app[SETTINGS]
    await _limit(
        conn,
        f"registration:{_client_ip(request)}",
        settings.registrations_per_window,
        settings.registration_window_seconds,
        "Too many registration attempts from this address; try again later",
    )


# --- CAPTCHA and terms ----------------------------------------------------------------------


async def create_captcha(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn:
        await _limit(
            conn,
            f"captcha:{_client_ip(request)}",
            settings.captchas_per_window,
            settings.captcha_window_seconds,
            "Too many CAPTCHAs requested; wait a while",
        )
    answer = domain.new_captcha_answer()
    image, audio = await asyncio.to_thread(captcha_media.render, answer)
    captcha_id = uuid.uuid4()
    async with request.app[POOL].acquire() as conn:
        expires_at = await repository.insert_captcha(
            conn,
            captcha_id,
            domain.captcha_digest(str(captcha_id), answer),
            settings.captcha_ttl_seconds,
        )
    return json_response(
        {
            "captcha_id": str(captcha_id),
            "image": image,
            "audio": audio,
            "expires_at": expires_at.isoformat(),
        },
        status=201,
    )


async def get_terms(request: web.Request) -> web.Response:
    async with request.app[POOL].acquire() as conn:
        terms = await repository.current_terms(conn)
    return json_response(
        {
            "version": terms["version"],
            "title": terms["title"],
            "text": terms["body"],
            "published_at": terms["published_at"].isoformat(),
        }
    )


async def _check_captcha(
    request: web.Request, conn: asyncpg.Connection, captcha_id: uuid.UUID, answer: str
) -> None:
    stored = await repository.take_captcha(conn, captcha_id)
    test_answer = request.app[SETTINGS].captcha_test_answer
    ok = stored is not None and (
        stored == domain.captcha_digest(str(captcha_id), answer)
        or (
            test_answer is not None
            and domain.normalize_captcha_answer(answer)
            == domain.normalize_captcha_answer(test_answer.get_secret_value())
        )
    )
    if not ok:
        raise Problem(
            400,
            "CAPTCHA failed",
            "The CAPTCHA answer is wrong or the CAPTCHA has expired; "
            "request a new CAPTCHA and try again",
            code="captcha-failed",
        )


# --- registration ---------------------------------------------------------------------------


async def register(request: web.Request) -> web.Response:
    body = await parse_body(request, RegistrationRequest)
    ip = _client_ip(request)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        await _limit_registrations(request, conn)
        # The CAPTCHA is spent whatever happens next: its own short transaction.
        await _check_captcha(request, conn, body.captcha_id, body.captcha_answer)
        async with conn.transaction():
            terms = await repository.current_terms(conn)
            if body.terms_version != terms["version"]:
                raise Problem(
                    409,
                    "Regulations changed",
                    f"The regulations you accepted ({body.terms_version}) are not the current "
                    f"ones ({terms['version']}); read and accept version {terms['version']}",
                    code="terms-outdated",
                    errors=[
                        {
                            "field": "terms_version",
                            "message": "not the current version",
                            "code": "terms_outdated",
                        }
                    ],
                )
            found = await repository.invoice_customer(conn, body.invoice_number)
            if found is None or not domain.amounts_match(found[1], body.invoice_amount):
                raise Problem(
                    422,
                    "Invoice not matching",
                    "No invoice with this number and gross amount was found; check both on "
                    "your invoice",
                    code="invoice-not-matching",
                    errors=[
                        {
                            "field": "invoice_number",
                            "message": "no matching invoice",
                            "code": "invoice_not_matching",
                        },
                        {
                            "field": "invoice_amount",
                            "message": "no matching invoice",
                            "code": "invoice_not_matching",
                        },
                    ],
                )
            customer_id = found[0]
            account = await repository.account_for_customer(conn, customer_id)
            if account is not None:
                await add_to_outbox(
                    conn,
                    "identity.registration.repeated",
                    events.RegistrationRepeated(
                        account_id=account["id"],
                        email=account["email"],
                        language=account["language"],
                        login=account["login"],
                    ),
                    PRODUCER,
                )
                log.info("registration for a customer that has an account", customer_id=customer_id)
            else:
                await _start_registration(
                    request,
                    conn,
                    customer_id=customer_id,
                    invoice_number=body.invoice_number,
                    email=str(body.email),
                    phone=body.phone,
                    language=body.language,
                    terms_version=body.terms_version,
                    client_ip=ip,
                )
    return json_response({"status": "accepted", "message": ACCEPTED_MESSAGE}, status=202)


async def _start_registration(
    request: web.Request,
    conn: asyncpg.Connection,
    *,
    customer_id: str,
    invoice_number: str,
    email: str,
    phone: str | None,
    language: str,
    terms_version: str,
    client_ip: str | None,
) -> None:
    settings = request.app[SETTINGS]
    token = domain.new_secret_token()
    registration_id = uuid.uuid4()
    await repository.supersede_pending_registrations(conn, customer_id)
    expires_at = await repository.insert_registration(
        conn,
        registration_id=registration_id,
        customer_id=customer_id,
        invoice_number=invoice_number,
        email=email,
        phone=phone,
        language=language,
        terms_version=terms_version,
        token_hash=domain.token_digest(token),
        ttl_seconds=settings.activation_token_ttl_seconds,
        client_ip=client_ip,
    )
    await add_to_outbox(
        conn,
        "identity.registration.requested",
        events.RegistrationRequested(
            registration_id=registration_id,
            customer_id=customer_id,
            email=email,
            language=language,
            activation_url=f"{settings.public_url.rstrip('/')}/activate?token={token}",
            expires_at=expires_at,
        ),
        PRODUCER,
    )
    log.info("registration started", registration_id=str(registration_id))


async def request_activation_link(request: web.Request) -> web.Response:
    """A new activation link for a registration not activated yet (e.g. when the link expired)."""
    body = await parse_body(request, ActivationLinkRequest)
    ip = _client_ip(request)
    async with request.app[POOL].acquire() as conn:
        await _limit_registrations(request, conn)
        async with conn.transaction():
            found = await repository.invoice_customer(conn, body.invoice_number)
            previous = found and await repository.latest_registration(conn, found[0], body.email)
            if (
                previous
                and previous["status"] != "used"
                and not await repository.account_for_customer(conn, found[0])
            ):
                await _start_registration(
                    request,
                    conn,
                    customer_id=found[0],
                    invoice_number=body.invoice_number,
                    email=previous["email"],
                    phone=previous["phone"],
                    language=previous["language"],
                    terms_version=previous["terms_version"],
                    client_ip=ip,
                )
    return json_response({"status": "accepted", "message": ACCEPTED_MESSAGE}, status=202)


async def activate(request: web.Request) -> web.Response:
    body = await parse_body(request, ActivationRequest)
    pool = request.app[POOL]
    async with pool.acquire() as conn, conn.transaction():
        registration = await repository.registration_by_token(conn, domain.token_digest(body.token))
        _check_registration_usable(registration)
        if await repository.account_for_customer(conn, registration["customer_id"]):
            await repository.mark_registration_used(conn, registration["id"], None)
            raise Problem(
                409,
                "Already activated",
                "An account for this customer is already active; log in or reset the password",
                code="already-activated",
            )
        password = domain.new_one_time_password()
        password_hash = await asyncio.to_thread(domain.hash_password, password)
        account_id = uuid.uuid4()
        while True:
            login = domain.new_login()
            if await repository.insert_customer_account(
                conn,
                account_id=account_id,
                customer_id=registration["customer_id"],
                login=login,
                email=registration["email"],
                phone=registration["phone"],
                language=registration["language"],
                password_hash=password_hash,
            ):
                break
        await repository.record_terms_acceptance(
            conn,
            account_id,
            registration["terms_version"],
            registration["created_at"],
            registration["client_ip"],
        )
        await repository.mark_registration_used(conn, registration["id"], account_id)
        await add_to_outbox(
            conn,
            "identity.credentials.issued",
            events.CredentialsIssued(
                account_id=account_id,
                email=registration["email"],
                language=registration["language"],
                login=login,
                one_time_password=password,
            ),
            PRODUCER,
        )
    log.info("registration activated", account_id=str(account_id))
    return json_response(
        {
            "status": "activated",
            "message": "Your login and a one-time password are on their way by email. You can log "
            "in once the 'Account activation' email arrives.",
        }
    )


def _check_registration_usable(registration: asyncpg.Record | None) -> None:
    if registration is None:
        raise Problem(
            400,
            "Invalid activation link",
            "This activation link is not valid; check that it was copied whole",
            code="activation-link-invalid",
        )
    if registration["status"] == "used":
        raise Problem(
            410,
            "Activation link used",
            "This activation link has already been used",
            code="activation-link-used",
        )
    if registration["status"] == "superseded":
        raise Problem(
            410,
            "Activation link replaced",
            "A newer activation link was sent; use the one in the latest email",
            code="activation-link-superseded",
        )
    if registration["expired"]:
        raise Problem(
            410,
            "Activation link expired",
            "This activation link has expired; request "
            "a new one (POST /api/v1/registrations/activation-links)",
            code="activation-link-expired",
        )


# --- login and tokens -----------------------------------------------------------------------


async def _issue_tokens(
    request: web.Request,
    conn: asyncpg.Connection,
    account: asyncpg.Record,
    family_id: uuid.UUID | None = None,
) -> dict:
    settings = request.app[SETTINGS]
    principal = Principal(
        account_id=str(account["id"]),
        role=account["role"],
        login=account["login"],
        customer_ids=(account["customer_id"],) if account["customer_id"] else (),
        must_change_password=account["must_change_password"],
    )
    access_token, ttl = request.app[SIGNER].issue(principal)
    refresh_token = domain.new_secret_token()
    await repository.insert_refresh_token(
        conn,
        account["id"],
        family_id or uuid.uuid4(),
        domain.token_digest(refresh_token),
        settings.refresh_token_ttl_seconds,
    )
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "refresh_token": refresh_token,
        "must_change_password": account["must_change_password"],
    }


def _invalid_credentials() -> Problem:
    return Problem(
        401, "Invalid credentials", "The login or password is incorrect", code="invalid-credentials"
    )


async def login(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    body = await parse_body(request, LoginRequest)
    login_name = body.login.strip().lower()
    window = settings.login_window_seconds
    limits = {
        f"login-failure:{login_name}": settings.login_failures_per_window,
        f"login-failure-ip:{_client_ip(request)}": settings.login_failures_per_ip_per_window,
    }
    async with request.app[POOL].acquire() as conn:
        for key, limit in limits.items():
            if await repository.rate_limit_count(conn, key, window) >= limit:
                raise _too_many("Too many failed logins; try again later", window)
        account = await repository.account_by_login(conn, login_name)
        ok = await asyncio.to_thread(
            domain.verify_password, account["password_hash"] if account else None, body.password
        )
        if not ok:
            for key in limits:
                await repository.rate_limit_hit(conn, key, window)
            log.info("login failed")
            raise _invalid_credentials()
        if account["status"] == "locked":
            raise Problem(
                403,
                "Account locked",
                "This account is locked; contact the utility",
                code="account-locked",
            )
        if account["status"] != "active":
            raise Problem(
                403,
                "Account not active yet",
                "The account is not active yet: log in after the 'Account activation' "
                "email arrives",
                code="account-not-active",
            )
        async with conn.transaction():
            tokens = await _issue_tokens(request, conn, account)
    log.info("login", account_id=str(account["id"]))
    return json_response(tokens)


def _invalid_refresh() -> Problem:
    return Problem(
        401,
        "Invalid refresh token",
        "The refresh token is not valid; log in again",
        code="invalid-refresh",
    )


async def refresh(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        token = await repository.refresh_token_for_update(
            conn, domain.token_digest(body.refresh_token)
        )
        if token is None or token["revoked_at"] is not None or token["expired"]:
            raise _invalid_refresh()
        if token["used_at"] is not None:
            # A rotated token came back: someone holds a copy. End the whole session.
            await repository.revoke_family(conn, token["family_id"])
            log.warning(
                "refresh token reused; session revoked", account_id=str(token["account_id"])
            )
            # Answer without raising, so the revocation commits although the request fails.
            return problem_response(_invalid_refresh(), request.path)
        account = await repository.account_by_id(conn, token["account_id"])
        if account is None or account["status"] != "active":
            raise _invalid_refresh()
        await repository.mark_refresh_token_used(conn, token["id"])
        tokens = await _issue_tokens(request, conn, account, token["family_id"])
    return json_response(tokens)


async def logout(request: web.Request) -> web.Response:
    body = await parse_body(request, RefreshRequest)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        token = await repository.refresh_token_for_update(
            conn, domain.token_digest(body.refresh_token)
        )
        if token is not None:
            await repository.revoke_family(conn, token["family_id"])
    return web.Response(status=204)


# --- the logged-in account ------------------------------------------------------------------


def authenticate(request: web.Request, *, password_change: bool = False) -> Principal:
    return request.app[VERIFIER].authenticate(request, password_change=password_change)


async def me(request: web.Request) -> web.Response:
    principal = authenticate(request)
    async with request.app[POOL].acquire() as conn:
        account = await repository.account_by_id(conn, uuid.UUID(principal.account_id))
    if account is None:
        raise Problem(401, "Unauthorized", "The account no longer exists", code="unauthorized")
    return json_response(
        {
            "account_id": str(account["id"]),
            "login": account["login"],
            "email": account["email"],
            "phone": account["phone"],
            "language": account["language"],
            "role": account["role"],
            "customer_id": account["customer_id"],
            "status": account["status"],
            "must_change_password": account["must_change_password"],
            "activated_at": account["activated_at"].isoformat()
            if account["activated_at"]
            else None,
        }
    )


async def change_password(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    principal = authenticate(request, password_change=True)
    body = await parse_body(request, PasswordChangeRequest)
    key = f"password-failure:{principal.account_id}"
    window = settings.login_window_seconds
    async with request.app[POOL].acquire() as conn:
        if (
            await repository.rate_limit_count(conn, key, window)
            >= settings.login_failures_per_window
        ):
            raise _too_many("Too many wrong current passwords; try again later", window)
        account = await repository.account_by_id(conn, uuid.UUID(principal.account_id))
        if account is None:
            raise Problem(401, "Unauthorized", "The account no longer exists", code="unauthorized")
        if not await asyncio.to_thread(
            domain.verify_password, account["password_hash"], body.current_password
        ):
            await repository.rate_limit_hit(conn, key, window)
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
        problems = domain.password_problems(
            body.new_password, account["login"], body.current_password
        )
        if problems:
            raise Problem(
                422,
                "Validation failed",
                "The new password " + "; ".join(problems),
                code="validation-failed",
                errors=[
                    {"field": "new_password", "message": p, "code": "weak_password"}
                    for p in problems
                ],
            )
        new_hash = await asyncio.to_thread(domain.hash_password, body.new_password)
        async with conn.transaction():
            await repository.set_password(conn, account["id"], new_hash)
            await repository.revoke_account_tokens(conn, account["id"])
            account = await repository.account_by_id(conn, account["id"])
            tokens = await _issue_tokens(request, conn, account)
    log.info("password changed", account_id=principal.account_id, at=datetime.now(UTC).isoformat())
    return json_response(tokens)
