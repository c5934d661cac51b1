"""Billing's part of the first load of a utility (docs/bulk-load.md): its tables from the ERP's
export, the rows its feed handlers (handlers.py, repository.py) would write for the same
messages, and then what every invoice has been paid (domain.allocate, as handlers.settle).

    python -m services.billing.bulk_load <export-dir> [--restart] [--chunk-lines N]
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from services.billing import domain
from shared.bulk.load import (
    Context,
    Counts,
    Finish,
    Options,
    Source,
    Staged,
    Summary,
    TableCounts,
    add_arguments,
    deleted,
    options_from,
    render_summaries,
    run_command,
    run_load,
    upsert,
)
from shared.events import erp
from shared.settings import Settings

SERVICE = "billing"
# Customers settled per transaction.
SETTLE_CUSTOMERS = 5_000

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_customers (
    customer_id text, name text, kind text, tax_id text, email text, phone text, address text,
    language text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_contracts (
    contract_number text, customer_id text, signed_on date, status text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_service_points (
    service_point_id text, contract_number text, address text, meter_number text)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_invoices (
    invoice_number text, customer_id text, contract_number text, issued_on date, due_on date,
    period_from date, period_to date, net numeric, vat numeric, gross numeric)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_invoice_lines (
    invoice_number text, position integer, description text, quantity numeric, unit text,
    unit_price numeric, net numeric, vat_rate numeric) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_payments (
    booking_id text, customer_id text, booked_on date, amount numeric, invoice_number text,
    channel text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_notes (
    note_number text, customer_id text, kind text, issued_on date, amount numeric,
    description text, invoice_number text) ON COMMIT DELETE ROWS;
-- what the anti-joins look up (joins go by index: shared/bulk/load.py)
CREATE INDEX IF NOT EXISTS stage_service_points_key
    ON stage_service_points (service_point_id, contract_number);
CREATE INDEX IF NOT EXISTS stage_invoice_lines_key
    ON stage_invoice_lines (invoice_number, position);
"""

CUSTOMER_COLUMNS = (
    "customer_id",
    "name",
    "kind",
    "tax_id",
    "email",
    "phone",
    "address",
    "language",
)
CONTRACT_COLUMNS = ("contract_number", "customer_id", "signed_on", "status")
SERVICE_POINT_COLUMNS = ("service_point_id", "contract_number", "address", "meter_number")
INVOICE_COLUMNS = (
    "invoice_number",
    "customer_id",
    "contract_number",
    "issued_on",
    "due_on",
    "period_from",
    "period_to",
    "net",
    "vat",
    "gross",
)
LINE_COLUMNS = (
    "invoice_number",
    "position",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "net",
    "vat_rate",
)
PAYMENT_COLUMNS = ("booking_id", "customer_id", "booked_on", "amount", "invoice_number", "channel")
NOTE_COLUMNS = (
    "note_number",
    "customer_id",
    "kind",
    "issued_on",
    "amount",
    "description",
    "invoice_number",
)


def customer_rows(batch: list[erp.CustomerUpserted]) -> Staged:
    rows = [
        (
            c.customer_id,
            c.name,
            c.kind,
            c.tax_id,
            c.email,
            c.phone,
            c.address.model_dump_json(),
            c.language,
        )
        for c in batch
    ]
    return {"stage_customers": (CUSTOMER_COLUMNS, rows)}


async def apply_customers(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.upsert_customers for a chunk (updated_at moves only when something changed)."""
    return {
        "customers": await upsert(
            conn,
            "customers",
            ("customer_id",),
            CUSTOMER_COLUMNS,
            "stage_customers",
            casts={"address": "jsonb"},
            touch="updated_at = now()",
        )
    }


def contract_rows(batch: list[erp.ContractUpserted]) -> Staged:
    # A service point listed by two contracts of the chunk goes to the later one, as the later
    # message would take it.
    points: dict[str, tuple] = {}
    for c in batch:
        for sp in c.service_points:
            points.pop(sp.service_point_id, None)
            points[sp.service_point_id] = (
                sp.service_point_id,
                c.contract_number,
                sp.address.model_dump_json(),
                sp.meter_number,
            )
    return {
        "stage_contracts": (
            CONTRACT_COLUMNS,
            [(c.contract_number, c.customer_id, c.signed_on, c.status) for c in batch],
        ),
        "stage_service_points": (SERVICE_POINT_COLUMNS, list(points.values())),
    }


async def apply_contracts(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.upsert_contracts for a chunk: the contract, its service points, and none of
    the service points it no longer lists."""
    contracts = await upsert(
        conn,
        "contracts",
        ("contract_number",),
        CONTRACT_COLUMNS,
        "stage_contracts",
        touch="updated_at = now()",
    )
    gone = deleted(
        await conn.execute(
            """DELETE FROM service_points sp USING stage_contracts s
                WHERE sp.contract_number = s.contract_number
                  AND NOT EXISTS (SELECT 1 FROM stage_service_points x
                                   WHERE x.service_point_id = sp.service_point_id
                                     AND x.contract_number = sp.contract_number)"""
        )
    )
    kept = await upsert(
        conn,
        "service_points",
        ("service_point_id",),
        SERVICE_POINT_COLUMNS,
        "stage_service_points",
        casts={"address": "jsonb"},
    )
    kept.deleted = gone.deleted
    return {"contracts": contracts, "service_points": kept}


def invoice_rows(batch: list[erp.InvoiceIssued]) -> Staged:
    invoices = [
        (
            i.invoice_number,
            i.customer_id,
            i.contract_number,
            i.issued_on,
            i.due_on,
            i.period_from,
            i.period_to,
            i.net,
            i.vat,
            i.gross,
        )
        for i in batch
    ]
    lines = [
        (
            i.invoice_number,
            n,
            line.description,
            line.quantity,
            line.unit,
            line.unit_price,
            line.net,
            line.vat_rate,
        )
        for i in batch
        for n, line in enumerate(i.lines, start=1)
    ]
    return {
        "stage_invoices": (INVOICE_COLUMNS, invoices),
        "stage_invoice_lines": (LINE_COLUMNS, lines),
    }


async def apply_invoices(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.upsert_invoices for a chunk: the invoice and exactly its lines, numbered from
    1 in their order. What it has been paid is the settlement's (below)."""
    invoices = await upsert(
        conn, "invoices", ("invoice_number",), INVOICE_COLUMNS, "stage_invoices"
    )
    gone = deleted(
        await conn.execute(
            """DELETE FROM invoice_lines l USING stage_invoices s
                WHERE l.invoice_number = s.invoice_number
                  AND NOT EXISTS (SELECT 1 FROM stage_invoice_lines x
                                   WHERE x.invoice_number = l.invoice_number
                                     AND x.position = l.position)"""
        )
    )
    lines = await upsert(
        conn,
        "invoice_lines",
        ("invoice_number", "position"),
        LINE_COLUMNS,
        "stage_invoice_lines",
    )
    lines.deleted = gone.deleted
    return {"invoices": invoices, "invoice_lines": lines}


def payment_rows(batch: list[erp.PaymentBooked]) -> Staged:
    rows = [
        (p.booking_id, p.customer_id, p.booked_on, p.amount, p.invoice_number, p.channel)
        for p in batch
    ]
    return {"stage_payments": (PAYMENT_COLUMNS, rows)}


async def apply_payments(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    return {
        "payments": await upsert(
            conn, "payments", ("booking_id",), PAYMENT_COLUMNS, "stage_payments"
        )
    }


def note_rows(batch: list[erp.NoteIssued]) -> Staged:
    rows = [
        (
            n.note_number,
            n.customer_id,
            n.kind,
            n.issued_on,
            n.amount,
            n.description,
            n.invoice_number,
        )
        for n in batch
    ]
    return {"stage_notes": (NOTE_COLUMNS, rows)}


async def apply_notes(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    return {"notes": await upsert(conn, "notes", ("note_number",), NOTE_COLUMNS, "stage_notes")}


async def settle(
    conn: asyncpg.Connection, after: str | None, _ctx: Context
) -> tuple[str | None, Counts]:
    """handlers.settle for the next SETTLE_CUSTOMERS customers with invoices after `after`:
    the same facts in the same order (repository.invoices_to_settle, repository.credits) through
    the same domain.allocate, written only where the paid amount differs."""
    last = await conn.fetchval(
        """SELECT max(customer_id) FROM (
               SELECT DISTINCT customer_id FROM invoices
                WHERE customer_id > coalesce($1, '') ORDER BY customer_id LIMIT $2) c""",
        after,
        SETTLE_CUSTOMERS,
    )
    if last is None:
        return None, {}
    low = after or ""
    invoices: dict[str, list[domain.InvoiceDue]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT customer_id, invoice_number, due_on, issued_on, gross FROM invoices
            WHERE customer_id > $1 AND customer_id <= $2""",
        low,
        last,
    ):
        invoices[r[0]].append(domain.InvoiceDue(r[1], r[2], r[3], r[4]))
    credits: dict[str, list[domain.Credit]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT customer_id, amount, invoice_number, booked_on AS on_day, booking_id AS ref
             FROM payments WHERE customer_id > $1 AND customer_id <= $2
           UNION ALL
           SELECT customer_id, amount, invoice_number, issued_on, note_number FROM notes
            WHERE customer_id > $1 AND customer_id <= $2 AND kind = 'credit'
           ORDER BY customer_id, on_day, ref""",
        low,
        last,
    ):
        credits[r[0]].append(domain.Credit(r[1], r[2]))
    numbers: list[str] = []
    amounts: list[Decimal] = []
    for customer_id, due in invoices.items():
        for number, paid in domain.allocate(due, credits.get(customer_id, ())).items():
            numbers.append(number)
            amounts.append(paid)
    status = await conn.execute(
        """UPDATE invoices AS i SET paid = p.paid
             FROM unnest($1::text[], $2::numeric[]) AS p(invoice_number, paid)
            WHERE i.invoice_number = p.invoice_number AND i.paid IS DISTINCT FROM p.paid""",
        numbers,
        amounts,
    )
    return last, {"invoices.paid": TableCounts(updated=int(status.split()[-1]))}


SOURCES = (
    Source(
        "customers.jsonl",
        erp.CustomerUpserted,
        lambda c: c.customer_id,
        customer_rows,
        apply_customers,
        "customers",
    ),
    Source(
        "contracts.jsonl",
        erp.ContractUpserted,
        lambda c: c.contract_number,
        contract_rows,
        apply_contracts,
        "contracts",
    ),
    Source(
        "invoices.jsonl",
        erp.InvoiceIssued,
        lambda i: i.invoice_number,
        invoice_rows,
        apply_invoices,
        "invoices",
    ),
    Source(
        "payments.jsonl",
        erp.PaymentBooked,
        lambda p: p.booking_id,
        payment_rows,
        apply_payments,
        "payments",
    ),
    Source("notes.jsonl", erp.NoteIssued, lambda n: n.note_number, note_rows, apply_notes, "notes"),
)
TABLES = (
    "customers",
    "contracts",
    "service_points",
    "invoices",
    "invoice_lines",
    "payments",
    "notes",
)


async def load(settings: Settings, directory: Path, options: Options | None = None) -> Summary:
    """Load billing's tables from the export in `directory`, settle, ANALYZE."""
    return await run_load(
        settings,
        SERVICE,
        directory,
        SOURCES,
        staging=STAGING,
        finish=(Finish("settlement", settle),),
        analyze=TABLES,
        options=options or Options(),
    )


async def _main(settings: Settings) -> tuple[int, str]:
    parser = argparse.ArgumentParser(description="Billing's first load from the ERP's export.")
    add_arguments(parser)
    args: Any = parser.parse_args()
    summary = await load(settings, args.directory, options_from(args, SERVICE))
    return render_summaries([summary], as_json=args.json)


if __name__ == "__main__":
    run_command(_main)
