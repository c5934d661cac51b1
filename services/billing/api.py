"""Billing's internal HTTP API: the customer's account views. Every query is limited to the
customer ids in the caller's verified access token; anything else is 404."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from services.billing import invoice_pdf, repository
from shared.api.billing import (
    BalanceOut,
    ContractOut,
    InvoiceDetailOut,
    InvoiceLineOut,
    InvoiceOut,
    InvoiceQuery,
    NoteOut,
    PaymentOut,
    SummaryOut,
    SummaryQuery,
)
from shared.api.common import Page, PageQuery
from shared.auth import Principal, TokenVerifier
from shared.http.problems import Problem, json_response, parse_query
from shared.runtime import POOL, SETTINGS

VERIFIER = web.AppKey("verifier", TokenVerifier)
_INVOICES = TypeAdapter(list[InvoiceOut])
M = TypeVar("M", bound=BaseModel)
_CONTRACTS = TypeAdapter(list[ContractOut])


def _customer_ids(request: web.Request) -> list[str]:
    principal: Principal = request.app[VERIFIER].authenticate(request)
    return list(principal.customer_ids)


def _not_found(what: str) -> Problem:
    return Problem(404, "Not found", f"No such {what} on your account", code="not-found")


def _contracts_out(rows: list) -> list[dict]:
    return [
        ContractOut.model_validate(
            {**dict(r), "service_points": json.loads(r["service_points"])}
        ).model_dump(mode="json")
        for r in rows
    ]


def _balance_out(row: object, today: date) -> BalanceOut:
    value = row["credits"] - row["charges"]  # type: ignore[index]
    return BalanceOut(
        balance=value,
        amount_due=max(-value, Decimal(0)),
        overpaid=max(value, Decimal(0)),
        overdue_amount=row["overdue"],
        charges=row["charges"],  # type: ignore[index]
        credits=row["credits"],
        open_invoices=row["open"],
        as_of=today,  # type: ignore[index]
    )


async def contracts(request: web.Request) -> web.Response:
    customer_ids = _customer_ids(request)
    async with request.app[POOL].acquire() as conn:
        rows = await repository.contracts(conn, customer_ids)
    return json_response({"items": _contracts_out(rows)})


async def summary(request: web.Request) -> web.Response:
    """Balance, the latest invoices and the contracts in one call (the dashboard's billing part)."""
    customer_ids = _customer_ids(request)
    query = parse_query(request, SummaryQuery)
    today = request.app[SETTINGS].today()
    async with request.app[POOL].acquire() as conn:
        row = await repository.summary(conn, customer_ids, today, query.invoices)
    return json_response(
        SummaryOut(
            balance=_balance_out(row, today),
            latest_invoices=_INVOICES.validate_json(row["latest_invoices"]),
            contracts=_CONTRACTS.validate_json(row["contracts"]),
        )
    )


async def invoices(request: web.Request) -> web.Response:
    customer_ids = _customer_ids(request)
    query = parse_query(request, InvoiceQuery)
    async with request.app[POOL].acquire() as conn:
        rows, total = await repository.invoices_page(
            conn,
            customer_ids,
            request.app[SETTINGS].today(),
            status=query.status,
            period_from=query.from_,
            period_to=query.to,
            limit=query.page_size,
            offset=query.offset,
        )
    page = Page[InvoiceOut](
        items=[InvoiceOut.model_validate(dict(r)) for r in rows],
        page=query.page,
        page_size=query.page_size,
        total=total,
    )
    return json_response(page)


async def _invoice_with_lines(request: web.Request) -> tuple[dict, list]:
    customer_ids = _customer_ids(request)
    number = request.match_info["number"]
    async with request.app[POOL].acquire() as conn:
        row = await repository.invoice(conn, customer_ids, request.app[SETTINGS].today(), number)
        if row is None:
            raise _not_found("invoice")
        lines = await repository.invoice_lines(conn, number)
    return dict(row), [dict(line) for line in lines]


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


async def invoice_document(request: web.Request) -> web.Response:
    row, lines = await _invoice_with_lines(request)
    address = json.loads(row["customer_address"]) if row["customer_address"] else None
    pdf = invoice_pdf.render_invoice_pdf(
        invoice_pdf.PdfInvoice(
            invoice_number=row["invoice_number"],
            issued_on=row["issued_on"],
            due_on=row["due_on"],
            period_from=row["period_from"],
            period_to=row["period_to"],
            customer_id=row["customer_id"],
            customer_name=row["customer_name"] or "",
            customer_address=_address_lines(address),
            contract_number=row["contract_number"],
            net=row["net"],
            vat=row["vat"],
            gross=row["gross"],
            paid=row["paid"],
            status=row["status"],
            lines=[invoice_pdf.PdfLine(**line) for line in lines],
        )
    )
    filename = row["invoice_number"].replace("/", "-") + ".pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def _address_lines(address: dict | None) -> list[str]:
    if not address:
        return []
    street = f"{address['street']} {address['building']}"
    if address.get("apartment"):
        street += f"/{address['apartment']}"
    return [street, f"{address['postal_code']} {address['city']}"]


async def balance(request: web.Request) -> web.Response:
    customer_ids = _customer_ids(request)
    today = request.app[SETTINGS].today()
    async with request.app[POOL].acquire() as conn:
        row = await repository.balance(conn, customer_ids, today)
    value = row["credits"] - row["charges"]
    return json_response(
        BalanceOut(
            balance=value,
            amount_due=max(-value, Decimal(0)),
            overpaid=max(value, Decimal(0)),
            overdue_amount=row["overdue"],
            charges=row["charges"],
            credits=row["credits"],
            open_invoices=row["open"],
            as_of=today,
        )
    )


async def _listing(
    request: web.Request, fetch: Callable[..., Awaitable[tuple[list, int]]], model: type[M]
) -> web.Response:
    """A page of the caller's rows from `fetch(conn, customer_ids, limit, offset)`."""
    customer_ids = _customer_ids(request)
    query = parse_query(request, PageQuery)
    async with request.app[POOL].acquire() as conn:
        rows, total = await fetch(conn, customer_ids, query.page_size, query.offset)
    return json_response(
        Page[model](  # type: ignore[valid-type]
            items=[model.model_validate(dict(r)) for r in rows],
            page=query.page,
            page_size=query.page_size,
            total=total,
        )
    )


async def payments_received(request: web.Request) -> web.Response:
    return await _listing(request, repository.payments_page, PaymentOut)


async def notes(request: web.Request) -> web.Response:
    return await _listing(request, repository.notes_page, NoteOut)
