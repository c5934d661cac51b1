"""Payments' SQL: the projections of billing's invoices, contracts and customers, the payments,
what the provider told us, and the reconciliation's list."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import asyncpg

from services.payments import domain
from services.payments.domain import Due
from shared.api.paging import Position
from shared.events import billing

NOTIFICATION_KEPT_BYTES = 16_384

# --- projections of billing's events -------------------------------------------------------


async def upsert_invoices(conn: asyncpg.Connection, invoices: list[billing.InvoiceIssued]) -> None:
    """The invoices, one statement for all (one row per invoice number: `consumer.latest`)."""
    await conn.execute(
        """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on, due_on,
                                 gross)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[],
                                $6::numeric[])
           ON CONFLICT (invoice_number) DO UPDATE SET
               customer_id = EXCLUDED.customer_id, contract_number = EXCLUDED.contract_number,
               issued_on = EXCLUDED.issued_on, due_on = EXCLUDED.due_on, gross = EXCLUDED.gross""",
        [i.invoice_number for i in invoices],
        [i.customer_id for i in invoices],
        [i.contract_number for i in invoices],
        [i.issued_on for i in invoices],
        [i.due_on for i in invoices],
        [i.gross for i in invoices],
    )


async def record_settlements(
    conn: asyncpg.Connection, settled: list[tuple[datetime, billing.InvoiceSettled]]
) -> None:
    """Billing's paid amounts (a fact older than the one kept changes nothing), and the shares
    of our payments billing now counts on each invoice (for good)."""
    newest: dict[str, tuple[datetime, billing.InvoiceSettled]] = {}
    for at, s in settled:  # one row per invoice in the statement: the newest fact of each
        if s.invoice_number not in newest or newest[s.invoice_number][0] <= at:
            newest[s.invoice_number] = (at, s)
    await conn.execute(
        """INSERT INTO invoice_paid (invoice_number, paid, as_of)
           SELECT * FROM unnest($1::text[], $2::numeric[], $3::timestamptz[])
           ON CONFLICT (invoice_number) DO UPDATE SET paid = EXCLUDED.paid, as_of = EXCLUDED.as_of
            WHERE invoice_paid.as_of <= EXCLUDED.as_of""",
        list(newest),
        [s.paid for _, s in newest.values()],
        [at for at, _ in newest.values()],
    )
    counted = sorted({(p, s.invoice_number) for _, s in settled for p in s.online_payment_ids})
    if counted:
        await conn.execute(
            """UPDATE payment_invoices AS pi SET counted_by_billing_at = now()
                 FROM unnest($1::uuid[], $2::text[]) AS c(payment_id, invoice_number)
                WHERE pi.payment_id = ANY($1::uuid[])
                  AND (pi.payment_id, pi.invoice_number) = (c.payment_id, c.invoice_number)
                  AND pi.counted_by_billing_at IS NULL""",
            [p for p, _ in counted],
            [n for _, n in counted],
        )


async def upsert_contract(conn: asyncpg.Connection, c: billing.ContractChanged) -> None:
    """The contract's service points as it lists them now."""
    points = [sp.service_point_id for sp in c.service_points]
    await conn.execute(
        "DELETE FROM service_points WHERE contract_number = $1 AND NOT service_point_id = ANY($2)",
        c.contract_number,
        points,
    )
    await conn.execute(
        """INSERT INTO service_points (service_point_id, contract_number, customer_id)
           SELECT unnest($1::text[]), $2, $3
           ON CONFLICT (service_point_id) DO UPDATE SET
               contract_number = EXCLUDED.contract_number, customer_id = EXCLUDED.customer_id""",
        points,
        c.contract_number,
        c.customer_id,
    )


async def upsert_customers(
    conn: asyncpg.Connection, customers: list[billing.CustomerChanged]
) -> None:
    """The customers, one statement for all (one row per customer: `consumer.latest`)."""
    await conn.execute(
        """INSERT INTO customers (customer_id, email, language)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
           ON CONFLICT (customer_id) DO UPDATE SET
               email = EXCLUDED.email, language = EXCLUDED.language""",
        [c.customer_id for c in customers],
        [c.email for c in customers],
        [c.language for c in customers],
    )


async def customer(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT email, language FROM customers WHERE customer_id = $1", customer_id
    )


# --- what can be paid ----------------------------------------------------------------------


async def granted_contracts(
    conn: asyncpg.Connection, customer_id: str, service_point_ids: list[str]
) -> list[str]:
    """The customer's contracts with at least one of these service points."""
    rows = await conn.fetch(
        """SELECT DISTINCT contract_number FROM service_points
            WHERE service_point_id = ANY($1::text[]) AND customer_id = $2""",
        service_point_ids,
        customer_id,
    )
    return [r["contract_number"] for r in rows]


async def due_invoices(
    conn: asyncpg.Connection,
    customer_id: str,
    numbers: list[str] | None,
    contracts: list[str] | None,
) -> list[Due]:
    """The customer's invoices (those `numbers` only, those of `contracts` only when given) with
    what is still due on them (domain.due: gross less what billing knows paid, less what
    payments collected that billing does not count yet)."""
    rows = await conn.fetch(
        """SELECT i.invoice_number, i.due_on, i.gross,
                  coalesce((SELECT ip.paid FROM invoice_paid ip
                             WHERE ip.invoice_number = i.invoice_number), 0) AS billing_paid,
                  coalesce((SELECT sum(pi.amount) FROM payment_invoices pi
                              JOIN payments p USING (payment_id)
                             WHERE pi.invoice_number = i.invoice_number
                               AND pi.counted_by_billing_at IS NULL
                               AND p.status = 'paid'), 0) AS not_counted
             FROM invoices i
            WHERE i.customer_id = $1
              AND ($2::text[] IS NULL OR i.invoice_number = ANY($2::text[]))
              AND ($3::text[] IS NULL OR i.contract_number = ANY($3::text[]))""",
        customer_id,
        numbers,
        contracts,
    )
    return [
        Due(
            r["invoice_number"],
            r["due_on"],
            domain.due(r["gross"], r["billing_paid"], r["not_counted"]),
        )
        for r in rows
    ]


# --- payments --------------------------------------------------------------------------------

PAYMENT_COLUMNS = """p.payment_id, p.customer_id, p.account_id, p.status, p.amount, p.currency,
       p.method, p.bank, p.provider, p.redirect_url, p.return_url, p.failure_reason,
       p.created_at, p.settled_at, p.request_hash,
       coalesce((SELECT json_agg(json_build_object('invoice_number', pi.invoice_number,
                                                   'amount', pi.amount)
                                 ORDER BY pi.invoice_number)
                   FROM payment_invoices pi WHERE pi.payment_id = p.payment_id),
                '[]') AS invoices"""


async def payment_by_key(
    conn: asyncpg.Connection, account_id: uuid.UUID, key: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments p WHERE account_id = $1 AND idempotency_key = $2",
        account_id,
        key,
    )


async def payment(conn: asyncpg.Connection, payment_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments p WHERE payment_id = $1", payment_id
    )


async def insert_payment(
    conn: asyncpg.Connection,
    *,
    payment_id: uuid.UUID,
    customer_id: str,
    account_id: uuid.UUID,
    key: str,
    request_hash: str,
    amount: Decimal,
    method: str,
    bank: str | None,
    return_url: str,
    provider: str,
    shares: list[tuple[str, Decimal]],
) -> bool:
    """A new payment in `created` with its invoices; False when the key was taken meanwhile."""
    inserted = await conn.fetchval(
        """INSERT INTO payments (payment_id, customer_id, account_id, idempotency_key,
                                 request_hash, amount, method, bank, return_url, provider, status)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'created')
           ON CONFLICT (account_id, idempotency_key) DO NOTHING
           RETURNING true""",
        payment_id,
        customer_id,
        account_id,
        key,
        request_hash,
        amount,
        method,
        bank,
        return_url,
        provider,
    )
    if not inserted:
        return False
    await conn.executemany(
        "INSERT INTO payment_invoices (payment_id, invoice_number, amount) VALUES ($1, $2, $3)",
        [(payment_id, number, share) for number, share in shares],
    )
    return True


async def mark_pending(
    conn: asyncpg.Connection, payment_id: uuid.UUID, provider: str, token: str, redirect_url: str
) -> None:
    await conn.execute(
        """UPDATE payments SET status = 'pending', redirect_url = $2, pending_since = now(),
                  updated_at = now()
            WHERE payment_id = $1 AND status = 'created'""",
        payment_id,
        redirect_url,
    )
    await conn.execute(
        """INSERT INTO provider_transactions (payment_id, provider, token, registered_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (payment_id) DO UPDATE SET token = EXCLUDED.token,
               registered_at = EXCLUDED.registered_at""",
        payment_id,
        provider,
        token,
    )


async def mark_final(
    conn: asyncpg.Connection, payment_id: uuid.UUID, status: str, reason: str | None
) -> bool:
    """An open payment failed, cancelled or expired; False when it was no longer open."""
    done = await conn.fetchval(
        """UPDATE payments SET status = $2, failure_reason = $3, settled_at = now(),
                  updated_at = now()
            WHERE payment_id = $1 AND status IN ('created', 'pending')
           RETURNING true""",
        payment_id,
        status,
        reason,
    )
    return bool(done)


async def lock_payment(conn: asyncpg.Connection, payment_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PAYMENT_COLUMNS} FROM payments p WHERE payment_id = $1 FOR UPDATE", payment_id
    )


async def mark_paid(
    conn: asyncpg.Connection,
    payment_id: uuid.UUID,
    provider: str,
    order_id: str,
    method_id: int | None,
    statement: str | None,
    amount: Decimal,
    currency: str,
) -> datetime:
    settled_at: datetime = await conn.fetchval(
        """UPDATE payments SET status = 'paid', failure_reason = NULL, settled_at = now(),
                  updated_at = now()
            WHERE payment_id = $1 RETURNING settled_at""",
        payment_id,
    )
    await conn.execute(
        """INSERT INTO provider_transactions (payment_id, provider, order_id, method_id,
                                              statement, amount, currency, verified_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now())
           ON CONFLICT (payment_id) DO UPDATE SET order_id = EXCLUDED.order_id,
               method_id = EXCLUDED.method_id, statement = EXCLUDED.statement,
               amount = EXCLUDED.amount, currency = EXCLUDED.currency,
               verified_at = EXCLUDED.verified_at""",
        payment_id,
        provider,
        order_id,
        method_id,
        statement,
        amount,
        currency,
    )
    return settled_at


async def record_notification(
    conn: asyncpg.Connection,
    provider: str,
    body: bytes,
    verdict: str,
    detail: str | None,
    payment_id: uuid.UUID | None,
    source_ip: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO provider_notifications (provider, body, verdict, detail, payment_id,
                                               source_ip)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        provider,
        # Kept as received, up to a bound: anyone may post to the notification route.
        body[:NOTIFICATION_KEPT_BYTES].decode("utf-8", "replace").replace("\x00", "\ufffd"),
        verdict,
        detail,
        payment_id,
        source_ip,
    )


async def names_contracts(
    conn: asyncpg.Connection, payment_id: uuid.UUID, contracts: list[str]
) -> bool:
    """The payment names an invoice of one of these contracts (a partial grant's part)."""
    found = await conn.fetchval(
        """SELECT 1 FROM payment_invoices pi JOIN invoices i USING (invoice_number)
            WHERE pi.payment_id = $1 AND i.contract_number = ANY($2::text[]) LIMIT 1""",
        payment_id,
        contracts,
    )
    return bool(found)


async def payments_page(
    conn: asyncpg.Connection,
    customer_id: str,
    contracts: list[str] | None,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """A page of the customer's payments by (created_at, payment_id), newest first; for a
    partial grant (`contracts`) those naming an invoice of those contracts."""
    newer = position is not None and position.newer
    direction, compare = ("ASC", ">") if newer else ("DESC", "<")
    after = f"AND (p.created_at, p.payment_id) {compare} ($4, $5::uuid)" if position else ""
    part = (
        """AND EXISTS (SELECT 1 FROM payment_invoices pi JOIN invoices i USING (invoice_number)
                        WHERE pi.payment_id = p.payment_id
                          AND i.contract_number = ANY($2::text[]))"""
        if contracts is not None
        else "AND $2::text[] IS NULL"
    )
    key = position.key if position is not None else ()
    rows = await conn.fetch(
        f"""SELECT {PAYMENT_COLUMNS} FROM payments p
             WHERE p.customer_id = $1 {part} {after}
             ORDER BY p.created_at {direction}, p.payment_id {direction} LIMIT $3""",
        customer_id,
        contracts,
        limit + 1,
        *key,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    return rows, more


async def open_payments(
    conn: asyncpg.Connection, older_than: datetime, cancelled_since: datetime, limit: int
) -> list[asyncpg.Record]:
    """Payments still created or pending since before `older_than`, and those the payer
    cancelled after `cancelled_since` (the provider may still have taken their money), the least
    recently asked about first."""
    return await conn.fetch(
        """SELECT payment_id, status, amount, coalesce(pending_since, created_at) AS since
             FROM payments
            WHERE (status IN ('created', 'pending')
                   OR (status = 'cancelled' AND settled_at > $3))
              AND coalesce(pending_since, created_at) < $1
              AND (checked_at IS NULL OR checked_at < $1)
            ORDER BY checked_at NULLS FIRST, created_at LIMIT $2""",
        older_than,
        limit,
        cancelled_since,
    )


async def mark_checked(conn: asyncpg.Connection, payment_id: uuid.UUID) -> None:
    await conn.execute("UPDATE payments SET checked_at = now() WHERE payment_id = $1", payment_id)


# --- the notification route's rate limit (per client address, fixed windows) ---------------


async def rate_limit_hit(conn: asyncpg.Connection, key: str, window_seconds: int) -> int:
    """Count one hit in the current fixed window of `key`; return the window's count."""
    return await conn.fetchval(
        """INSERT INTO rate_limits (key, window_start, hits)
           VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
           ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
           RETURNING hits""",
        key,
        float(window_seconds),
    )


async def delete_old_rate_limits(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'")
