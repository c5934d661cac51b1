"""Billing's SQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from services.billing import domain
from shared.api.paging import Position
from shared.events import erp
from shared.events.payments import PaymentCompleted

# --- the ERP feed: each statement stores every message of its type in a batch (handlers.py) ---
#
# The rows come as arrays (unnest), one element per fact, the last message of each key only
# (handlers.latest): an upsert may not touch a row twice. `before` reads the rows as they were
# before the statement (one snapshot for the whole statement), each by its key's index
# (LATERAL … OFFSET 0 keeps it a lookup per key whatever the plan).


async def upsert_customers(conn: asyncpg.Connection, cs: list[erp.CustomerUpserted]) -> None:
    await conn.execute(
        """INSERT INTO customers (customer_id, name, kind, tax_id, email, phone, address, language)
           SELECT c, n, k, t, e, p, a::jsonb, l
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $8::text[]) AS x(c, n, k, t, e, p, a, l)
           ON CONFLICT (customer_id) DO UPDATE SET
               name = EXCLUDED.name, kind = EXCLUDED.kind, tax_id = EXCLUDED.tax_id,
               email = EXCLUDED.email, phone = EXCLUDED.phone, address = EXCLUDED.address,
               language = EXCLUDED.language, updated_at = now()""",
        [c.customer_id for c in cs],
        [c.name for c in cs],
        [c.kind for c in cs],
        [c.tax_id for c in cs],
        [c.email for c in cs],
        [c.phone for c in cs],
        [c.address.model_dump_json() for c in cs],
        [c.language for c in cs],
    )


async def upsert_contracts(conn: asyncpg.Connection, cs: list[erp.ContractUpserted]) -> None:
    """The contracts and exactly the service points each lists now (a service point listed by
    two of them goes to the later, as the later message would take it)."""
    points = {sp.service_point_id: (sp, c.contract_number) for c in cs for sp in c.service_points}
    await conn.execute(
        """WITH contract AS (
               INSERT INTO contracts (contract_number, customer_id, signed_on, status)
               SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::text[])
               ON CONFLICT (contract_number) DO UPDATE SET
                   customer_id = EXCLUDED.customer_id, signed_on = EXCLUDED.signed_on,
                   status = EXCLUDED.status, updated_at = now()
               RETURNING 1),
           gone AS (
               DELETE FROM service_points WHERE service_point_id = ANY(ARRAY(
                   SELECT sp.service_point_id
                     FROM unnest($1::text[]) AS mine (contract_number),
                          LATERAL (SELECT service_point_id FROM service_points
                                    WHERE contract_number = mine.contract_number OFFSET 0) sp
                    WHERE NOT sp.service_point_id = ANY($5::text[]))))
           INSERT INTO service_points (service_point_id, contract_number, address, meter_number)
           SELECT s, c, a::jsonb, m FROM unnest($5::text[], $6::text[], $7::text[], $8::text[])
                  AS x(s, c, a, m)
           ON CONFLICT (service_point_id) DO UPDATE SET contract_number = EXCLUDED.contract_number,
               address = EXCLUDED.address, meter_number = EXCLUDED.meter_number""",
        [c.contract_number for c in cs],
        [c.customer_id for c in cs],
        [c.signed_on for c in cs],
        [c.status for c in cs],
        list(points),
        [contract for _, contract in points.values()],
        [sp.address.model_dump_json() for sp, _ in points.values()],
        [sp.meter_number for sp, _ in points.values()],
    )


async def upsert_invoices(
    conn: asyncpg.Connection, invoices: list[erp.InvoiceIssued]
) -> dict[str, str]:
    """The invoices and their lines; returns the customer each invoice that was stored before
    was issued to then. Lines are upserted by position and those past an invoice's new last one
    deleted (rows apart, so no row is changed twice); the lines' foreign key is checked at the
    end of the statement, after the invoices are in."""
    lines = [(i.invoice_number, n, line) for i in invoices for n, line in enumerate(i.lines, 1)]
    rows = await conn.fetch(
        """WITH before AS (
               SELECT i.invoice_number, i.customer_id
                 FROM unnest($1::text[]) AS mine (invoice_number),
                      LATERAL (SELECT invoice_number, customer_id FROM invoices
                                WHERE invoice_number = mine.invoice_number OFFSET 0) i),
           invoice AS (
               INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on,
                                     due_on, period_from, period_to, net, vat, gross)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[], $5::date[],
                                    $6::date[], $7::date[], $8::numeric[], $9::numeric[],
                                    $10::numeric[])
               ON CONFLICT (invoice_number) DO UPDATE SET
                   customer_id = EXCLUDED.customer_id, contract_number = EXCLUDED.contract_number,
                   issued_on = EXCLUDED.issued_on, due_on = EXCLUDED.due_on,
                   period_from = EXCLUDED.period_from, period_to = EXCLUDED.period_to,
                   net = EXCLUDED.net, vat = EXCLUDED.vat, gross = EXCLUDED.gross
               RETURNING 1),
           stale AS (
               DELETE FROM invoice_lines
                WHERE invoice_number = ANY($1::text[])
                  AND (invoice_number, position) IN (
                      SELECT l.invoice_number, l.position
                        FROM unnest($1::text[], $11::integer[]) AS kept (invoice_number, lines),
                             LATERAL (SELECT invoice_number, position FROM invoice_lines
                                       WHERE invoice_number = kept.invoice_number
                                         AND position > kept.lines OFFSET 0) l)),
           line AS (
               INSERT INTO invoice_lines (invoice_number, position, description, quantity, unit,
                                          unit_price, net, vat_rate)
               SELECT * FROM unnest($12::text[], $13::integer[], $14::text[], $15::numeric[],
                                    $16::text[], $17::numeric[], $18::numeric[], $19::numeric[])
               ON CONFLICT (invoice_number, position) DO UPDATE SET
                   description = EXCLUDED.description, quantity = EXCLUDED.quantity,
                   unit = EXCLUDED.unit, unit_price = EXCLUDED.unit_price, net = EXCLUDED.net,
                   vat_rate = EXCLUDED.vat_rate)
           SELECT invoice_number, customer_id FROM before""",
        [i.invoice_number for i in invoices],
        [i.customer_id for i in invoices],
        [i.contract_number for i in invoices],
        [i.issued_on for i in invoices],
        [i.due_on for i in invoices],
        [i.period_from for i in invoices],
        [i.period_to for i in invoices],
        [i.net for i in invoices],
        [i.vat for i in invoices],
        [i.gross for i in invoices],
        [len(i.lines) for i in invoices],
        [number for number, _, _ in lines],
        [n for _, n, _ in lines],
        [line.description for _, _, line in lines],
        [line.quantity for _, _, line in lines],
        [line.unit for _, _, line in lines],
        [line.unit_price for _, _, line in lines],
        [line.net for _, _, line in lines],
        [line.vat_rate for _, _, line in lines],
    )
    return {r["invoice_number"]: r["customer_id"] for r in rows}


async def upsert_payments(
    conn: asyncpg.Connection, payments: list[erp.PaymentBooked]
) -> dict[str, str]:
    """The payments; returns the customer each payment stored before was booked to then."""
    rows = await conn.fetch(
        """WITH before AS (
               SELECT p.booking_id, p.customer_id
                 FROM unnest($1::text[]) AS mine (booking_id),
                      LATERAL (SELECT booking_id, customer_id FROM payments
                                WHERE booking_id = mine.booking_id OFFSET 0) p),
           payment AS (
               INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number,
                                     channel, reference)
               SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::numeric[],
                                    $5::text[], $6::text[], $7::uuid[])
               ON CONFLICT (booking_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,
                   booked_on = EXCLUDED.booked_on, amount = EXCLUDED.amount,
                   invoice_number = EXCLUDED.invoice_number, channel = EXCLUDED.channel,
                   reference = EXCLUDED.reference
               RETURNING 1)
           SELECT booking_id, customer_id FROM before""",
        [p.booking_id for p in payments],
        [p.customer_id for p in payments],
        [p.booked_on for p in payments],
        [p.amount for p in payments],
        [p.invoice_number for p in payments],
        [p.channel for p in payments],
        [p.reference for p in payments],
    )
    return {r["booking_id"]: r["customer_id"] for r in rows}


async def upsert_notes(
    conn: asyncpg.Connection, notes: list[erp.NoteIssued]
) -> dict[str, asyncpg.Record]:
    """The notes; returns what each note stored before was (customer_id, kind)."""
    rows = await conn.fetch(
        """WITH before AS (
               SELECT n.note_number, n.customer_id, n.kind
                 FROM unnest($1::text[]) AS mine (note_number),
                      LATERAL (SELECT note_number, customer_id, kind FROM notes
                                WHERE note_number = mine.note_number OFFSET 0) n),
           note AS (
               INSERT INTO notes (note_number, customer_id, kind, issued_on, amount,
                                  description, invoice_number)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::date[],
                                    $5::numeric[], $6::text[], $7::text[])
               ON CONFLICT (note_number) DO UPDATE SET customer_id = EXCLUDED.customer_id,
                   kind = EXCLUDED.kind, issued_on = EXCLUDED.issued_on,
                   amount = EXCLUDED.amount, description = EXCLUDED.description,
                   invoice_number = EXCLUDED.invoice_number
               RETURNING 1)
           SELECT note_number, customer_id, kind FROM before""",
        [n.note_number for n in notes],
        [n.customer_id for n in notes],
        [n.kind for n in notes],
        [n.issued_on for n in notes],
        [n.amount for n in notes],
        [n.description for n in notes],
        [n.invoice_number for n in notes],
    )
    return {r["note_number"]: r for r in rows}


# --- online payments (payments.payment.completed) and the ERP's bookings of them -------------
#
# A completed payment stands in `payments` as entries awaiting booking until the ERP books the
# same money (a booking whose `reference` is the payment id), which replaces them. Both sides
# take the payment's lock first (lock_online_payments), so whichever commits second sees the
# other: the money counts once whatever order they arrive in.


async def lock_online_payments(conn: asyncpg.Connection, payment_ids: list[str]) -> None:
    """One transaction at a time about each online payment, locks taken in one order (a key
    space of their own: the two-key advisory locks, class 11)."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(11, k)
             FROM (SELECT DISTINCT hashtext(r) AS k FROM unnest($1::text[]) AS r ORDER BY k)
                  AS keys""",
        payment_ids,
    )


async def add_online_payments(
    conn: asyncpg.Connection,
    payments: list[PaymentCompleted],
    shares: dict[uuid.UUID, list[domain.PendingShare]],
    timezone: str,
) -> set[uuid.UUID]:
    """Keep the payments not kept before and, for those of them the ERP has not booked yet,
    their entries awaiting booking (booked on the utility's day of completion); returns the
    payments that were new."""
    zone = ZoneInfo(timezone)
    entries = [(p, share) for p in payments for share in shares[p.payment_id]]
    rows = await conn.fetch(
        """WITH new AS (
               INSERT INTO online_payments (payment_id, customer_id, amount, invoices, method,
                                            provider, provider_transaction_id,
                                            paid_by_account_id, completed_at)
               SELECT * FROM unnest($1::uuid[], $2::text[], $3::numeric[], $4::jsonb[],
                                    $5::text[], $6::text[], $7::text[], $8::uuid[],
                                    $9::timestamptz[])
               ON CONFLICT (payment_id) DO NOTHING
               RETURNING payment_id),
           entry AS (
               INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number,
                                     channel, reference, awaiting_booking)
               SELECT e.booking_id, e.customer_id, e.booked_on, e.amount, e.invoice_number,
                      e.channel, e.reference, true
                 FROM unnest($10::text[], $11::text[], $12::date[], $13::numeric[], $14::text[],
                             $15::text[], $16::uuid[])
                      AS e(booking_id, customer_id, booked_on, amount, invoice_number, channel,
                           reference)
                WHERE e.reference IN (SELECT payment_id FROM new)
                  -- OFFSET 0: a lookup by reference per entry, never an anti-join that
                  -- reads every payment
                  AND NOT EXISTS (SELECT 1 FROM payments b
                                   WHERE b.reference = e.reference AND NOT b.awaiting_booking
                                  OFFSET 0)
               ON CONFLICT (booking_id) DO NOTHING)
           SELECT payment_id FROM new""",
        [p.payment_id for p in payments],
        [p.customer_id for p in payments],
        [p.amount for p in payments],
        [json.dumps([i.model_dump(mode="json") for i in p.invoices]) for p in payments],
        [p.method for p in payments],
        [p.provider for p in payments],
        [p.provider_transaction_id for p in payments],
        [p.paid_by_account_id for p in payments],
        [p.completed_at for p in payments],
        [s.entry_id for _, s in entries],
        [p.customer_id for p, _ in entries],
        [p.completed_at.astimezone(zone).date() for p, _ in entries],
        [s.amount for _, s in entries],
        [s.invoice_number for _, s in entries],
        [p.method for p, _ in entries],
        [p.payment_id for p, _ in entries],
    )
    return {r["payment_id"] for r in rows}


async def drop_awaiting_booking(conn: asyncpg.Connection, payment_ids: list[str]) -> list[str]:
    """Remove the entries awaiting booking of these payments (the ERP has booked them); returns
    the customers whose entries were removed."""
    rows = await conn.fetch(
        """DELETE FROM payments WHERE booking_id = ANY(ARRAY(
               SELECT p.booking_id
                 FROM unnest($1::uuid[]) AS mine (reference),
                      LATERAL (SELECT booking_id FROM payments
                                WHERE reference = mine.reference AND awaiting_booking
                               OFFSET 0) p))
           RETURNING customer_id""",
        payment_ids,
    )
    return sorted({r["customer_id"] for r in rows})


# --- settlement (handlers.settle) -----------------------------------------------------------


async def lock_settlements(conn: asyncpg.Connection, customer_ids: list[str]) -> None:
    """One settlement of a customer at a time, whichever transaction settles it. The locks are
    taken in one order (by key) in every transaction, so two of them cannot deadlock."""
    await conn.execute(
        """SELECT pg_advisory_xact_lock(k)
             FROM (SELECT DISTINCT hashtext('settle:' || c) AS k
                     FROM unnest($1::text[]) AS c ORDER BY k) AS keys""",
        customer_ids,
    )


# Rows of the given customers only, each looked up by its index (LATERAL … OFFSET 0: a generic
# plan for `customer_id = ANY($1)` may expect many customers and scan the whole table).
async def invoices_to_settle(
    conn: asyncpg.Connection, customer_ids: list[str]
) -> dict[str, list[domain.InvoiceDue]]:
    due: dict[str, list[domain.InvoiceDue]] = {c: [] for c in customer_ids}
    for r in await conn.fetch(
        """SELECT i.customer_id, i.invoice_number, i.due_on, i.issued_on, i.gross
             FROM unnest($1::text[]) AS mine (customer_id),
                  LATERAL (SELECT * FROM invoices WHERE customer_id = mine.customer_id
                           OFFSET 0) AS i""",
        customer_ids,
    ):
        due[r["customer_id"]].append(
            domain.InvoiceDue(r["invoice_number"], r["due_on"], r["issued_on"], r["gross"])
        )
    return due


async def credits(
    conn: asyncpg.Connection, customer_ids: list[str]
) -> dict[str, list[domain.Credit]]:
    """Each customer's payments and credit notes, in the order they were booked."""
    found: dict[str, list[domain.Credit]] = {c: [] for c in customer_ids}
    for r in await conn.fetch(
        """SELECT mine.customer_id, x.amount, x.invoice_number
             FROM unnest($1::text[]) AS mine (customer_id),
                  LATERAL (SELECT amount, invoice_number, booked_on AS on_day, booking_id AS ref
                             FROM payments WHERE customer_id = mine.customer_id
                           UNION ALL
                           SELECT amount, invoice_number, issued_on, note_number FROM notes
                            WHERE customer_id = mine.customer_id AND kind = 'credit'
                           ORDER BY on_day, ref) AS x""",
        customer_ids,
    ):
        found[r["customer_id"]].append(domain.Credit(r["amount"], r["invoice_number"]))
    return found


async def set_paid(conn: asyncpg.Connection, paid: dict[str, Decimal]) -> list[asyncpg.Record]:
    """Write what each invoice has been paid where it changed; returns those invoices
    (invoice_number, customer_id, paid, gross) with the online payments whose money stands on
    each now (the references of the payments naming it, by its index)."""
    # `= ANY($1)`: the invoices by their key, whatever the plan (a join with the unnest alone
    # planned on a small table stays a hash join over every invoice).
    return await conn.fetch(
        """UPDATE invoices AS i SET paid = p.paid
             FROM unnest($1::text[], $2::numeric[]) AS p(invoice_number, paid)
            WHERE i.invoice_number = ANY($1::text[]) AND i.invoice_number = p.invoice_number
              AND i.paid IS DISTINCT FROM p.paid
        RETURNING i.invoice_number, i.customer_id, i.paid, i.gross,
                  -- At most the event's bound: any beyond it only make payments offer less.
                  ARRAY(SELECT DISTINCT r.reference FROM payments r
                         WHERE r.invoice_number = i.invoice_number
                           AND r.reference IS NOT NULL
                         ORDER BY r.reference LIMIT 1000) AS online_payment_ids""",
        list(paid),
        list(paid.values()),
    )


# --- reads for the customer's account (always restricted to the caller's customer ids) ------

STATUS_SQL = """CASE WHEN i.paid >= i.gross THEN 'paid'
                     WHEN i.due_on < $2::date THEN 'overdue'
                     WHEN i.paid > 0 THEN 'partly_paid'
                     ELSE 'unpaid' END"""

# Whether some of what the invoice has been paid is an online payment the ERP has not booked yet:
# one lookup of a small partial index per invoice shown (OFFSET 0: never the hashed alternative,
# which reads every payment awaiting booking).
AWAITING_BOOKING_SQL = """EXISTS (SELECT 1 FROM payments ab
                                 WHERE ab.invoice_number = i.invoice_number
                                   AND ab.awaiting_booking OFFSET 0)"""

INVOICE_COLUMNS = f"""i.invoice_number, i.customer_id, i.contract_number, i.issued_on, i.due_on,
    i.period_from, i.period_to, i.net, i.vat, i.gross, i.paid,
    greatest(i.gross - i.paid, 0) AS amount_due, {STATUS_SQL} AS status,
    {AWAITING_BOOKING_SQL} AS payment_awaiting_booking"""


# The same columns for JSON built by PostgreSQL: amounts as text, so that no amount passes
# through a binary float on its way to a Decimal.
INVOICE_JSON_COLUMNS = f"""i.invoice_number, i.contract_number, i.issued_on, i.due_on,
    i.period_from, i.period_to, i.net::text AS net, i.vat::text AS vat, i.gross::text AS gross,
    i.paid::text AS paid, greatest(i.gross - i.paid, 0)::text AS amount_due,
    {STATUS_SQL} AS status, {AWAITING_BOOKING_SQL} AS payment_awaiting_booking"""


# A customer's contracts with their service points, as JSON objects ($1 customer ids). The
# contracts are joined to the caller's customer ids and the service points looked up per
# contract, each by its index: generic plans for `= ANY($1)` expect many customers and scanned
# the whole contracts and service_points tables.
CONTRACTS_JSON = """SELECT c.contract_number, c.customer_id, c.signed_on, c.status,
                  coalesce((SELECT json_agg(json_build_object(
                                'service_point_id', sp.service_point_id,
                                'address', sp.address,
                                'meter_number', sp.meter_number) ORDER BY sp.service_point_id)
                              FROM service_points sp
                             WHERE sp.contract_number = c.contract_number), '[]')
                      AS service_points
             FROM unnest($1::text[]) AS mine (customer_id),
                  -- OFFSET 0 keeps the subquery a lookup per customer id (by its index)
                  LATERAL (SELECT * FROM contracts WHERE customer_id = mine.customer_id
                           OFFSET 0) c"""


async def contracts(conn: asyncpg.Connection, customer_ids: list[str]) -> str:
    """The contracts as one JSON array, oldest first."""
    return await conn.fetchval(
        f"""SELECT coalesce(json_agg(c ORDER BY signed_on, contract_number), '[]')
              FROM ({CONTRACTS_JSON}) c""",
        customer_ids,
    )


def _keyset_sql(
    table: str,
    columns: str,
    key: tuple[str, str],
    where: str,
    position: Position | None,
    n: int,
    *,
    by: str = "customer_id",
) -> str:
    """A page of the customers' rows of `table` ("name alias", the alias that `columns` and
    `where` use) in the order of `key`: newest first, or for a `newer` position the oldest of
    the rows newer than it first. $1 the customer ids, $n how many rows, $n+1 and $n+2 the
    position's key. Each customer id is one range scan of the index (customer_id, key) that
    stops after $n rows, whichever page it is; the rows of several customer ids merge. `by`:
    the column $1 holds values of instead (a partial grant's contracts or invoices, each read by
    the index (`by`, key))."""
    direction, compare = ("ASC", ">") if position is not None and position.newer else ("DESC", "<")
    t = table.split()[1]
    first, second = f"{t}.{key[0]}", f"{t}.{key[1]}"
    after = f"AND ({first}, {second}) {compare} (${n + 1}, ${n + 2})" if position else ""
    return f"""SELECT page.* FROM unnest($1::text[]) AS mine (key),
               LATERAL (SELECT {columns} FROM {table}
                         WHERE {t}.{by} = mine.key {where} {after}
                         ORDER BY {first} {direction}, {second} {direction} LIMIT ${n}) page
              ORDER BY page.{key[0]} {direction}, page.{key[1]} {direction} LIMIT ${n}"""


async def _keyset_rows(
    conn: asyncpg.Connection,
    sql: str,
    args: tuple,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """At most `limit` rows newest first, and whether there are more beyond them in the way the
    page goes (one more row is read to know)."""
    key = position.key if position is not None else ()
    rows = await conn.fetch(sql, *args, limit + 1, *key)
    more = len(rows) > limit
    rows = rows[:limit]
    if position is not None and position.newer:
        rows.reverse()
    return rows, more


def _invoice_filters(
    args: list[object], status: str | None, period_from: date | None, period_to: date | None
) -> str:
    """The invoice list's filters that are given, as `AND …` clauses over `i`, their values
    appended to `args` (numbered after what is there)."""
    where = ""
    for value, clause in (
        (status, f"{STATUS_SQL} = $"),
        (period_from, "i.period_to >= $"),
        (period_to, "i.period_from <= $"),
    ):
        if value is not None:
            args.append(value)
            where += f" AND {clause}{len(args)}"
    return where


async def invoices_page(
    conn: asyncpg.Connection,
    customer_ids: list[str],
    today: date,
    *,
    status: str | None,
    period_from: date | None,
    period_to: date | None,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """A page of invoices by (issued_on, invoice_number), newest first; see _keyset_rows.

    Only the filters given are in the statement: under a generic plan `($3 IS NULL OR …)`
    looks selective, and the planner would rather sort all the customer's invoices than read
    them in the index's order. Without filters a page reads a page of rows; with them, at most
    the customer's invoices past the cursor."""
    args: list[object] = [customer_ids, today]
    where = _invoice_filters(args, status, period_from, period_to)
    sql = _keyset_sql(
        "invoices i",
        INVOICE_COLUMNS,
        ("issued_on", "invoice_number"),
        where,
        position,
        len(args) + 1,
    )
    return await _keyset_rows(conn, sql, tuple(args), position, limit)


async def invoice(
    conn: asyncpg.Connection, customer_ids: list[str], today: date, invoice_number: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {INVOICE_COLUMNS}, c.name AS customer_name, c.address AS customer_address
              FROM invoices i LEFT JOIN customers c USING (customer_id)
             WHERE i.customer_id = ANY($1::text[]) AND i.invoice_number = $3""",
        customer_ids,
        today,
        invoice_number,
    )


async def invoice_lines(conn: asyncpg.Connection, invoice_number: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT description, quantity, unit, unit_price, net, vat_rate FROM invoice_lines
            WHERE invoice_number = $1 ORDER BY position""",
        invoice_number,
    )


# A customer's charges and credits ($1 customer ids, $2 today): the CTEs inv, pay and nts, and the
# figures drawn from them.
BALANCE_PARTS = """inv AS (
               SELECT coalesce(sum(gross), 0) AS gross,
                      coalesce(sum(greatest(gross - paid, 0)) FILTER (WHERE due_on < $2), 0)
                          AS overdue,
                      count(*) FILTER (WHERE paid < gross) AS open
                 FROM invoices WHERE customer_id = ANY($1::text[])),
           pay AS (SELECT coalesce(sum(amount), 0) AS total FROM payments
                    WHERE customer_id = ANY($1::text[])),
           nts AS (SELECT coalesce(sum(amount) FILTER (WHERE kind <> 'credit'), 0) AS charges,
                          coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0) AS credits
                     FROM notes WHERE customer_id = ANY($1::text[]))"""
BALANCE_FIGURES = """inv.gross + nts.charges AS charges, pay.total + nts.credits AS credits,
    inv.overdue, inv.open"""
# The dashboard's summary from its parts (inv, pay, nts, latest, agreements): the customer's
# and a partial grant's build the parts differently and answer the same row.
SUMMARY_SELECT = f"""SELECT {BALANCE_FIGURES},
                  (SELECT coalesce(json_agg(latest ORDER BY issued_on DESC, invoice_number DESC),
                                   '[]') FROM latest) AS latest_invoices,
                  (SELECT coalesce(json_agg(agreements ORDER BY signed_on, contract_number),
                                   '[]') FROM agreements) AS contracts
             FROM inv, pay, nts"""


async def balance(conn: asyncpg.Connection, customer_ids: list[str], today: date) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""WITH {BALANCE_PARTS}
           SELECT {BALANCE_FIGURES} FROM inv, pay, nts""",
        customer_ids,
        today,
    )


PAYMENT_COLUMNS = """p.booking_id, p.booked_on, p.amount, p.invoice_number, p.channel,
    p.reference, CASE WHEN p.awaiting_booking THEN 'awaiting_booking' ELSE 'booked' END
    AS status"""


async def payments_page(
    conn: asyncpg.Connection, customer_ids: list[str], position: Position | None, limit: int
) -> tuple[list[asyncpg.Record], bool]:
    """A page of payments by (booked_on, booking_id), newest first; see _keyset_rows."""
    sql = _keyset_sql(
        "payments p",
        PAYMENT_COLUMNS,
        ("booked_on", "booking_id"),
        "",
        position,
        2,
    )
    return await _keyset_rows(conn, sql, (customer_ids,), position, limit)


async def notes_page(
    conn: asyncpg.Connection, customer_ids: list[str], position: Position | None, limit: int
) -> tuple[list[asyncpg.Record], bool]:
    """A page of notes by (issued_on, note_number), newest first; see _keyset_rows."""
    sql = _keyset_sql(
        "notes n",
        "n.note_number, n.kind, n.issued_on, n.amount, n.description, n.invoice_number",
        ("issued_on", "note_number"),
        "",
        position,
        2,
    )
    return await _keyset_rows(conn, sql, (customer_ids,), position, limit)


# $1 customer ids, $2 today, $3 how many latest invoices.
SUMMARY_SQL = f"""WITH {BALANCE_PARTS},
           latest AS (SELECT {INVOICE_JSON_COLUMNS} FROM invoices i
                       WHERE i.customer_id = ANY($1::text[])
                       ORDER BY i.issued_on DESC, i.invoice_number DESC LIMIT $3),
           agreements AS ({CONTRACTS_JSON})
           {SUMMARY_SELECT}"""


async def summary(
    conn: asyncpg.Connection, customer_ids: list[str], today: date, invoices: int
) -> asyncpg.Record:
    """The dashboard's billing part in one round trip: balance figures, the latest invoices and
    the contracts (the last two as JSON arrays)."""
    return await conn.fetchrow(SUMMARY_SQL, customer_ids, today, invoices)


# --- a manager's partial grant: the granted service points' part of a customer's account ----
#
# A partial grant covers some of a customer's service points: the contracts with at least one of
# them, those contracts' invoices, and the payments and notes that name those invoices (decision
# 58). Each is looked up by its key or by the index of what it belongs to (LATERAL … OFFSET 0),
# never by reading the customer's other rows.


@dataclass(frozen=True)
class GrantedPart:
    customer_ids: list[str]  # the one customer, as the customer-wide statements take it
    service_point_ids: list[str]
    contracts: list[str]
    invoices: list[str]


async def granted_part(
    conn: asyncpg.Connection, customer_id: str, service_point_ids: list[str]
) -> GrantedPart:
    """The customer's contracts with at least one of the service points, and their invoices."""
    rows = await conn.fetch(
        """WITH granted AS (
               SELECT DISTINCT c.contract_number
                 FROM unnest($2::text[]) AS mine (service_point_id),
                      LATERAL (SELECT contract_number FROM service_points
                                WHERE service_point_id = mine.service_point_id OFFSET 0) sp,
                      LATERAL (SELECT contract_number FROM contracts
                                WHERE contract_number = sp.contract_number
                                  AND customer_id = $1 OFFSET 0) c)
           SELECT g.contract_number, i.invoice_number
             FROM granted g
             LEFT JOIN LATERAL (SELECT invoice_number FROM invoices
                                 WHERE contract_number = g.contract_number
                                   AND customer_id = $1 OFFSET 0) i ON true""",
        customer_id,
        service_point_ids,
    )
    contracts = sorted({r["contract_number"] for r in rows})
    invoices = sorted({r["invoice_number"] for r in rows if r["invoice_number"] is not None})
    return GrantedPart([customer_id], list(service_point_ids), contracts, invoices)


# The granted contracts with only their granted service points ($1 customer ids and the
# contracts' and service points' parameters as named).
PARTIAL_CONTRACTS_JSON = """SELECT c.contract_number, c.customer_id, c.signed_on, c.status,
                  coalesce((SELECT json_agg(json_build_object(
                                'service_point_id', sp.service_point_id,
                                'address', sp.address,
                                'meter_number', sp.meter_number) ORDER BY sp.service_point_id)
                              FROM service_points sp
                             WHERE sp.contract_number = c.contract_number
                               AND sp.service_point_id = ANY({points}::text[])), '[]')
                      AS service_points
             FROM unnest({contracts}::text[]) AS mine (contract_number),
                  LATERAL (SELECT * FROM contracts WHERE contract_number = mine.contract_number
                              AND customer_id = ANY($1::text[]) OFFSET 0) c"""


async def partial_contracts(conn: asyncpg.Connection, part: GrantedPart) -> str:
    """The granted contracts as one JSON array, oldest first."""
    inner = PARTIAL_CONTRACTS_JSON.format(contracts="$2", points="$3")
    return await conn.fetchval(
        f"""SELECT coalesce(json_agg(c ORDER BY signed_on, contract_number), '[]')
              FROM ({inner}) c""",
        part.customer_ids,
        part.contracts,
        part.service_point_ids,
    )


# The granted invoices ($4), the payments and notes that name them, and the figures drawn from
# them, as BALANCE_PARTS does for the whole customer ($1 customer ids, $2 today).
PARTIAL_BALANCE_PARTS = """inv AS (
               SELECT coalesce(sum(i.gross), 0) AS gross,
                      coalesce(sum(greatest(i.gross - i.paid, 0)) FILTER (WHERE i.due_on < $2),
                               0) AS overdue,
                      count(*) FILTER (WHERE i.paid < i.gross) AS open
                 FROM unnest($4::text[]) AS mine (invoice_number),
                      LATERAL (SELECT gross, paid, due_on FROM invoices
                                WHERE invoice_number = mine.invoice_number
                                  AND customer_id = ANY($1::text[]) OFFSET 0) i),
           pay AS (SELECT coalesce(sum(p.amount), 0) AS total
                     FROM unnest($4::text[]) AS mine (invoice_number),
                          LATERAL (SELECT amount FROM payments
                                    WHERE invoice_number = mine.invoice_number
                                      AND customer_id = ANY($1::text[]) OFFSET 0) p),
           nts AS (SELECT coalesce(sum(n.amount) FILTER (WHERE n.kind <> 'credit'), 0) AS charges,
                          coalesce(sum(n.amount) FILTER (WHERE n.kind = 'credit'), 0) AS credits
                     FROM unnest($4::text[]) AS mine (invoice_number),
                          LATERAL (SELECT amount, kind FROM notes
                                    WHERE invoice_number = mine.invoice_number
                                      AND customer_id = ANY($1::text[]) OFFSET 0) n)"""


async def partial_balance(
    conn: asyncpg.Connection, part: GrantedPart, today: date
) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""WITH {PARTIAL_BALANCE_PARTS.replace("$4", "$3")}
           SELECT {BALANCE_FIGURES} FROM inv, pay, nts""",
        part.customer_ids,
        today,
        part.invoices,
    )


# $1 customer ids, $2 today, $3 how many latest invoices, $4 the granted invoices, $5 the granted
# contracts, $6 the granted service points (POINTS_SUMMARY_SQL finds $4 and $5 itself).
PARTIAL_SUMMARY_SQL = f"""WITH {PARTIAL_BALANCE_PARTS},
           latest AS (SELECT {INVOICE_JSON_COLUMNS}
                        FROM unnest($4::text[]) AS mine (invoice_number),
                             LATERAL (SELECT * FROM invoices
                                       WHERE invoice_number = mine.invoice_number
                                         AND customer_id = ANY($1::text[]) OFFSET 0) i
                       ORDER BY i.issued_on DESC, i.invoice_number DESC LIMIT $3),
           agreements AS ({PARTIAL_CONTRACTS_JSON.format(contracts="$5", points="$6")})
           {SUMMARY_SELECT}"""


async def partial_invoices_page(
    conn: asyncpg.Connection,
    part: GrantedPart,
    today: date,
    *,
    status: str | None,
    period_from: date | None,
    period_to: date | None,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """invoices_page of the granted contracts: one range scan per contract of the index
    (contract_number, issued_on, invoice_number), merged."""
    args: list[object] = [part.contracts, today, part.customer_ids]
    where = " AND i.customer_id = ANY($3::text[])" + _invoice_filters(
        args, status, period_from, period_to
    )
    sql = _keyset_sql(
        "invoices i",
        INVOICE_COLUMNS,
        ("issued_on", "invoice_number"),
        where,
        position,
        len(args) + 1,
        by="contract_number",
    )
    return await _keyset_rows(conn, sql, tuple(args), position, limit)


async def partial_payments_page(
    conn: asyncpg.Connection, part: GrantedPart, position: Position | None, limit: int
) -> tuple[list[asyncpg.Record], bool]:
    """payments_page of the payments that name a granted invoice."""
    sql = _keyset_sql(
        "payments p",
        PAYMENT_COLUMNS,
        ("booked_on", "booking_id"),
        " AND p.customer_id = ANY($2::text[])",
        position,
        3,
        by="invoice_number",
    )
    return await _keyset_rows(conn, sql, (part.invoices, part.customer_ids), position, limit)


async def partial_notes_page(
    conn: asyncpg.Connection, part: GrantedPart, position: Position | None, limit: int
) -> tuple[list[asyncpg.Record], bool]:
    """notes_page of the notes that name a granted invoice."""
    sql = _keyset_sql(
        "notes n",
        "n.note_number, n.kind, n.issued_on, n.amount, n.description, n.invoice_number",
        ("issued_on", "note_number"),
        " AND n.customer_id = ANY($2::text[])",
        position,
        3,
        by="invoice_number",
    )
    return await _keyset_rows(conn, sql, (part.invoices, part.customer_ids), position, limit)


# The dashboard's billing part for a partial grant in one round trip, its granted contracts and
# invoices found by the statement itself from the service points ($1 customer ids, $2 today,
# $3 how many latest invoices, $4 the granted service points).
GRANTED_CTES = """granted AS MATERIALIZED (
               SELECT coalesce(array_agg(DISTINCT c.contract_number), '{}') AS contracts
                 FROM unnest($4::text[]) AS mine (service_point_id),
                      LATERAL (SELECT contract_number FROM service_points
                                WHERE service_point_id = mine.service_point_id OFFSET 0) sp,
                      LATERAL (SELECT contract_number FROM contracts
                                WHERE contract_number = sp.contract_number
                                  AND customer_id = ANY($1::text[]) OFFSET 0) c),
           granted_invoices AS MATERIALIZED (
               SELECT coalesce(array_agg(i.invoice_number), '{}') AS invoices
                 FROM granted g, unnest(g.contracts) AS mine (contract_number),
                      LATERAL (SELECT invoice_number FROM invoices
                                WHERE contract_number = mine.contract_number
                                  AND customer_id = ANY($1::text[]) OFFSET 0) i),"""
POINTS_SUMMARY_SQL = (
    "WITH "
    + GRANTED_CTES
    + (
        PARTIAL_SUMMARY_SQL.removeprefix("WITH ")
        .replace("$4::text[]", "(SELECT invoices FROM granted_invoices)")
        .replace("$5::text[]", "(SELECT contracts FROM granted)")
        .replace("$6::text[]", "$4::text[]")
    )
)


async def points_summary(
    conn: asyncpg.Connection,
    customer_id: str,
    service_point_ids: list[str],
    today: date,
    invoices: int,
) -> asyncpg.Record:
    """The summary of the part a partial grant covers, from its service points."""
    return await conn.fetchrow(
        POINTS_SUMMARY_SQL, [customer_id], today, invoices, service_point_ids
    )


# --- e-invoices and reminders (issue 12) ----------------------------------------------------


async def add_e_invoice_deliveries(
    conn: asyncpg.Connection, invoices: list[erp.InvoiceIssued], known: set[str], channel: str
) -> set[str]:
    """The batch's invoices that go as e-invoices: a new one (not in `known`) whose customer's
    consent is on gets its delivery (the consent's address, the account's language else the
    ERP's else Polish) and wakes the delivery loop on `channel` at commit; a re-sent one keeps
    what it had (a delivery row of its own). One statement for the whole batch; each customer
    is a lookup of its consent by key, and only those with consent on read further."""
    rows = await conn.fetch(
        """WITH mine AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::boolean[])
                      AS m(invoice_number, customer_id, known)),
           added AS (
               INSERT INTO e_invoice_deliveries (invoice_number, customer_id, address, language)
               SELECT m.invoice_number, m.customer_id, c.address,
                      coalesce(a.language, cu.language, 'pl')
                 FROM mine m
                 JOIN LATERAL (SELECT address FROM e_invoice_consents
                                WHERE customer_id = m.customer_id AND state = 'on'
                               OFFSET 0) c ON true
                 LEFT JOIN LATERAL (SELECT language FROM account_languages
                                     WHERE customer_id = m.customer_id OFFSET 0) a ON true
                 LEFT JOIN LATERAL (SELECT language FROM customers
                                     WHERE customer_id = m.customer_id OFFSET 0) cu ON true
                WHERE NOT m.known
               ON CONFLICT (invoice_number) DO NOTHING
               RETURNING invoice_number)
           SELECT invoice_number, pg_notify($4, '') IS NULL AS woken FROM added
           UNION ALL
           SELECT d.invoice_number, false
             FROM mine m,
                  LATERAL (SELECT invoice_number FROM e_invoice_deliveries
                            WHERE invoice_number = m.invoice_number OFFSET 0) d
            WHERE m.known""",
        [i.invoice_number for i in invoices],
        [i.customer_id for i in invoices],
        [i.invoice_number in known for i in invoices],
        channel,
    )
    return {r["invoice_number"] for r in rows}


async def claim_e_invoice_deliveries(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Up to `limit` deliveries waiting, oldest first, locked for this transaction; those another
    transaction holds are skipped (each goes once whichever instance takes it)."""
    return await conn.fetch(
        """SELECT invoice_number, customer_id, address, language FROM e_invoice_deliveries
            WHERE status = 'pending'
            ORDER BY created_at, invoice_number LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )


async def finish_e_invoice_deliveries(
    conn: asyncpg.Connection, sent: list[str], failed: dict[str, str]
) -> None:
    """Mark these deliveries sent, and these failed with their reasons."""
    await conn.execute(
        """UPDATE e_invoice_deliveries AS d
              SET status = CASE WHEN x.error IS NULL THEN 'sent' ELSE 'failed' END,
                  error = x.error,
                  sent_at = CASE WHEN x.error IS NULL THEN now() END
             FROM unnest($1::text[], $2::text[]) AS x(invoice_number, error)
            WHERE d.invoice_number = x.invoice_number""",
        [*sent, *failed],
        [*(None for _ in sent), *failed.values()],
    )


async def forget_published_e_invoices(conn: asyncpg.Connection) -> int:
    """Delete the outbox rows of billing.e-invoice.issued the relay has published (their PDFs are
    not kept); by the partial index outbox_e_invoice_issued, which holds only those rows."""
    status = await conn.execute(
        """DELETE FROM outbox
            WHERE routing_key = 'billing.e-invoice.issued' AND published_at IS NOT NULL"""
    )
    return int(status.rsplit(" ", 1)[1])


async def remind_due(
    conn: asyncpg.Connection,
    first_day: date,
    last_day: date,
    after: tuple[date, str] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """The next `limit` invoices due in [first_day, last_day] (after the key `after`, in the
    order (due_on, invoice_number)) that are unpaid and not reminded yet, each recorded as
    reminded now. Every one is returned with `reminded`: false for one that another
    transaction recorded first (the primary key of invoice_reminders: it is that one's to
    remind). The range is one scan of the index invoices_due; reminders and paid invoices are
    looked up per invoice of the window."""
    after_day, after_number = after if after is not None else (first_day, "")
    return await conn.fetch(
        """WITH due AS (
               SELECT i.invoice_number, i.customer_id, i.contract_number, i.due_on, i.gross,
                      i.gross - i.paid AS amount_due
                 FROM invoices i
                WHERE i.due_on BETWEEN $1 AND $2
                  AND (i.due_on, i.invoice_number) > ($3, $4)
                  AND i.paid < i.gross
                  AND NOT EXISTS (SELECT 1 FROM invoice_reminders r
                                   WHERE r.invoice_number = i.invoice_number)
                ORDER BY i.due_on, i.invoice_number
                LIMIT $5),
           reminded AS (
               INSERT INTO invoice_reminders (invoice_number)
               SELECT invoice_number FROM due
               ON CONFLICT (invoice_number) DO NOTHING
               RETURNING invoice_number)
           SELECT due.*, r.invoice_number IS NOT NULL AS reminded
             FROM due LEFT JOIN reminded r USING (invoice_number)
            ORDER BY due.due_on, due.invoice_number""",
        first_day,
        last_day,
        after_day,
        after_number,
        limit,
    )


async def record_reminder_scan(
    conn: asyncpg.Connection, first_day: date, last_day: date, reminded: int
) -> None:
    await conn.execute(
        """INSERT INTO reminder_scans (last_scan_at, last_window, last_reminded)
           VALUES (now(), daterange($1, $2, '[]'), $3)
           ON CONFLICT (id) DO UPDATE SET last_scan_at = EXCLUDED.last_scan_at,
               last_window = EXCLUDED.last_window, last_reminded = EXCLUDED.last_reminded,
               scans = reminder_scans.scans + 1""",
        first_day,
        last_day,
        reminded,
    )


async def customers_with_accounts(conn: asyncpg.Connection, customer_ids: list[str]) -> set[str]:
    """Which of these customers have an e-BOK account (identity.account.activated)."""
    rows = await conn.fetch(
        "SELECT customer_id FROM account_languages WHERE customer_id = ANY($1::text[])",
        customer_ids,
    )
    return {r["customer_id"] for r in rows}
