"""Identity's registration handlers: CAPTCHA, terms, registration, activation."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
from aiohttp import web

from services.identity import captcha_media, domain, repository
from services.identity.http_support import (
    ACCEPTED_MESSAGE,
    PRODUCER,
    client_ip,
    limit,
    limit_registrations,
    log,
)
from shared.api.identity import (
    ActivationLinkRequest,
    ActivationRequest,
    RegistrationRequest,
)
from shared.events import identity as events
from shared.http.problems import Problem, json_response, parse_body
from shared.messaging.outbox import add_to_outbox
from shared.runtime import POOL, SETTINGS

# --- CAPTCHA and terms ----------------------------------------------------------------------


async def create_captcha(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with request.app[POOL].acquire() as conn:
        await limit(
            conn,
            f"captcha:{client_ip(request)}",
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
    ip = client_ip(request)
    pool = request.app[POOL]
    async with pool.acquire() as conn:
        await limit_registrations(request, conn)
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
    ip = client_ip(request)
    async with request.app[POOL].acquire() as conn:
        await limit_registrations(request, conn)
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
