"""Manager requests: a company's public request (CAPTCHA, regulations, rate limit as for a
registration), and the operators' queue and decisions. Each property of a pending request is
shown against what identity knows of the ERP's customers (manager_domain.match_property)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

import asyncpg
from aiohttp import web

from services.identity import (
    domain,
    grants,
    hashing_slots,
    manager_domain,
    manager_repository,
    repository,
)
from services.identity.http_support import client_ip, limit_registrations, log
from services.identity.registration_api import check_captcha, terms_outdated
from shared.api.identity import (
    ApprovalIn,
    DecisionOut,
    GrantOut,
    ManagerRequestAcceptedOut,
    ManagerRequestIn,
    ManagerRequestOut,
    ManagerRequestsOut,
    OperatorIn,
    OperatorOut,
    PropertyMatchOut,
    RejectionIn,
    ServicePointMatchOut,
)
from shared.auth import Principal
from shared.events import identity as events
from shared.http.problems import Problem, json_response, parse_body
from shared.policy import insufficient_scope, operator
from shared.runtime import DB, SETTINGS, authenticate
from shared.sealing import sealer
from shared.tx import Tx

routes = web.RouteTableDef()

PENDING_SHOWN = 100
MANAGER_REQUESTS = operator("manager-request")


def operator_principal(request: web.Request) -> Principal:
    """The caller, who must be an operator (the gateway checked it too)."""
    principal = authenticate(request)
    if principal.role != "operator":
        log.warning("security: operator route refused", role=principal.role, path=request.path)
        raise insufficient_scope(principal.role, MANAGER_REQUESTS)
    return principal


# --- the public request ---------------------------------------------------------------------


@routes.post("/manager-requests")
async def request_manager_account(request: web.Request) -> web.Response:
    body = await parse_body(request, ManagerRequestIn)
    async with request.app[DB].connection() as tx:
        await limit_registrations(request, tx.conn)
        await check_captcha(request, tx, body.captcha_id, body.captcha_answer)
        async with tx.transaction():
            current = (await repository.current_terms(tx.conn))["version"]
            if body.terms_version != current:
                raise terms_outdated(body.terms_version, current)
            year, number = await manager_repository.next_request_number(tx.conn)
            reference = manager_domain.reference_number(year, number)
            request_id = uuid.uuid4()
            await manager_repository.insert_request(
                tx.conn, request_id, reference, body, client_ip(request)
            )
            await tx.publish(
                events.ManagerRequestReceived(
                    reference=reference,
                    company=body.company,
                    email=body.email,
                    language=body.language,
                )
            )
    log.info("manager request received", reference=reference, properties=len(body.properties))
    return json_response(
        ManagerRequestAcceptedOut(
            status="accepted",
            reference=reference,
            message="Your request is registered; an email with its reference number is on its "
            "way. An operator will check the properties and answer by email.",
        ),
        status=202,
    )


# --- the operators' queue -------------------------------------------------------------------


async def _match(tx: Tx, prop: asyncpg.Record) -> manager_domain.PropertyMatch:
    invoice = None
    if prop["contract_number"]:
        rows = await manager_repository.service_points_of_contract(tx.conn, prop["contract_number"])
    else:
        on_record = await repository.invoice_on_record(tx.conn, prop["invoice_number"])
        if on_record is None:
            return manager_domain.PropertyMatch("unmatched", None, [])
        invoice = (on_record.customer_id, on_record.gross)
        rows = await manager_repository.service_points_of_customer(tx.conn, on_record.customer_id)
    candidates = [
        manager_domain.Candidate(
            r["service_point_id"],
            r["customer_id"],
            r["contract_number"],
            manager_repository.address_of(r),
        )
        for r in rows
    ]
    given: Decimal | None = prop["invoice_gross"]
    return manager_domain.match_property(
        manager_repository.address_of(prop), candidates, invoice, given
    )


async def _request_out(
    tx: Tx, row: asyncpg.Record, props: list[asyncpg.Record]
) -> ManagerRequestOut:
    matches = [await _match(tx, p) for p in props]
    names = await manager_repository.customer_names(
        tx.conn, [m.customer_id for m in matches if m.customer_id]
    )
    return ManagerRequestOut(
        request_id=row["id"],
        reference=row["reference"],
        company=row["company"],
        nip=row["nip"],
        contact_person=row["contact_person"],
        email=row["email"],
        phone=row["phone"],
        language=row["language"],
        created_at=row["created_at"],
        status=row["status"],
        properties=[
            PropertyMatchOut(
                position=p["position"],
                address=manager_repository.address_of(p),
                contract_number=p["contract_number"],
                invoice_number=p["invoice_number"],
                invoice_amount=p["invoice_gross"],
                scope_asked=p["scope_asked"],
                match=m.match,
                customer_id=m.customer_id,
                customer_name=names.get(m.customer_id or ""),
                service_points=[
                    ServicePointMatchOut(
                        service_point_id=c.service_point_id,
                        contract_number=c.contract_number,
                        address=c.address,
                        address_matches=hit,
                    )
                    for c, hit in m.service_points
                ],
            )
            for p, m in zip(props, matches, strict=True)
        ],
    )


@routes.get("/operator/manager-requests")
async def pending_requests(request: web.Request) -> web.Response:
    operator_principal(request)
    async with request.app[DB].connection() as tx:
        rows = await manager_repository.pending_requests(tx.conn, PENDING_SHOWN)
        props = await manager_repository.properties_of(tx.conn, [r["id"] for r in rows])
        by_request: dict[uuid.UUID, list[asyncpg.Record]] = {}
        for p in props:
            by_request.setdefault(p["request_id"], []).append(p)
        items = [await _request_out(tx, r, by_request.get(r["id"], [])) for r in rows]
    return json_response(ManagerRequestsOut(items=items))


def _no_such_request() -> Problem:
    return Problem(404, "Not found", "No manager request has this reference", code="not-found")


def _decided_already(row: asyncpg.Record) -> Problem:
    return Problem(
        409,
        "Decided already",
        f"This request was {row['status']} by {row['decided_by_login']} at "
        f"{row['decided_at']:%Y-%m-%d %H:%M} UTC",
        code="decided-already",
    )


async def _pending_request(tx: Tx, reference: str) -> asyncpg.Record:
    row = await manager_repository.request_for_update(tx.conn, reference)
    if row is None:
        raise _no_such_request()
    if row["status"] != "pending":
        raise _decided_already(row)
    return row


def grant_out(row: asyncpg.Record) -> GrantOut:
    return GrantOut.model_validate(
        {**dict(row), "service_point_ids": list(row["service_point_ids"])}
    )


@routes.post("/operator/manager-requests/{reference}/approval")
async def approve(request: web.Request) -> web.Response:
    principal = operator_principal(request)
    body = await parse_body(request, ApprovalIn)
    customers = [g.customer_id for g in body.grants]
    if len(set(customers)) != len(customers):
        raise grants.unprocessable(
            "grants", "customer_repeated", "one grant per customer: a customer is listed twice"
        )
    operator_id = uuid.UUID(principal.account_id)
    async with request.app[DB].transaction() as tx:
        row = await _pending_request(tx, request.match_info["reference"])
        for i, g in enumerate(body.grants):
            await grants.check_points(
                tx, g.customer_id, g.scope, g.service_point_ids, f"grants.{i}.service_point_ids"
            )
        manager = await grants.manager_account_for(
            tx,
            email=row["email"],
            phone=row["phone"],
            language=row["language"],
            company=row["company"],
            client_ip=row["client_ip"],
        )
        change = grants.Change("operator", operator_id, row["id"])
        written = [
            await grants.set_grant(
                tx, manager["id"], g.customer_id, g.scope, g.service_point_ids, change
            )
            for g in body.grants
        ]
        decided_at = await _record_decision(
            tx,
            row,
            principal,
            "approved",
            manager=manager,
            granted=[events.GrantOfDecision.model_validate(g.model_dump()) for g in body.grants],
        )
        out = DecisionOut(
            reference=row["reference"],
            status="approved",
            decided_at=decided_at,
            manager_account_id=manager["id"],
            manager_login=manager["login"],
            grants=[grant_out(w) for w in written],
        )
    log.info(
        "manager request approved",
        reference=out.reference,
        operator=principal.login,
        manager_account_id=str(manager["id"]),
        grants=len(written),
    )
    return json_response(out)


async def _record_decision(
    tx: Tx,
    row: asyncpg.Record,
    principal: Principal,
    decision: Literal["approved", "rejected"],
    *,
    reason: str | None = None,
    manager: asyncpg.Record | None = None,
    granted: list[events.GrantOfDecision] | None = None,
) -> datetime:
    """Record the operator's decision on the request `row` and publish it, once, for the back
    office; when it was taken."""
    operator_id = uuid.UUID(principal.account_id)
    manager_id = manager["id"] if manager is not None else None
    decided_at = await manager_repository.decide_request(
        tx.conn, row["id"], decision, operator_id, principal.login, reason, manager_id
    )
    await tx.publish(
        events.ManagerRequestDecided(
            request_id=row["id"],
            reference=row["reference"],
            company=row["company"],
            nip=row["nip"],
            decision=decision,
            decided_by=operator_id,
            decided_by_login=principal.login,
            decided_at=decided_at,
            reason=reason,
            manager_account_id=manager_id,
            manager_login=manager["login"] if manager is not None else None,
            grants=granted or [],
        )
    )
    return decided_at


@routes.post("/operator/manager-requests/{reference}/rejection")
async def reject(request: web.Request) -> web.Response:
    principal = operator_principal(request)
    body = await parse_body(request, RejectionIn)
    reason = body.reason.strip()
    if not reason:
        raise grants.unprocessable("reason", "reason_empty", "say why the request is rejected")
    async with request.app[DB].transaction() as tx:
        row = await _pending_request(tx, request.match_info["reference"])
        decided_at = await _record_decision(tx, row, principal, "rejected", reason=reason)
        await tx.publish(
            events.ManagerRequestRejected(
                reference=row["reference"],
                company=row["company"],
                email=row["email"],
                language=row["language"],
                reason=reason,
            )
        )
    log.info("manager request rejected", reference=row["reference"], operator=principal.login)
    return json_response(
        DecisionOut(reference=row["reference"], status="rejected", decided_at=decided_at)
    )


# --- more operators -------------------------------------------------------------------------


@routes.post("/operator/operators")
async def create_operator(request: web.Request) -> web.Response:
    """Another operator's account. Its login and one-time password go to its address (the email
    a customer gets with theirs), then "Account activation"; sign-in works after that one."""
    principal = operator_principal(request)
    body = await parse_body(request, OperatorIn)
    settings = request.app[SETTINGS]
    password = domain.new_one_time_password()
    password_hash = await hashing_slots.run(settings, domain.hash_password, password)
    account_id = uuid.uuid4()
    async with request.app[DB].transaction() as tx:
        if not await repository.insert_account(
            tx.conn,
            account_id=account_id,
            role="operator",
            status="awaiting_credentials_email",
            login=body.login,
            email=str(body.email),
            phone=None,
            language=body.language,
            password_hash=password_hash,
            one_time_password_ttl_seconds=settings.one_time_password_ttl_seconds,
        ):
            raise grants.unprocessable("login", "login_taken", "this login is taken")
        await tx.publish(
            events.CredentialsIssued(
                account_id=account_id,
                email=body.email,
                language=body.language,
                login=body.login,
                one_time_password=sealer(settings).seal(password),
            )
        )
    log.warning(
        "security: operator account created by an operator",
        account_id=str(account_id),
        login=body.login,
        created_by=principal.login,
    )
    return json_response(
        OperatorOut(
            account_id=account_id,
            login=body.login,
            email=str(body.email),
            status="awaiting_credentials_email",
        ),
        status=201,
    )
