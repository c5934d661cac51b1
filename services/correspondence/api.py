"""Correspondence's HTTP API: write a case (idempotent), list the cases, read one with its
timeline, messages and attachments, add a message; and the open cases for the dashboard.

Every route is limited to the caller's scope (shared/scopes.py). A manager with a partial grant
writes and sees only cases on the granted service points or on invoices of the granted contracts;
a case naming neither (a question, a data-change request, a failure at a free address) belongs to
the whole customer: such a manager may neither write nor see it."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from aiohttp import web

from services.correspondence import attachments, attachments_repository, domain, repository
from shared.api.correspondence import (
    AttachmentOut,
    AuthorOut,
    BillingComplaintIn,
    CaseIn,
    CaseOut,
    CaseQuery,
    CasesSummaryOut,
    CaseSummaryOut,
    DataChangeOut,
    DataChangeRequestIn,
    FailureIn,
    MessageIn,
    MessageOut,
    QuestionIn,
    StatusChangeOut,
    WaterQualityIn,
)
from shared.api.paging import Page, Position, read_page
from shared.api.selector import CustomerSelector
from shared.auth import Principal
from shared.events.correspondence import (
    CASE_NUMBER_PATTERN,
    AttachmentRef,
    Author,
    CaseMessagePosted,
    CaseSubmitted,
    DataChange,
)
from shared.http.idempotency import field_problem, idempotency_key
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.policy import account
from shared.runtime import DB, SETTINGS, authenticate
from shared.scopes import Scope, account_scope, require_whole_customer
from shared.settings import Settings
from shared.tx import Tx

routes = web.RouteTableDef()
POLICY = account("case", partial="filtered")
DASHBOARD_OPEN_CASES = 3
_NUMBER = re.compile(CASE_NUMBER_PATTERN)
AnyCase = FailureIn | WaterQualityIn | DataChangeRequestIn | BillingComplaintIn | QuestionIn


def _not_found() -> Problem:
    return Problem(404, "Not found", "No such case on this account", code="not-found")


def _account_id(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.account_id)
    except ValueError:
        raise Problem(403, "Forbidden", "This account cannot write", code="forbidden") from None


async def _part(tx: Tx, scope: Scope) -> repository.Part:
    return await repository.part_of(tx.conn, scope)


# --- rendering -----------------------------------------------------------------------------


def _author(role: str, login: str | None, name: str | None) -> AuthorOut:
    return AuthorOut(role=role, login=login, name=name)  # type: ignore[arg-type]


def _attachment_out(row: Mapping[str, Any]) -> AttachmentOut:
    return AttachmentOut.model_validate(dict(row))


def _summary_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "number": row["number"],
        "kind": row["kind"],
        "status": row["status"],
        "title": row["title"],
        "service_point_id": row["service_point_id"],
        "invoice_number": row["invoice_number"],
        "submitted_by": _author(row["submitted_by_role"], row["submitted_by_login"], None),
        "submitted_at": row["submitted_at"],
        "updated_at": row["updated_at"],
    }


def _summary_out(row: Mapping[str, Any]) -> CaseSummaryOut:
    return CaseSummaryOut(**_summary_fields(row))


async def _case_out(conn: asyncpg.Connection, row: Mapping[str, Any]) -> CaseOut:
    files = await attachments_repository.of_case(conn, row["case_id"])
    by_message: dict[uuid.UUID | None, list[AttachmentOut]] = defaultdict(list)
    for f in files:
        by_message[f["message_id"]].append(_attachment_out(f))
    return CaseOut(
        **_summary_fields(row),
        customer_id=row["customer_id"],
        description=row["description"],
        location=row["location"],
        since=row["since"],
        subject=row["subject"],
        changes=[DataChangeOut.model_validate(c) for c in orjson.loads(row["changes"])],
        attachments=by_message[None],
        timeline=[
            StatusChangeOut(
                status=t["status"],
                at=t["at"],
                by=_author(t["by_role"], t["by_login"], t["by_name"]),
                reason=t["reason"],
            )
            for t in await repository.timeline(conn, row["case_id"])
        ],
        messages=[
            MessageOut(
                message_id=m["message_id"],
                author=_author(m["author_role"], m["author_login"], m["author_name"]),
                text=m["text"],
                attachments=by_message[m["message_id"]],
                posted_at=m["posted_at"],
            )
            for m in await repository.messages(conn, row["case_id"])
        ],
    )


def _refs(settings: Settings, rows: list[asyncpg.Record]) -> list[AttachmentRef]:
    """The attachments as the back office fetches them: by URL, with its credential."""
    return [
        AttachmentRef(
            attachment_id=r["attachment_id"],
            filename=r["filename"],
            content_type=r["content_type"],
            size=r["size"],
            url=attachments.backoffice_url(settings, r["attachment_id"]),
        )
        for r in rows
    ]


# --- a new case ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What a case names, checked against the customer's (and a partial grant's) part."""

    service_point_id: str | None = None
    location: str | None = None
    contract_number: str | None = None
    invoice_number: str | None = None
    title: str = ""


async def _place(tx: Tx, scope: Scope, service_point_id: str) -> tuple[str, dict[str, Any]]:
    """The customer's service point (its contract and address) the caller may write about; else
    422 naming the field (another customer's point and one outside a partial grant alike)."""
    row = await repository.service_point(tx.conn, scope.customer_id, service_point_id)
    if row is None or (scope.partial and service_point_id not in scope.service_point_ids):
        raise field_problem(
            422,
            "Validation failed",
            "service_point_id",
            "is not one of the service points of this account you may write about",
            "unknown-service-point",
        )
    return row["contract_number"], orjson.loads(row["address"])


async def _facts(tx: Tx, scope: Scope, body: AnyCase) -> Facts:
    if isinstance(body, DataChangeRequestIn):
        require_whole_customer(scope, "A data-change request")
        return Facts(title=domain.title(body.kind, fields=[c.field for c in body.changes]))
    if isinstance(body, QuestionIn):
        # About no property in particular: the whole customer's, as a data-change request is.
        require_whole_customer(scope, "A question about no service point")
        return Facts(title=domain.title(body.kind, subject=body.subject))
    if isinstance(body, BillingComplaintIn):
        contract = await repository.invoice_contract(
            tx.conn, scope.customer_id, body.invoice_number
        )
        if scope.partial and contract is not None:
            granted = await repository.granted_contracts(
                tx.conn, scope.customer_id, list(scope.service_point_ids)
            )
            contract = contract if contract in granted else None
        if contract is None:
            raise field_problem(
                422,
                "Validation failed",
                "invoice_number",
                "is not an invoice of this account you may write about",
                "unknown-invoice",
            )
        return Facts(
            invoice_number=body.invoice_number,
            contract_number=contract,
            title=domain.title(body.kind, invoice_number=body.invoice_number),
        )
    if body.service_point_id is None:  # a failure at a free address
        assert isinstance(body, FailureIn) and body.location is not None
        if scope.partial:
            raise field_problem(
                422,
                "Validation failed",
                "service_point_id",
                "name one of the service points you manage",
                "missing",
            )
        return Facts(location=body.location, title=domain.title(body.kind, place=body.location))
    contract, address = await _place(tx, scope, body.service_point_id)
    return Facts(
        service_point_id=body.service_point_id,
        contract_number=contract,
        title=domain.title(body.kind, place=domain.address_line(address)),
    )


def _new_case(
    case_id: uuid.UUID,
    year: int,
    seq: int,
    scope: Scope,
    body: AnyCase,
    facts: Facts,
    principal: Principal,
    account_id: uuid.UUID,
) -> repository.NewCase:
    if isinstance(body, DataChangeRequestIn):
        description = body.comment or ""
    elif isinstance(body, BillingComplaintIn):
        description = body.reason
    else:
        description = body.description
    return repository.NewCase(
        case_id=case_id,
        year=year,
        seq=seq,
        customer_id=scope.customer_id,
        kind=body.kind,
        title=facts.title,
        subject=body.subject if isinstance(body, QuestionIn) else None,
        description=description,
        service_point_id=facts.service_point_id,
        location=facts.location,
        since=body.since if isinstance(body, FailureIn) else None,
        invoice_number=facts.invoice_number,
        contract_number=facts.contract_number,
        changes=(
            [c.model_dump(mode="json") for c in body.changes]
            if isinstance(body, DataChangeRequestIn)
            else []
        ),
        role=principal.role,
        account_id=account_id,
        login=principal.login,
    )


@routes.post("/cases")
async def create_case(request: web.Request) -> web.Response:
    """A new case, numbered and submitted, told to the back office once. The same
    Idempotency-Key and body again answer the same case (201); another body with that key 409."""
    principal = authenticate(request)
    key = idempotency_key(request, "case")
    parse_query(request, CustomerSelector)
    db = request.app[DB]
    # Whose account before the body: another customer's is 404 whatever the body says.
    async with db.connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
    body = (await parse_body(request, CaseIn)).root
    account_id = _account_id(principal)
    fingerprint = domain.request_hash(scope.customer_id, body.model_dump(mode="json"))
    settings = request.app[SETTINGS]
    async with db.transaction() as tx:
        case_id = uuid.uuid4()
        if not await repository.claim_key(tx.conn, account_id, key, fingerprint, case_id):
            existing = await repository.keyed_request(tx.conn, account_id, key)
            assert existing is not None  # taken and committed: claim_key waited for it
            if existing["request_hash"] != fingerprint:
                raise Problem(
                    409,
                    "Idempotency key reused",
                    "This Idempotency-Key was used for another case; use a new key",
                    code="idempotency-key-reused",
                )
            return json_response(
                await _case_out(tx.conn, await repository.case_by_id(tx.conn, existing["case_id"])),
                status=201,
            )
        facts = await _facts(tx, scope, body)
        year = tx.today().year
        # Taken as late as possible: the year's row stays locked until this commits.
        seq = await repository.next_number(tx.conn, year)
        try:
            number = domain.case_number(year, seq)
        except domain.NumbersExhausted:
            raise Problem(503, "Cannot number the case", "Try again later") from None
        new = _new_case(case_id, year, seq, scope, body, facts, principal, account_id)
        submitted_at = await repository.insert_case(tx.conn, new)
        files = await attachments_repository.attach(
            tx.conn,
            list(body.attachment_ids),
            customer_id=scope.customer_id,
            account_id=account_id,
            case_id=case_id,
            message_id=None,
        )
        await tx.publish(
            CaseSubmitted(
                case_id=case_id,
                number=number,
                customer_id=scope.customer_id,
                kind=body.kind,
                subject=new.subject,
                text=new.description,
                service_point_id=new.service_point_id,
                location=new.location,
                since=new.since,
                invoice_number=new.invoice_number,
                changes=[DataChange.model_validate(c) for c in new.changes],
                attachments=_refs(settings, files),
                submitted_by=Author(
                    role=principal.role,  # type: ignore[arg-type]
                    account_id=account_id,
                    login=principal.login,
                ),
                submitted_at=submitted_at,
            )
        )
        out = await _case_out(tx.conn, await repository.case_by_id(tx.conn, case_id))
    return json_response(out, status=201)


# --- reading -------------------------------------------------------------------------------


@routes.get("/cases")
async def list_cases(request: web.Request) -> web.Response:
    principal = authenticate(request)
    query = parse_query(request, CaseQuery)
    settings = request.app[SETTINGS]
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
        part = await _part(tx, scope)

        async def fetch(position: Position | None) -> tuple[list[asyncpg.Record], bool]:
            return await repository.cases_page(
                tx.conn,
                scope.customer_id,
                part.points,
                part.contracts,
                kind=query.kind,
                status=query.status,
                since=query.since,
                until=query.until,
                timezone=settings.timezone,
                position=position,
                limit=query.limit,
            )

        rows, next_cursor, prev_cursor = await read_page(
            fetch,
            query.KEYSET,
            lambda row: (row["submitted_at"], row["number"]),
            query.position,
        )
    return json_response(
        Page[CaseSummaryOut](
            items=[_summary_out(r) for r in rows],
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
        )
    )


async def _callers_case(
    request: web.Request, tx: Tx, *, lock: bool = False
) -> tuple[Scope, asyncpg.Record]:
    """The case the path names, if the caller's scope covers it (else 404)."""
    principal = authenticate(request)
    parse_query(request, CustomerSelector)
    scope = await account_scope(tx.conn, principal, request, POLICY)
    number = request.match_info["number"]
    if not _NUMBER.fullmatch(number):
        raise _not_found()
    part = await _part(tx, scope)
    row = await repository.case_by_number(
        tx.conn, scope.customer_id, number, part.points, part.contracts, lock=lock
    )
    if row is None:
        raise _not_found()
    return scope, row


@routes.get("/cases/{number:.+}")
async def get_case(request: web.Request) -> web.Response:
    async with request.app[DB].connection() as tx:
        _, row = await _callers_case(request, tx)
        out = await _case_out(tx.conn, row)
    return json_response(out)


@routes.post("/cases/{number:.+}/messages")
async def post_message(request: web.Request) -> web.Response:
    """A message of the customer (or their manager) in the case's thread, told to the back
    office once; its attachments count against the case's five. A closed or rejected case takes
    none (409)."""
    principal = authenticate(request)
    account_id = _account_id(principal)
    db = request.app[DB]
    async with db.connection() as tx:
        await _callers_case(request, tx)  # 404 before the body is read
    body = await parse_body(request, MessageIn)
    async with db.transaction() as tx:
        # Locked: a back-office update closing the case, or another message's attachments,
        # come before or after this one.
        scope, row = await _callers_case(request, tx, lock=True)
        if not domain.is_open(row["status"]):
            raise Problem(
                409,
                "Case closed",
                f"The case is {row['status']}; write a new case instead",
                code="case-closed",
            )
        message_id = uuid.uuid4()
        posted_at = await repository.insert_message(
            tx.conn,
            message_id=message_id,
            case_id=row["case_id"],
            role=principal.role,
            account_id=account_id,
            login=principal.login,
            name=None,
            text=body.text,
        )
        assert posted_at is not None
        files = await attachments_repository.attach(
            tx.conn,
            list(body.attachment_ids),
            customer_id=scope.customer_id,
            account_id=account_id,
            case_id=row["case_id"],
            message_id=message_id,
        )
        await repository.touch(tx.conn, row["case_id"])
        await tx.publish(
            CaseMessagePosted(
                case_id=row["case_id"],
                number=row["number"],
                customer_id=scope.customer_id,
                message_id=message_id,
                text=body.text,
                attachments=_refs(request.app[SETTINGS], files),
                posted_by=Author(
                    role=principal.role,  # type: ignore[arg-type]
                    account_id=account_id,
                    login=principal.login,
                ),
                posted_at=posted_at,
            )
        )
    return json_response(
        MessageOut(
            message_id=message_id,
            author=_author(principal.role, principal.login, None),
            text=body.text,
            attachments=[_attachment_out(f) for f in files],
            posted_at=posted_at,
        ),
        status=201,
    )


@routes.get("/cases-summary")
async def cases_summary(request: web.Request) -> web.Response:
    """The dashboard's part (internal, called by the gateway): how many cases are open (neither
    closed nor rejected) and the latest of them."""
    principal = authenticate(request)
    parse_query(request, CustomerSelector)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
        part = await _part(tx, scope)
        count, rows = await repository.open_cases(
            tx.conn, scope.customer_id, part.points, part.contracts, DASHBOARD_OPEN_CASES
        )
    return json_response(CasesSummaryOut(open=count, latest_open=[_summary_out(r) for r in rows]))
