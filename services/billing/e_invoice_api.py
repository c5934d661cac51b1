"""E-invoice consent over HTTP: the account's view and changes (the customer, or a manager whose
grant covers the whole customer), the confirmation link, the regulations. The rules are in
e_invoice.py; here the facts are fetched, the decision applied and the answer rendered."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from services.billing import e_invoice
from services.billing import e_invoice_repository as repository
from services.billing.e_invoice_repository import Actor
from services.billing.regulations import CURRENT_VERSION, regulations
from shared.api.billing import (
    EInvoiceActivateIn,
    EInvoiceAddressIn,
    EInvoiceChangeOut,
    EInvoiceConfirmationIn,
    EInvoiceConfirmedOut,
    EInvoiceOut,
    EInvoicePendingOut,
    EInvoiceRegulationsOut,
    EInvoiceRegulationsQuery,
)
from shared.api.selector import CustomerSelector
from shared.auth import Principal
from shared.events import billing
from shared.http import internal
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.logs import get_logger
from shared.runtime import DB, SETTINGS, authenticate
from shared.scopes import Scope, account_scope, require_whole_customer
from shared.sealing import sealer
from shared.tx import Tx

log = get_logger(__name__)
routes = web.RouteTableDef()

WHAT = "E-invoice consent"
_REFUSALS = {
    e_invoice.Refusal.ALREADY_ON: (
        "E-invoice already on",
        "E-invoice is already on; change its address instead (PUT /api/v1/e-invoice/address)",
    ),
    e_invoice.Refusal.NOT_ON: (
        "E-invoice not on",
        "The address can be changed only while e-invoice is on",
    ),
    e_invoice.Refusal.SAME_ADDRESS: (
        "Same address",
        "E-invoices already go to this address",
    ),
    e_invoice.Refusal.ALREADY_OFF: (
        "E-invoice already off",
        "E-invoice is not on and no request for it is waiting",
    ),
}
_LINK_REFUSALS = {
    e_invoice.LinkRefusal.INVALID: (
        400,
        "Invalid confirmation link",
        "This confirmation link is not valid; check that it was copied whole",
    ),
    e_invoice.LinkRefusal.USED: (
        410,
        "Confirmation link used",
        "This confirmation link has already been used",
    ),
    e_invoice.LinkRefusal.SUPERSEDED: (
        410,
        "Confirmation link replaced",
        "A newer confirmation link was sent; use the one in the latest email",
    ),
    e_invoice.LinkRefusal.CANCELLED: (
        410,
        "Confirmation link cancelled",
        "The request this link confirms was withdrawn or overtaken by another change",
    ),
    e_invoice.LinkRefusal.EXPIRED: (
        410,
        "Confirmation link expired",
        "This confirmation link has expired; ask for e-invoice (or the new address) again",
    ),
}


def _now() -> datetime:
    return datetime.now(UTC)


def _refused(refusal: e_invoice.Refusal) -> Problem:
    title, detail = _REFUSALS[refusal]
    return Problem(409, title, detail, code=refusal.value)


def _actor(request: web.Request, principal: Principal) -> Actor:
    try:
        account_id: uuid.UUID | None = uuid.UUID(principal.account_id)
    except ValueError:
        account_id = None
    return Actor(
        e_invoice.changed_by(principal.role),
        principal.login,
        account_id,
        # The address the gateway saw (a caller without the internal token: its TCP peer).
        internal.client_ip(request, request.app[SETTINGS]),
    )


async def _scope(request: web.Request, tx: Tx) -> tuple[Principal, Scope]:
    principal = authenticate(request)
    parse_query(request, CustomerSelector)
    return principal, await account_scope(tx.conn, principal, request)


async def _view(tx: Tx, customer_id: str, may_change: bool) -> EInvoiceOut:
    row = await repository.consent_view(tx.conn, customer_id)
    history = await repository.history(tx.conn, customer_id, e_invoice.HISTORY_LIMIT)
    on = row is not None and row["state"] == "on"
    return EInvoiceOut(
        state=row["state"] if row else "off",
        address=row["address"] if on else None,
        since=row["since"] if on else None,
        pending=(
            EInvoicePendingOut(
                address=row["pending_address"],
                purpose=row["purpose"],
                requested_at=row["requested_at"],
                expires_at=row["expires_at"],
            )
            if row is not None and row["purpose"] is not None
            else None
        ),
        may_change=may_change,
        regulations_version=CURRENT_VERSION,
        history=[EInvoiceChangeOut.model_validate(dict(h)) for h in history],
    )


@routes.get("/e-invoice")
async def consent(request: web.Request) -> web.Response:
    async with request.app[DB].connection() as tx:
        _, scope = await _scope(request, tx)
        return json_response(await _view(tx, scope.customer_id, not scope.partial))


async def _change_scope(request: web.Request, tx: Tx) -> tuple[Actor, Scope]:
    """The caller and the customer of a change: the whole customer only, within the request
    limit (each POST and PUT counts, answered or refused)."""
    principal, scope = await _scope(request, tx)
    require_whole_customer(scope, WHAT)
    return _actor(request, principal), scope


async def _limit(request: web.Request, tx: Tx, customer_id: str) -> None:
    """At most e_invoice_requests_per_hour links asked for per customer and hour: each sends
    an email to an address the caller chose. Counted in its own statement, so that a refused
    request counts too."""
    limit = request.app[SETTINGS].e_invoice_requests_per_hour
    hits = await repository.rate_limit_hit(tx.conn, f"e-invoice:{customer_id}", 3600)
    if e_invoice.exceeds_limit(hits, limit):
        raise Problem(
            429,
            "Too many requests",
            "Too many e-invoice requests for this account; try again within the hour",
            code="rate-limited",
            headers={"Retry-After": "3600"},
        )


def _outdated(given: str) -> Problem:
    message = f"not the version in force ({CURRENT_VERSION})"
    return Problem(
        422,
        "Regulations outdated",
        f"The e-invoice regulations accepted ({given}) are not the ones in force "
        f"({CURRENT_VERSION}); read and accept the current ones",
        code="regulations-outdated",
        errors=[
            {"field": "regulations_version", "message": message, "code": "regulations_outdated"}
        ],
    )


async def _send_link(
    tx: Tx,
    customer_id: str,
    purpose: e_invoice.Purpose,
    address: str,
    actor: Actor,
    regulations_version: str | None,
    now: datetime,
) -> None:
    """A new link to `address` (the waiting one, if any, stops working): stored as its hash,
    sent sealed."""
    settings = tx.settings
    await repository.end_pending(tx.conn, customer_id, "superseded")
    token = e_invoice.new_token()
    expires = e_invoice.expires_at(now, settings.e_invoice_confirmation_hours)
    await repository.add_confirmation(
        tx.conn,
        e_invoice.token_digest(token),
        customer_id,
        purpose,
        address,
        now,
        expires,
        actor,
        regulations_version,
    )
    await tx.publish(
        billing.EInvoiceConfirmationRequested(
            customer_id=customer_id,
            email=address,
            language=await repository.language(tx.conn, customer_id),  # type: ignore[arg-type]
            purpose=purpose,
            confirmation_url=sealer(settings).seal(
                e_invoice.confirmation_url(settings.public_url, token)
            ),
            expires_at=expires,
        )
    )


@routes.post("/e-invoice")
async def activate(request: web.Request) -> web.Response:
    async with request.app[DB].connection() as tx:
        actor, scope = await _change_scope(request, tx)
        body = await parse_body(request, EInvoiceActivateIn)
        await _limit(request, tx, scope.customer_id)
        if body.regulations_version != CURRENT_VERSION:
            raise _outdated(body.regulations_version)
        customer_id, address, now = scope.customer_id, str(body.address), _now()
        async with tx.transaction():
            found = await repository.lock_consent(tx.conn, customer_id)
            if refusal := e_invoice.refuse_activation(found):
                raise _refused(refusal)
            await _send_link(
                tx, customer_id, "activate", address, actor, body.regulations_version, now
            )
            await repository.set_consent(
                tx.conn,
                customer_id,
                "pending",
                None,
                since=None,
                regulations_version=body.regulations_version,
            )
            await repository.add_history(
                tx.conn,
                customer_id,
                "activation-requested",
                address,
                actor,
                body.regulations_version,
                now,
            )
        log.info("e-invoice requested", customer_id=customer_id, by=actor.role)
        return json_response(await _view(tx, customer_id, True), status=202)


@routes.put("/e-invoice/address")
async def change_address(request: web.Request) -> web.Response:
    async with request.app[DB].connection() as tx:
        actor, scope = await _change_scope(request, tx)
        body = await parse_body(request, EInvoiceAddressIn)
        await _limit(request, tx, scope.customer_id)
        customer_id, address, now = scope.customer_id, str(body.address), _now()
        async with tx.transaction():
            found = await repository.lock_consent(tx.conn, customer_id)
            if refusal := e_invoice.refuse_address_change(found, address):
                raise _refused(refusal)
            version = await repository.regulations_version(tx.conn, customer_id)
            await _send_link(tx, customer_id, "change-address", address, actor, version, now)
            await repository.add_history(
                tx.conn, customer_id, "address-change-requested", address, actor, version, now
            )
        log.info("e-invoice address change requested", customer_id=customer_id, by=actor.role)
        return json_response(await _view(tx, customer_id, True), status=202)


@routes.delete("/e-invoice")
async def withdraw(request: web.Request) -> web.Response:
    async with request.app[DB].transaction() as tx:
        actor, scope = await _change_scope(request, tx)
        customer_id, now = scope.customer_id, _now()
        found = await repository.lock_consent(tx.conn, customer_id)
        decision = e_invoice.withdrawal(found)
        if isinstance(decision, e_invoice.Refusal):
            raise _refused(decision)
        version = await repository.regulations_version(tx.conn, customer_id)
        # Withdrawn while a request waited: the address it named; else the one now in force.
        address = found.address or (found.pending.address if found.pending else None)
        await repository.end_pending(tx.conn, customer_id, "cancelled")
        await repository.set_consent(
            tx.conn, customer_id, "off", None, since=None, regulations_version=version
        )
        await repository.add_history(
            tx.conn, customer_id, "withdrawn", address, actor, version, now
        )
        if e_invoice.publishes(decision):
            await tx.publish(
                billing.EInvoiceChanged(
                    change_id=uuid.uuid4(),
                    customer_id=customer_id,
                    action="withdrawn",
                    state="off",
                    address=None,
                    previous_address=found.address,
                    # Paper again from the next invoice: the first issued from today on.
                    effective_from=tx.today(),
                    changed_at=now,
                    changed_by=actor.role,
                    changed_by_account_id=actor.account_id,
                    regulations_version=version,
                )
            )
        view = await _view(tx, customer_id, True)
    log.info("e-invoice withdrawn", customer_id=customer_id, by=actor.role, how=decision.value)
    return json_response(view)


@routes.post("/e-invoice/confirmations")
async def confirm(request: web.Request) -> web.Response:
    """The link's holder confirms the address (anonymous: the token is the credential)."""
    body = await parse_body(request, EInvoiceConfirmationIn)
    digest, now = e_invoice.token_digest(body.token), _now()
    async with request.app[DB].transaction() as tx:
        link = await repository.lock_confirmation(tx.conn, digest)
        found = await repository.consent(tx.conn, link["customer_id"]) if link else None
        refusal = e_invoice.refuse_link(
            link and e_invoice.Link(link["status"], link["purpose"], link["expires_at"]),
            found,
            now,
        )
        if refusal is not None or link is None or found is None:
            refusal = refusal or e_invoice.LinkRefusal.INVALID
            status, title, detail = _LINK_REFUSALS[refusal]
            raise Problem(status, title, detail, code=refusal.value)
        customer_id, address = link["customer_id"], link["address"]
        await repository.mark_used(tx.conn, digest, now)
        # The change is the requester's; where it was confirmed from is the link holder's.
        actor = Actor(
            link["by_role"],
            link["by_login"],
            link["by_account_id"],
            internal.client_ip(request, request.app[SETTINGS]),
        )
        version = link["regulations_version"]
        if link["purpose"] == "activate":
            await repository.set_consent(
                tx.conn, customer_id, "on", address, since=now, regulations_version=version
            )
            await repository.add_history(
                tx.conn, customer_id, "activated", address, actor, version, now
            )
            previous = None
        else:
            previous = found.address
            await repository.set_address(tx.conn, customer_id, address)
            await repository.add_history(
                tx.conn, customer_id, "address-changed", address, actor, version, now
            )
        await tx.publish(
            billing.EInvoiceChanged(
                change_id=uuid.uuid4(),
                customer_id=customer_id,
                action="activated" if previous is None else "address-changed",
                state="on",
                address=address,
                previous_address=previous,
                effective_from=tx.today(),
                changed_at=now,
                changed_by=actor.role,
                changed_by_account_id=actor.account_id,
                regulations_version=version,
            )
        )
        if previous is not None:
            await tx.publish(
                billing.EInvoiceAddressReplaced(
                    customer_id=customer_id,
                    email=previous,
                    language=await repository.language(tx.conn, customer_id),  # type: ignore[arg-type]
                    new_address=address,
                    changed_at=now,
                )
            )
    log.info("e-invoice address confirmed", customer_id=customer_id, purpose=link["purpose"])
    return json_response(EInvoiceConfirmedOut(state="on", address=address, purpose=link["purpose"]))


@routes.get("/e-invoice/regulations")
async def regulations_text(request: web.Request) -> web.Response:
    query = parse_query(request, EInvoiceRegulationsQuery)
    found = regulations(query.language)
    return json_response(
        EInvoiceRegulationsOut(
            version=found.version, language=found.language, title=found.title, text=found.text
        )
    )
