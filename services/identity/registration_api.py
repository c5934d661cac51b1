"""Identity's registration handlers: CAPTCHA, terms, registration, activation. The decisions are
domain.py's; these handlers fetch the facts, apply the decision and answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp import web

from services.identity import captcha_media, domain, hashing_slots, proof_of_work, repository
from services.identity.http_support import (
    ACCEPTED_MESSAGE,
    AUDIO_WORKERS,
    client_ip,
    limit,
    limit_registrations,
    log,
    too_many,
)
from shared.api.identity import (
    AcceptedOut,
    ActivationLinkRequest,
    ActivationRequest,
    CaptchaOut,
    CaptchaRequest,
    ChallengeOut,
    RegistrationRequest,
    TermsOut,
    TermsQuery,
)
from shared.events import identity as events
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.metrics import rate_limited
from shared.runtime import DB, SETTINGS
from shared.sealing import sealer
from shared.settings import Settings
from shared.tx import Tx

routes = web.RouteTableDef()

# --- CAPTCHA and terms ----------------------------------------------------------------------


@routes.post("/captcha/challenge")
async def create_challenge(request: web.Request) -> web.Response:
    """A proof-of-work challenge: one HMAC, no database, no state."""
    challenge = proof_of_work.new_challenge(request.app[SETTINGS], time.time())
    return json_response(ChallengeOut(**asdict(challenge)), status=201)


@routes.post("/captcha")
async def create_captcha(request: web.Request) -> web.Response:
    """A CAPTCHA for a solved proof-of-work challenge (each challenge makes one)."""
    settings = request.app[SETTINGS]
    body = await parse_body(request, CaptchaRequest)
    proof = body.proof
    why = proof_of_work.refuse(settings, **proof.model_dump(), now=time.time())
    if why is not None:
        log.warning("security: captcha proof of work refused", reason=why)
        raise _proof_refused(why)
    async with request.app[DB].connection() as tx:
        await limit(
            tx.conn,
            f"captcha:{client_ip(request)}",
            settings.captchas_per_window,
            settings.captcha_window_seconds,
            "Too many CAPTCHAs requested; wait a while",
        )
        expires = datetime.now(UTC) + timedelta(seconds=settings.captcha_pow_ttl_seconds)
        if not await repository.spend_challenge(tx.conn, proof.challenge, expires):
            raise _proof_refused("this challenge has made a CAPTCHA already; ask for a new one")
    answer = domain.new_captcha_answer()
    image = await asyncio.to_thread(captcha_media.image, answer)
    captcha_id = uuid.uuid4()
    async with request.app[DB].connection() as tx:
        expires_at = await repository.insert_captcha(
            tx.conn,
            captcha_id,
            domain.captcha_digest(str(captcha_id), answer),
            sealer(settings).seal(answer),
            settings.captcha_ttl_seconds,
        )
    out = CaptchaOut(
        captcha_id=captcha_id,
        image=image,
        audio_url=f"/api/v1/captcha/{captcha_id}/audio",
        expires_at=expires_at,
    )
    return json_response(out, status=201)


def _proof_refused(why: str) -> Problem:
    return Problem(
        400,
        "Proof of work refused",
        f"The proof of work does not hold: {why}",
        code="proof-of-work-refused",
    )


# A CAPTCHA's sound can be made this many times (a person may reload the player).
AUDIO_RENDERS = 3


@routes.get("/captcha/{captcha_id}/audio")
async def captcha_audio(request: web.Request) -> web.StreamResponse:
    try:
        captcha_id = uuid.UUID(request.match_info["captcha_id"])
    except ValueError:
        raise _no_such_captcha() from None
    async with request.app[DB].connection() as tx:
        sealed = await repository.captcha_for_audio(tx.conn, captcha_id, AUDIO_RENDERS)
    if sealed is None:
        raise _no_such_captcha()
    try:
        wav = await request.app[AUDIO_WORKERS].sound(sealer(request.app[SETTINGS]).unseal(sealed))
    except captcha_media.Busy:
        raise Problem(
            503,
            "Busy",
            "Too many recordings are being made; try again in a few seconds",
            code="busy",
            headers={"Retry-After": "5"},
        ) from None
    return web.Response(
        body=wav, content_type="audio/wav", headers={"Cache-Control": "private, max-age=300"}
    )


def _no_such_captcha() -> Problem:
    return Problem(
        404,
        "Not found",
        "No such CAPTCHA, or it has expired or been played too often; request a new CAPTCHA",
        code="not-found",
    )


@routes.get("/terms")
async def get_terms(request: web.Request) -> web.Response:
    query = parse_query(request, TermsQuery)
    async with request.app[DB].connection() as tx:
        terms = await repository.current_terms_text(tx.conn, query.language)
    return json_response(TermsOut.model_validate(dict(terms)))


async def check_captcha(request: web.Request, tx: Tx, captcha_id: uuid.UUID, answer: str) -> None:
    stored = await repository.take_captcha(tx.conn, captcha_id)
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
        log.warning(
            "security: captcha failed",
            client_ip=client_ip(request),
            captcha_known=stored is not None,
        )
        raise Problem(
            400,
            "CAPTCHA failed",
            "The CAPTCHA answer is wrong or the CAPTCHA has expired; "
            "request a new CAPTCHA and try again",
            code="captcha-failed",
        )


# --- registration ---------------------------------------------------------------------------


def terms_outdated(accepted: str, current: str) -> Problem:
    return Problem(
        409,
        "Regulations changed",
        f"The regulations you accepted ({accepted}) are not the current ones ({current}); "
        f"read and accept version {current}",
        code="terms-outdated",
        errors=[
            {
                "field": "terms_version",
                "message": "not the current version",
                "code": "terms_outdated",
            }
        ],
    )


def _invoice_not_matching() -> Problem:
    return Problem(
        422,
        "Invoice not matching",
        "No invoice with this number and gross amount was found; check both on your invoice",
        code="invoice-not-matching",
        errors=[
            {"field": field, "message": "no matching invoice", "code": "invoice_not_matching"}
            for field in ("invoice_number", "invoice_amount")
        ],
    )


def _accepted() -> web.Response:
    return json_response(AcceptedOut(status="accepted", message=ACCEPTED_MESSAGE), status=202)


def _mismatch_budgets(
    settings: Settings, invoice_number: str, invoice: domain.InvoiceOnRecord | None
) -> list[tuple[str, int]]:
    """The budgets of failed matches (key, limit) a registration draws on: its invoice
    number's and, when the number is on record, its customer's — from any address."""
    budgets = [
        (
            f"registration-mismatch-invoice:{invoice_number.strip().upper()}",
            settings.registration_mismatches_per_invoice,
        )
    ]
    if invoice is not None:
        budgets.append(
            (
                f"registration-mismatch-customer:{invoice.customer_id}",
                settings.registration_mismatches_per_customer,
            )
        )
    return budgets


async def _limit_mismatches(
    request: web.Request, tx: Tx, invoice_number: str, invoice: domain.InvoiceOnRecord | None
) -> None:
    """429 once an invoice number or a customer has had too many failed matches: guessing one
    customer's amount cannot be spread over many addresses."""
    window = tx.settings.registration_mismatch_window_seconds
    for key, most in _mismatch_budgets(tx.settings, invoice_number, invoice):
        if await repository.rate_limit_count(tx.conn, key, window) >= most:
            log.warning(
                "security: registration refused after repeated invoice mismatches",
                budget=key.split(":", 1)[0],
                invoice_number=invoice_number,
                client_ip=client_ip(request),
            )
            rate_limited("identity", key)
            raise too_many(
                "Too many failed attempts with this invoice; try again later or contact the "
                "Customer Service Office",
                window,
            )


async def _record_mismatch(
    request: web.Request, tx: Tx, invoice_number: str, invoice: domain.InvoiceOnRecord | None
) -> None:
    window = tx.settings.registration_mismatch_window_seconds
    for key, _most in _mismatch_budgets(tx.settings, invoice_number, invoice):
        await repository.rate_limit_hit(tx.conn, key, window)
    log.warning(
        "security: registration invoice mismatch",
        invoice_number=invoice_number,
        invoice_on_record=invoice is not None,
        client_ip=client_ip(request),
    )


@routes.post("/registrations")
async def register(request: web.Request) -> web.Response:
    body = await parse_body(request, RegistrationRequest)
    async with request.app[DB].connection() as tx:
        await limit_registrations(request, tx.conn)
        # The CAPTCHA is spent whatever happens next: its own short transaction.
        await check_captcha(request, tx, body.captcha_id, body.captcha_answer)
        invoice = await repository.invoice_on_record(tx.conn, body.invoice_number)
        await _limit_mismatches(request, tx, body.invoice_number, invoice)
        oldest = tx.today() - timedelta(days=tx.settings.registration_invoice_max_age_days)
        async with tx.transaction():
            terms = await repository.current_terms(tx.conn)
            account = invoice and await repository.account_for_customer(
                tx.conn, invoice.customer_id
            )
            on_file = invoice and await repository.customer_on_file(tx.conn, invoice.customer_id)
            held = bool(
                on_file
                and on_file["email"]
                and await repository.reclaimed_since(
                    tx.conn, invoice.customer_id, tx.settings.reclaim_hold_days
                )
            )
            decision = domain.decide_registration(
                accepted_terms=body.terms_version,
                current_terms=terms["version"],
                invoice=invoice,
                given_amount=body.invoice_amount,
                has_account=account is not None,
                oldest_accepted=oldest,
                given_email=str(body.email),
                held_for=on_file["email"] if held else None,
            )
            match decision:
                case domain.TermsOutdated(current):
                    raise terms_outdated(body.terms_version, current)
                case domain.InvoiceNotMatching():
                    pass  # recorded below, outside this transaction, which it leaves untouched
                case domain.TellOwner():
                    await tx.publish(domain.account_email(events.RegistrationRepeated, account))
                    log.info("registration for a customer that has an account")
                case domain.HeldForHolder(customer_id):
                    await _notice(tx, customer_id, uuid.uuid4(), str(body.email), body.language)
                    log.warning(
                        "security: registration during a reclaim hold, not to the address on file",
                        customer_id=customer_id,
                        client_ip=client_ip(request),
                    )
                case domain.StartRegistration(customer_id):
                    applicant = domain.Applicant(
                        customer_id,
                        body.invoice_number,
                        str(body.email),
                        body.phone,
                        body.language,
                        body.terms_version,
                    )
                    await _start_registration(request, tx, applicant)
        if isinstance(decision, domain.InvoiceNotMatching):
            await _record_mismatch(request, tx, body.invoice_number, invoice)
            raise _invoice_not_matching()
    return _accepted()


async def _start_registration(request: web.Request, tx: Tx, applicant: domain.Applicant) -> None:
    settings = tx.settings
    token = domain.new_secret_token()
    registration_id = uuid.uuid4()
    await repository.supersede_pending_registrations(tx.conn, applicant.customer_id)
    expires_at = await repository.insert_registration(
        tx.conn,
        registration_id,
        applicant,
        domain.token_digest(token),
        settings.activation_token_ttl_seconds,
        client_ip(request),
    )
    await tx.publish(
        events.RegistrationRequested(
            registration_id=registration_id,
            customer_id=applicant.customer_id,
            email=applicant.email,
            language=applicant.language,
            # In the fragment, the token reaches no server's log and no Referer (docs/web.md).
            activation_url=sealer(settings).seal(
                f"{settings.public_url.rstrip('/')}/activate#token={token}"
            ),
            expires_at=expires_at,
        )
    )
    await _notice(tx, applicant.customer_id, registration_id, applicant.email, applicant.language)
    log.info("registration started", registration_id=str(registration_id))


async def _notice(
    tx: Tx, customer_id: str, reference: uuid.UUID, applicant_email: str, language: str
) -> None:
    """Tell the address the ERP has on file of a registration made with another address."""
    on_file = await repository.customer_on_file(tx.conn, customer_id)
    if on_file is None or not domain.customer_to_be_told(on_file["email"], applicant_email):
        return
    await tx.publish(
        events.RegistrationNoticed(
            registration_id=reference,
            customer_id=customer_id,
            email=on_file["email"],
            language=on_file["language"] or language,
            applicant_email=domain.mask_email(applicant_email),
            started_at=datetime.now(UTC),
        )
    )


@routes.post("/registrations/activation-links")
async def request_activation_link(request: web.Request) -> web.Response:
    """A new activation link for a registration not activated yet (e.g. when the link expired)."""
    body = await parse_body(request, ActivationLinkRequest)
    async with request.app[DB].connection() as tx:
        await limit_registrations(request, tx.conn)
        await check_captcha(request, tx, body.captcha_id, body.captcha_answer)
        async with tx.transaction():
            invoice = await repository.invoice_on_record(tx.conn, body.invoice_number)
            if invoice is None:
                return _accepted()
            previous = await repository.latest_registration(
                tx.conn, invoice.customer_id, body.email
            )
            account = await repository.account_for_customer(tx.conn, invoice.customer_id)
            if previous and domain.may_send_new_activation_link(
                previous["status"], account is not None
            ):
                await _start_registration(request, tx, _applicant_again(previous))
    return _accepted()


def _applicant_again(registration: asyncpg.Record) -> domain.Applicant:
    """The applicant of an earlier registration, for its new activation link."""
    return domain.Applicant(**{f.name: registration[f.name] for f in fields(domain.Applicant)})


_ACTIVATION_PROBLEMS = {
    domain.ActivationRefusal.INVALID: (
        400,
        "Invalid activation link",
        "This activation link is not valid; check that it was copied whole",
    ),
    domain.ActivationRefusal.USED: (
        410,
        "Activation link used",
        "This activation link has already been used",
    ),
    domain.ActivationRefusal.SUPERSEDED: (
        410,
        "Activation link replaced",
        "A newer activation link was sent; use the one in the latest email",
    ),
    domain.ActivationRefusal.EXPIRED: (
        410,
        "Activation link expired",
        "This activation link has expired; request "
        "a new one (POST /api/v1/registrations/activation-links)",
    ),
    domain.ActivationRefusal.ALREADY_ACTIVATED: (
        409,
        "Already activated",
        "An account for this customer is already active; log in or reset the password",
    ),
}


@routes.post("/registrations/activate")
async def activate(request: web.Request) -> web.Response:
    body = await parse_body(request, ActivationRequest)
    async with request.app[DB].connection() as tx:
        async with tx.transaction():
            registration = await repository.registration_by_token(
                tx.conn, domain.token_digest(body.token)
            )
            account = registration and await repository.account_for_customer(
                tx.conn, registration["customer_id"]
            )
            refusal = domain.refuse_activation(
                registration["status"] if registration else None,
                bool(registration and registration["expired"]),
                account is not None,
            )
            if refusal is domain.ActivationRefusal.ALREADY_ACTIVATED:
                await repository.mark_registration_used(tx.conn, registration["id"], None)
            elif refusal is None:
                account_id = await _open_account(tx, registration)
        if refusal is not None:
            # After the block: the link marked used above stays used although the answer is a
            # refusal.
            status, title, detail = _ACTIVATION_PROBLEMS[refusal]
            raise Problem(status, title, detail, code=refusal.value)
    log.info("registration activated", account_id=str(account_id))
    return json_response(
        AcceptedOut(
            status="activated",
            message="Your login and a one-time password are on their way by email. You can log "
            "in once the 'Account activation' email arrives.",
        )
    )


async def _open_account(tx: Tx, registration: asyncpg.Record) -> uuid.UUID:
    """The account for an activated registration, with a one-time password sent by email."""
    password = domain.new_one_time_password()
    password_hash = await hashing_slots.run(tx.settings, domain.hash_password, password)
    if registration["kind"] == "manager":
        return await _open_manager_account(tx, registration, password, password_hash)
    account_id = uuid.uuid4()
    while True:
        login = domain.new_login()
        if await repository.insert_customer_account(
            tx.conn,
            account_id=account_id,
            customer_id=registration["customer_id"],
            login=login,
            email=registration["email"],
            phone=registration["phone"],
            language=registration["language"],
            password_hash=password_hash,
            one_time_password_ttl_seconds=tx.settings.one_time_password_ttl_seconds,
        ):
            break
    await repository.record_terms_acceptance(
        tx.conn,
        account_id,
        registration["terms_version"],
        registration["created_at"],
        registration["client_ip"],
    )
    await repository.mark_registration_used(tx.conn, registration["id"], account_id)
    await tx.publish(
        events.CredentialsIssued(
            account_id=account_id,
            email=registration["email"],
            language=registration["language"],
            login=login,
            one_time_password=sealer(tx.settings).seal(password),
        )
    )
    return account_id


async def _open_manager_account(
    tx: Tx, registration: asyncpg.Record, password: str, password_hash: str
) -> uuid.UUID:
    """A manager account, made by an operator's approval or a customer's invitation, gets its
    one-time password as a customer's new account does."""
    account = await repository.issue_one_time_password(
        tx.conn,
        registration["account_id"],
        password_hash,
        tx.settings.one_time_password_ttl_seconds,
    )
    if account is None:  # locked meanwhile, or activated by an older link
        raise Problem(
            409,
            "Already activated",
            "This account is already activated or no longer open; log in or contact the utility",
            code=domain.ActivationRefusal.ALREADY_ACTIVATED.value,
        )
    await repository.record_terms_acceptance(
        tx.conn,
        account["id"],
        registration["terms_version"],
        registration["created_at"],
        registration["client_ip"],
    )
    await repository.mark_registration_used(tx.conn, registration["id"], account["id"])
    await tx.publish(
        events.CredentialsIssued(
            account_id=account["id"],
            email=account["email"],
            language=account["language"],
            login=account["login"],
            one_time_password=sealer(tx.settings).seal(password),
        )
    )
    return account["id"]
