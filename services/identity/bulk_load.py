"""Identity's part of the first load of a utility (docs/bulk-load.md): its projection of
billing's customers, service points and invoices, read from the same ERP export billing loads,
as its handlers (handlers.py, repository.py) would write them from billing's events.

    python -m services.identity.bulk_load <export-dir> [--restart] [--chunk-lines N]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import asyncpg

from shared.bulk.load import (
    Context,
    Counts,
    Options,
    Source,
    Staged,
    Summary,
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

SERVICE = "identity"

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_customers (
    customer_id text, name text, email text, language text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_contracts (contract_number text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_service_points (
    service_point_id text, customer_id text, contract_number text, address text)
    ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_invoices (
    invoice_number text, customer_id text, gross numeric, issued_on date) ON COMMIT DELETE ROWS;
-- what the anti-join looks up (joins go by index: shared/bulk/load.py)
CREATE INDEX IF NOT EXISTS stage_service_points_key
    ON stage_service_points (service_point_id, contract_number);
"""

CUSTOMER_COLUMNS = ("customer_id", "name", "email", "language")
SERVICE_POINT_COLUMNS = ("service_point_id", "customer_id", "contract_number", "address")
INVOICE_COLUMNS = ("invoice_number", "customer_id", "gross", "issued_on")


def customer_rows(batch: list[erp.CustomerUpserted]) -> Staged:
    rows = [(c.customer_id, c.name, c.email, c.language) for c in batch]
    return {"stage_customers": (CUSTOMER_COLUMNS, rows)}


async def apply_customers(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.upsert_customers (billing.CustomerChanged carries these fields of the feed)."""
    return {
        "customers": await upsert(
            conn,
            "customers",
            ("customer_id",),
            CUSTOMER_COLUMNS,
            "stage_customers",
            touch="updated_at = now()",
        )
    }


def contract_rows(batch: list[erp.ContractUpserted]) -> Staged:
    points: dict[str, tuple] = {}
    for c in batch:
        for sp in c.service_points:
            points.pop(sp.service_point_id, None)  # the later contract takes it
            points[sp.service_point_id] = (
                sp.service_point_id,
                c.customer_id,
                c.contract_number,
                sp.address.model_dump_json(),
            )
    return {
        "stage_contracts": (("contract_number",), [(c.contract_number,) for c in batch]),
        "stage_service_points": (SERVICE_POINT_COLUMNS, list(points.values())),
    }


async def apply_contracts(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.replace_contracts_service_points for a chunk: each contract's service points
    are exactly the ones it lists, with its customer."""
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
    return {"service_points": kept}


def invoice_rows(batch: list[erp.InvoiceIssued]) -> Staged:
    rows = [(i.invoice_number, i.customer_id, i.gross, i.issued_on) for i in batch]
    return {"stage_invoices": (INVOICE_COLUMNS, rows)}


async def apply_invoices(conn: asyncpg.Connection, _ctx: Context) -> Counts:
    """repository.upsert_invoices (billing.InvoiceIssued carries these fields of the feed)."""
    return {
        "invoices": await upsert(
            conn, "invoices", ("invoice_number",), INVOICE_COLUMNS, "stage_invoices"
        )
    }


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
        None,
    ),
    Source(
        "invoices.jsonl",
        erp.InvoiceIssued,
        lambda i: i.invoice_number,
        invoice_rows,
        apply_invoices,
        "invoices",
    ),
)
TABLES = ("customers", "service_points", "invoices")


async def load(settings: Settings, directory: Path, options: Options | None = None) -> Summary:
    """Load identity's projection from the export in `directory`, ANALYZE."""
    return await run_load(
        settings,
        SERVICE,
        directory,
        SOURCES,
        staging=STAGING,
        analyze=TABLES,
        options=options or Options(),
    )


async def _main(settings: Settings) -> tuple[int, str]:
    parser = argparse.ArgumentParser(description="Identity's first load from the ERP's export.")
    add_arguments(parser)
    args: Any = parser.parse_args()
    summary = await load(settings, args.directory, options_from(args, SERVICE))
    return render_summaries([summary], as_json=args.json)


if __name__ == "__main__":
    run_command(_main)
