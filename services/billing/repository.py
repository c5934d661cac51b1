"""Billing's SQL."""

from __future__ import annotations

import asyncpg

from shared.events import erp


async def upsert_customer(conn: asyncpg.Connection, c: erp.CustomerUpserted) -> None:
    await conn.execute(
        """INSERT INTO customers (customer_id, name, kind, tax_id, email, phone, address, language)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (customer_id) DO UPDATE SET
               name = EXCLUDED.name, kind = EXCLUDED.kind, tax_id = EXCLUDED.tax_id,
               email = EXCLUDED.email, phone = EXCLUDED.phone, address = EXCLUDED.address,
               language = EXCLUDED.language, updated_at = now()""",
        c.customer_id,
        c.name,
        c.kind,
        c.tax_id,
        c.email,
        c.phone,
        c.address.model_dump_json(),
        c.language,
    )


async def upsert_contract(conn: asyncpg.Connection, c: erp.ContractUpserted) -> None:
    await conn.execute(
        """INSERT INTO contracts (contract_number, customer_id, signed_on, status)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (contract_number) DO UPDATE SET
               customer_id = EXCLUDED.customer_id, signed_on = EXCLUDED.signed_on,
               status = EXCLUDED.status, updated_at = now()""",
        c.contract_number,
        c.customer_id,
        c.signed_on,
        c.status,
    )
    await conn.execute(
        "DELETE FROM service_points WHERE contract_number = $1 AND NOT service_point_id = ANY($2)",
        c.contract_number,
        [sp.service_point_id for sp in c.service_points],
    )
    await conn.executemany(
        """INSERT INTO service_points (service_point_id, contract_number, address, meter_number)
           VALUES ($1, $2, $3, $4)
           ON CONFLICT (service_point_id) DO UPDATE SET contract_number = EXCLUDED.contract_number,
               address = EXCLUDED.address, meter_number = EXCLUDED.meter_number""",
        [
            (sp.service_point_id, c.contract_number, sp.address.model_dump_json(), sp.meter_number)
            for sp in c.service_points
        ],
    )


async def upsert_invoice(conn: asyncpg.Connection, i: erp.InvoiceIssued) -> None:
    await conn.execute(
        """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on, due_on,
                                 period_from, period_to, net, vat, gross)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (invoice_number) DO UPDATE SET
               customer_id = EXCLUDED.customer_id, contract_number = EXCLUDED.contract_number,
               issued_on = EXCLUDED.issued_on, due_on = EXCLUDED.due_on,
               period_from = EXCLUDED.period_from, period_to = EXCLUDED.period_to,
               net = EXCLUDED.net, vat = EXCLUDED.vat, gross = EXCLUDED.gross""",
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
    await conn.execute("DELETE FROM invoice_lines WHERE invoice_number = $1", i.invoice_number)
    await conn.executemany(
        """INSERT INTO invoice_lines (invoice_number, position, description, quantity, unit,
                                      unit_price, net, vat_rate)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [
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
            for n, line in enumerate(i.lines, start=1)
        ],
    )
