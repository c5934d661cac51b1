"""Payments' HTTP API: start a payment of invoices (idempotent), follow it, and receive the
provider's notifications. Every account query is limited to the caller's scope
(shared/scopes.py); a partial grant pays and sees only the granted contracts' invoices."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from services.payments import domain, repository, settlement
from services.payments.keys import PROVIDER
from services.payments.providers.base import (
    BadNotification,
    Order,
    ProviderRefused,
    ProviderUnavailable,
)
from shared.api.paging import Page, read_page
from shared.api.payments import (
    NotificationAcceptedOut,
    OnlinePaymentIn,
    OnlinePaymentOut,
    OnlinePaymentQuery,
)
from shared.api.selector import CustomerSelector
from shared.http.idempotency import field_problem, idempotency_key
from shared.http.internal import client_ip
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.logs import get_logger
from shared.metrics import PAYMENT_NOTIFICATIONS, PAYMENTS, rate_limited
from shared.policy import account
from shared.runtime import DB, SETTINGS, authenticate
from shared.scopes import Scope, account_scope
from shared.settings import Settings
from shared.tx import Database, Tx

log = get_logger(__name__)
routes = web.RouteTableDef()
POLICY = account("payment", partial="filtered")
NOTIFICATION_PATH = "/api/v1/payments/notifications/{provider}"


def _out(row: Mapping[str, Any]) -> OnlinePaymentOut:
    invoices = row["invoices"]
    return OnlinePaymentOut.model_validate(
        {**row, "invoices": orjson.loads(invoices) if isinstance(invoices, str) else invoices}
    )


async def _contracts(tx: Tx, scope: Scope) -> list[str] | None:
    """A partial grant's contracts (None: the whole customer)."""
    if not scope.partial:
        return None
    return await repository.granted_contracts(
        tx.conn, scope.customer_id, list(scope.service_point_ids)
    )


def _not_found() -> Problem:
    return Problem(404, "Not found", "No such payment on your account", code="not-found")


def _account_id(principal_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(principal_id)
    except ValueError:
        raise Problem(403, "Forbidden", "This account cannot pay", code="forbidden") from None


@routes.post("/payments")
async def start_payment(request: web.Request) -> web.Response:
    principal = authenticate(request)
    key = idempotency_key(
        request, "payment"
    )  # a required header: 400 without it, whoever is asked about
    parse_query(request, CustomerSelector)
    # Whose account before the body: another customer's is 404 whatever the body says.
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
    body = await parse_body(request, OnlinePaymentIn)
    settings = request.app[SETTINGS]
    if not domain.same_origin(body.return_url, settings.public_url):
        raise field_problem(
            422,
            "Validation failed",
            "return_url",
            "must be an address of e-BOK itself",
            "foreign_origin",
        )
    account_id = _account_id(principal.account_id)
    provider = request.app[PROVIDER]
    async with request.app[DB].transaction() as tx:
        fingerprint = domain.request_hash(scope.customer_id, body.model_dump(mode="json"))
        existing = await repository.payment_by_key(tx.conn, account_id, key)
        if existing is not None:
            return _replay(existing, fingerprint)
        contracts = await _contracts(tx, scope)
        numbers = None if body.invoices == "all-due" else list(body.invoices)
        found = await repository.due_invoices(tx.conn, scope.customer_id, numbers, contracts)
        try:
            shares = domain.plan(found, numbers, body.amount, body.confirm_overpayment)
        except domain.Refused as refused:
            raise field_problem(
                422, "Validation failed", refused.field, refused.message, refused.code
            ) from None
        payment_id = uuid.uuid4()
        created = await repository.insert_payment(
            tx.conn,
            payment_id=payment_id,
            customer_id=scope.customer_id,
            account_id=account_id,
            key=key,
            request_hash=fingerprint,
            amount=body.amount,
            method=body.method,
            bank=body.bank,
            return_url=body.return_url,
            provider=provider.name,
            shares=shares,
        )
        if not created:  # the same key, at the same moment, from another request
            existing = await repository.payment_by_key(tx.conn, account_id, key)
            assert existing is not None
            return _replay(existing, fingerprint)
        payer = await repository.customer(tx.conn, scope.customer_id)
    order = Order(
        payment_id=payment_id,
        amount_grosze=domain.grosze(body.amount),
        currency="PLN",
        description=_description([n for n, _ in shares]),
        email=(payer and payer["email"]) or "no-reply@e-bok.invalid",
        language=(payer and payer["language"]) or "pl",
        method=body.method,
        bank=body.bank,
        return_url=body.return_url,
        notify_url=settings.public_url.rstrip("/")
        + NOTIFICATION_PATH.format(provider=provider.name),
    )
    try:
        registered = await provider.register(order)
    except (ProviderUnavailable, ProviderRefused) as exc:
        async with request.app[DB].transaction() as tx:
            await repository.mark_final(tx.conn, payment_id, "failed", str(exc))
        PAYMENTS.labels("failed", "request").inc()
        raise Problem(
            502,
            "Payment provider unavailable",
            "The payment provider could not take the payment; nothing was charged. "
            "Try again with a new Idempotency-Key.",
            code="provider-unavailable",
        ) from None
    async with request.app[DB].transaction() as tx:
        await repository.mark_pending(
            tx.conn, payment_id, provider.name, registered.token, registered.redirect_url
        )
        row = await repository.payment(tx.conn, payment_id)
    assert row is not None
    PAYMENTS.labels("pending", "request").inc()
    return json_response(_out(row), status=201)


def _replay(existing: Mapping[str, Any], fingerprint: str) -> web.Response:
    if existing["request_hash"] != fingerprint:
        raise Problem(
            409,
            "Idempotency key reused",
            "This Idempotency-Key was used for another payment request; use a new key",
            code="idempotency-key-reused",
        )
    return json_response(_out(existing), status=201)


def _description(numbers: list[str]) -> str:
    text = "e-BOK: " + (", ".join(numbers) if numbers else "wpłata na konto")
    return text if len(text) <= 1000 else text[:997] + "..."


@routes.get("/payments")
async def list_payments(request: web.Request) -> web.Response:
    authenticate(request)
    query = parse_query(request, OnlinePaymentQuery)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, authenticate(request), request, POLICY)
        contracts = await _contracts(tx, scope)
        rows, next_cursor, prev_cursor = await read_page(
            lambda position: repository.payments_page(
                tx.conn, scope.customer_id, contracts, position, query.limit
            ),
            query.KEYSET,
            lambda row: (row["created_at"], str(row["payment_id"])),
            query.position,
        )
    return json_response(
        Page[OnlinePaymentOut](
            items=[_out(r) for r in rows], next_cursor=next_cursor, prev_cursor=prev_cursor
        )
    )


async def _callers_payment(request: web.Request, tx: Tx) -> Mapping[str, Any]:
    """The payment the path names, if it is in the caller's scope (else 404)."""
    principal = authenticate(request)
    parse_query(request, CustomerSelector)
    payment_id = settlement.payment_uuid(request.match_info["payment_id"])
    scope = await account_scope(tx.conn, principal, request, POLICY)
    if payment_id is None:
        raise _not_found()
    row = await repository.payment(tx.conn, payment_id)
    if row is None or row["customer_id"] != scope.customer_id:
        raise _not_found()
    if scope.partial:
        contracts = await _contracts(tx, scope) or []
        if not await repository.names_contracts(tx.conn, payment_id, contracts):
            raise _not_found()
    return row


@routes.get("/payments/{payment_id}")
async def get_payment(request: web.Request) -> web.Response:
    async with request.app[DB].connection() as tx:
        row = await _callers_payment(request, tx)
    return json_response(_out(row))


@routes.post("/payments/{payment_id}/cancel")
async def cancel_payment(request: web.Request) -> web.Response:
    """The payer gave up: a payment still created or pending becomes cancelled (cancelling it
    again answers the same). The provider's transaction is left to expire; should its money
    arrive all the same, the notification (or reconciliation) still pays it: money is never
    refused."""
    async with request.app[DB].transaction() as tx:
        found = await _callers_payment(request, tx)
        # Locked as settlement locks it: a notification at the same moment comes first or after.
        row = await repository.lock_payment(tx.conn, found["payment_id"])
        assert row is not None
        if not domain.cancellable(row["status"]):
            raise Problem(
                409,
                "Payment not cancellable",
                f"The payment is {row['status']}; only a created or pending payment can be "
                "cancelled",
                code="not-cancellable",
            )
        if await repository.mark_final(
            tx.conn, row["payment_id"], "cancelled", "cancelled by the payer"
        ):
            PAYMENTS.labels("cancelled", "request").inc()
        row = await repository.payment(tx.conn, row["payment_id"])
    assert row is not None
    return json_response(_out(row))


@routes.post("/payments/notifications/{provider}")
async def notification(request: web.Request) -> web.Response:
    """The provider's status notification (public, unauthenticated: its signature is the proof).
    Anything that is not a verified, matching notification is recorded and answered 400, with no
    effect; a repeated one is answered 200 with no further effect."""
    provider = request.app[PROVIDER]
    if request.match_info["provider"] != provider.name:
        raise Problem(404, "Not found", "No such payment provider", code="not-found")
    settings = request.app[SETTINGS]
    source = client_ip(request, settings)
    if not domain.address_allowed(source, settings.p24_notify_from):
        PAYMENT_NOTIFICATIONS.labels(provider.name, "foreign-address").inc()
        log.warning("payment notification from an address not allowed", source=source)
        raise Problem(403, "Forbidden", "Notifications are not taken from here", code="forbidden")
    db = request.app[DB]
    await _limit_notifications(db, settings, source, provider.name)
    body = await request.read()

    async def record(verdict: str, detail: str | None, payment_id: uuid.UUID | None) -> None:
        PAYMENT_NOTIFICATIONS.labels(provider.name, verdict).inc()
        if verdict == "accepted":
            PAYMENTS.labels("paid", "notification").inc()
        async with db.connection() as tx:
            await repository.record_notification(
                tx.conn, provider.name, body, verdict, detail, payment_id, source
            )

    try:
        transaction = provider.read_notification(body)
    except BadNotification as exc:
        await record(exc.verdict, exc.detail, None)
        log.warning("payment notification refused", verdict=exc.verdict)
        raise _refused(exc.detail) from None
    verdict, payment_id = await settlement.check(db, transaction)
    if verdict in ("unknown-session", "amount-mismatch"):
        await record(verdict, None, payment_id)
        log.warning("payment notification refused", verdict=verdict)
        raise _refused(verdict.replace("-", " "))
    if verdict == "duplicate":
        await record("duplicate", None, payment_id)
        return json_response(NotificationAcceptedOut(status="accepted"))
    assert payment_id is not None
    try:
        outcome = await settlement.settle(db, provider, payment_id, transaction)
    except (ProviderUnavailable, ProviderRefused) as exc:
        await record("verify-failed", str(exc), payment_id)
        # The provider sends its notification again; reconciliation asks it too.
        raise Problem(
            502,
            "Payment provider unavailable",
            "The transaction could not be verified with the provider yet",
            code="provider-unavailable",
        ) from None
    await record(outcome, None, payment_id)
    return json_response(NotificationAcceptedOut(status="accepted"))


async def _limit_notifications(db: Database, settings: Settings, source: str, name: str) -> None:
    """429 beyond EBOK_PAYMENT_NOTIFICATIONS_PER_WINDOW from one client address: nothing read
    nor recorded (the route is public; a provider sends far fewer)."""
    most, window = (
        settings.payment_notifications_per_window,
        settings.payment_notification_window_seconds,
    )
    if not most:
        return
    async with db.connection() as tx:
        hits = await repository.rate_limit_hit(tx.conn, f"notification:{source}", window)
    if hits > most:
        PAYMENT_NOTIFICATIONS.labels(name, "rate-limited").inc()
        rate_limited("payments", "notification")
        if hits == most + 1:  # once per address and window
            log.warning("payment notifications rate-limited", source=source)
        raise Problem(
            429,
            "Too many requests",
            "Too many notifications from this address; try again later",
            code="rate-limited",
            headers={"Retry-After": str(window)},
        )


def _refused(detail: str) -> Problem:
    return Problem(400, "Notification refused", f"Notification refused: {detail}", code="refused")
