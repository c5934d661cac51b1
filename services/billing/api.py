"""Billing's internal HTTP API: the customer's account views. Every query is limited to the
account the caller's scope selects (shared/scopes.py): a customer's own, or a customer a manager
holds a grant over, for a partial grant only the granted service points' part (decision 58);
anything else is 404."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from services.billing import invoice_pdf, repository
from shared.api.billing import (
    BalanceOut,
    ContractOut,
    ContractsOut,
    InvoiceDetailOut,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceQuery,
    NoteOut,
    NoteQuery,
    PaymentOut,
    PaymentQuery,
    SummaryOut,
    SummaryQuery,
)
from shared.api.paging import CursorQuery, Page, Position, read_page
from shared.api.selector import CustomerSelector
from shared.http.problems import Problem, json_response, parse_query
from shared.runtime import DB, authenticate
from shared.scopes import account_scope
from shared.tx import Tx

routes = web.RouteTableDef()
_INVOICES = TypeAdapter(list[InvoiceOut])
M = TypeVar("M", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)
_CONTRACTS = TypeAdapter(list[ContractOut])


@dataclass(frozen=True)
class Account:
    """The account a request is about: the customer, and for a partial grant the granted part
    (None: all of it, for the customer and a manager with a full grant)."""

    customer_ids: list[str]
    part: repository.GrantedPart | None


def _query(request: web.Request, model: type[Q]) -> Q:
    """The query, once the caller is known (401 before 422)."""
    authenticate(request)
    return parse_query(request, model)


async def _account(request: web.Request, tx: Tx) -> Account:
    scope = await account_scope(tx.conn, authenticate(request), request)
    if not scope.partial:
        return Account(scope.customer_ids, None)
    part = await repository.granted_part(tx.conn, scope.customer_id, list(scope.service_point_ids))
    return Account(scope.customer_ids, part)


def _not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"No such {what} on your account", code="not-found")


def _balance_out(row: Mapping[str, Any], today: date) -> BalanceOut:
    value = row["credits"] - row["charges"]
    return BalanceOut(
        balance=value,
        amount_due=max(-value, Decimal(0)),
        overpaid=max(value, Decimal(0)),
        overdue_amount=row["overdue"],
        charges=row["charges"],
        credits=row["credits"],
        open_invoices=row["open"],
        as_of=today,
    )


@routes.get("/contracts")
async def contracts(request: web.Request) -> web.Response:
    _query(request, CustomerSelector)
    async with request.app[DB].connection() as tx:
        account = await _account(request, tx)
        if account.part is None:
            found = await repository.contracts(tx.conn, account.customer_ids)
        else:
            found = await repository.partial_contracts(tx.conn, account.part)
    return json_response(ContractsOut(items=_CONTRACTS.validate_json(found)))


@routes.get("/summary")
async def summary(request: web.Request) -> web.Response:
    """Balance, the latest invoices and the contracts in one call (the dashboard's billing part)."""
    query = _query(request, SummaryQuery)
    async with request.app[DB].connection() as tx:
        today = tx.today()
        scope = await account_scope(tx.conn, authenticate(request), request)
        if not scope.partial:
            row = await repository.summary(tx.conn, scope.customer_ids, today, query.invoices)
        else:
            # One round trip (the dashboard's): the granted part found by the statement.
            row = await repository.points_summary(
                tx.conn, scope.customer_id, list(scope.service_point_ids), today, query.invoices
            )
    return json_response(
        SummaryOut(
            balance=_balance_out(row, today),
            latest_invoices=_INVOICES.validate_json(row["latest_invoices"]),
            contracts=_CONTRACTS.validate_json(row["contracts"]),
        )
    )


@routes.get("/invoices")
async def invoices(request: web.Request) -> web.Response:
    query = _query(request, InvoiceQuery)
    async with request.app[DB].connection() as tx:
        today = tx.today()
        account = await _account(request, tx)
        filters = {"status": query.status, "period_from": query.from_, "period_to": query.to}

        def fetch(position: Position | None) -> Awaitable[tuple[list[asyncpg.Record], bool]]:
            if account.part is None:
                return repository.invoices_page(
                    tx.conn,
                    account.customer_ids,
                    today,
                    **filters,
                    position=position,
                    limit=query.limit,
                )
            return repository.partial_invoices_page(
                tx.conn, account.part, today, **filters, position=position, limit=query.limit
            )

        return await _page(query, InvoiceOut, ("issued_on", "invoice_number"), fetch)


async def _invoice_with_lines(request: web.Request) -> tuple[dict, list]:
    number = request.match_info["number"]
    _query(request, CustomerSelector)
    async with request.app[DB].connection() as tx:
        account = await _account(request, tx)
        row = await repository.invoice(tx.conn, account.customer_ids, tx.today(), number)
        if row is None or (account.part is not None and number not in account.part.invoices):
            raise _not_found("invoice")
        lines = await repository.invoice_lines(tx.conn, number)
    return dict(row), [dict(line) for line in lines]


# Before the invoice itself: its pattern would take ".../pdf" too.
@routes.get("/invoices/{number:.+}/pdf")
async def invoice_document(request: web.Request) -> web.Response:
    row, lines = await _invoice_with_lines(request)
    pdf = invoice_pdf.render_invoice_pdf(invoice_pdf.PdfInvoice.from_records(row, lines))
    filename = row["invoice_number"].replace("/", "-") + ".pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


@routes.get("/invoices/{number:.+}")
async def invoice(request: web.Request) -> web.Response:
    row, lines = await _invoice_with_lines(request)
    detail = InvoiceDetailOut.model_validate(
        {
            **row,
            "lines": [
                InvoiceLineOut.model_validate(
                    {
                        **line,
                        "quantity": str(line["quantity"]),
                        "unit_price": str(line["unit_price"]),
                        "vat_rate": str(line["vat_rate"].normalize()),
                    }
                )
                for line in lines
            ],
        }
    )
    return json_response(detail)


@routes.get("/balance")
async def balance(request: web.Request) -> web.Response:
    _query(request, CustomerSelector)
    async with request.app[DB].connection() as tx:
        today = tx.today()
        account = await _account(request, tx)
        if account.part is None:
            row = await repository.balance(tx.conn, account.customer_ids, today)
        else:
            row = await repository.partial_balance(tx.conn, account.part, today)
    return json_response(_balance_out(row, today))


Fetch = Callable[[Position | None], Awaitable[tuple[list[asyncpg.Record], bool]]]


async def _page(
    query: CursorQuery, model: type[M], key: tuple[str, str], fetch: Fetch
) -> web.Response:
    """The page of rows that `fetch(position)` finds from the query's cursor, as `model`s,
    with the cursors that continue it (a row's cursor holds its `key` columns)."""
    rows, next_cursor, prev_cursor = await read_page(
        fetch, query.KEYSET, lambda row: tuple(row[k] for k in key), query.position
    )
    return json_response(
        Page[model](  # type: ignore[valid-type]
            items=[model.model_validate(dict(r)) for r in rows],
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
        )
    )


async def _listing(
    request: web.Request,
    query_model: type[CursorQuery],
    fetch: Callable[..., Awaitable[tuple[list[asyncpg.Record], bool]]],
    fetch_part: Callable[..., Awaitable[tuple[list[asyncpg.Record], bool]]],
    model: type[M],
    key: tuple[str, str],
) -> web.Response:
    """A page of the account's rows from `fetch(conn, customer_ids, position, limit)`, or for a
    partial grant `fetch_part(conn, part, position, limit)`."""
    query = _query(request, query_model)
    async with request.app[DB].connection() as tx:
        account = await _account(request, tx)
        part = account.part
        return await _page(
            query,
            model,
            key,
            lambda position: (
                fetch(tx.conn, account.customer_ids, position, query.limit)
                if part is None
                else fetch_part(tx.conn, part, position, query.limit)
            ),
        )


@routes.get("/payments-received")
async def payments_received(request: web.Request) -> web.Response:
    return await _listing(
        request,
        PaymentQuery,
        repository.payments_page,
        repository.partial_payments_page,
        PaymentOut,
        ("booked_on", "booking_id"),
    )


@routes.get("/notes")
async def notes(request: web.Request) -> web.Response:
    return await _listing(
        request,
        NoteQuery,
        repository.notes_page,
        repository.partial_notes_page,
        NoteOut,
        ("issued_on", "note_number"),
    )
