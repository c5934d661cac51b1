"""Correspondence's SQL: the projections of billing's contracts and invoices, the cases with their
numbers, timeline and messages, and the idempotency keys of new cases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
import orjson

from services.correspondence import domain
from shared.api.paging import Position
from shared.events import billing
from shared.scopes import Scope

# --- projections of billing's events -------------------------------------------------------


async def replace_contracts_service_points(
    conn: asyncpg.Connection, contracts: list[billing.ContractChanged]
) -> None:
    """Each contract's service points are exactly those it lists now (a service point listed by
    two of them goes to the later), as identity keeps them."""
    points = {sp.service_point_id: (sp, c) for c in contracts for sp in c.service_points}
    await conn.execute(
        """DELETE FROM service_points
            WHERE contract_number = ANY($1::text[]) AND NOT service_point_id = ANY($2::text[])""",
        [c.contract_number for c in contracts],
        list(points),
    )
    await conn.execute(
        """INSERT INTO service_points (service_point_id, customer_id, contract_number, address)
           SELECT s, c, n, a::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                  AS x(s, c, n, a)
           ON CONFLICT (service_point_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,
               contract_number = EXCLUDED.contract_number, address = EXCLUDED.address""",
        list(points),
        [c.customer_id for _, c in points.values()],
        [c.contract_number for _, c in points.values()],
        [sp.address.model_dump_json() for sp, _ in points.values()],
    )


async def upsert_invoices(conn: asyncpg.Connection, invoices: list[billing.InvoiceIssued]) -> None:
    await conn.execute(
        """INSERT INTO invoices (invoice_number, customer_id, contract_number)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
           ON CONFLICT (invoice_number) DO UPDATE SET customer_id = EXCLUDED.customer_id,
               contract_number = EXCLUDED.contract_number""",
        [i.invoice_number for i in invoices],
        [i.customer_id for i in invoices],
        [i.contract_number for i in invoices],
    )


async def service_point(
    conn: asyncpg.Connection, customer_id: str, service_point_id: str
) -> asyncpg.Record | None:
    """The customer's service point (contract_number, address), or None."""
    return await conn.fetchrow(
        """SELECT contract_number, address::text AS address FROM service_points
            WHERE service_point_id = $1 AND customer_id = $2""",
        service_point_id,
        customer_id,
    )


async def invoice_contract(
    conn: asyncpg.Connection, customer_id: str, invoice_number: str
) -> str | None:
    """The contract of the customer's invoice, or None when it is not the customer's."""
    return await conn.fetchval(
        "SELECT contract_number FROM invoices WHERE invoice_number = $1 AND customer_id = $2",
        invoice_number,
        customer_id,
    )


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


# --- idempotency keys ----------------------------------------------------------------------


async def claim_key(
    conn: asyncpg.Connection, account_id: uuid.UUID, key: str, request_hash: str, case_id: uuid.UUID
) -> bool:
    """Take the key for a case about to be made; False when it was taken. A request with the same
    key in flight holds it until it ends: this waits for it, then sees its case (or, if it rolled
    back, takes the key)."""
    return bool(
        await conn.fetchval(
            """INSERT INTO case_requests (account_id, idempotency_key, request_hash, case_id)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING true""",
            account_id,
            key,
            request_hash,
            case_id,
        )
    )


async def keyed_request(
    conn: asyncpg.Connection, account_id: uuid.UUID, key: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT r.request_hash, r.case_id, c.number FROM case_requests r
             JOIN cases c USING (case_id)
            WHERE r.account_id = $1 AND r.idempotency_key = $2""",
        account_id,
        key,
    )


# --- cases ---------------------------------------------------------------------------------


async def next_number(conn: asyncpg.Connection, year: int) -> int:
    """The year's next case number, in the caller's transaction: the year's row stays locked
    until it ends, and a rollback gives the number back."""
    return await conn.fetchval(
        """INSERT INTO case_numbers (year, last) VALUES ($1, 1)
           ON CONFLICT (year) DO UPDATE SET last = case_numbers.last + 1
           RETURNING last""",
        year,
    )


@dataclass(frozen=True)
class NewCase:
    case_id: uuid.UUID
    year: int
    seq: int
    customer_id: str
    kind: str
    title: str
    subject: str | None
    description: str
    service_point_id: str | None
    location: str | None
    since: date | None
    invoice_number: str | None
    contract_number: str | None
    changes: list[dict[str, str | None]]
    role: str
    account_id: uuid.UUID
    login: str


async def insert_case(conn: asyncpg.Connection, c: NewCase) -> datetime:
    """The case, submitted, with the first row of its timeline: when it was submitted."""
    submitted_at: datetime = await conn.fetchval(
        """INSERT INTO cases (case_id, number, year, seq, customer_id, kind, status, title,
                              subject, description, service_point_id, location, since,
                              invoice_number, contract_number, changes, submitted_by_role,
                              submitted_by_account_id, submitted_by_login)
           VALUES ($1, $2, $3, $4, $5, $6, 'submitted', $7, $8, $9, $10, $11, $12, $13, $14,
                   $15::jsonb, $16, $17, $18)
           RETURNING submitted_at""",
        c.case_id,
        domain.case_number(c.year, c.seq),
        c.year,
        c.seq,
        c.customer_id,
        c.kind,
        c.title,
        c.subject,
        c.description,
        c.service_point_id,
        c.location,
        c.since,
        c.invoice_number,
        c.contract_number,
        orjson.dumps(c.changes).decode(),
        c.role,
        c.account_id,
        c.login,
    )
    await add_status(
        conn,
        c.case_id,
        "submitted",
        submitted_at,
        role=c.role,
        account_id=c.account_id,
        login=c.login,
    )
    return submitted_at


async def add_status(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    status: str,
    at: datetime,
    *,
    role: str,
    account_id: uuid.UUID | None = None,
    login: str | None = None,
    name: str | None = None,
    reason: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO case_status_history (case_id, status, at, by_role, by_account_id,
                                            by_login, by_name, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        case_id,
        status,
        at,
        role,
        account_id,
        login,
        name,
        reason,
    )


CASE_COLUMNS = """c.case_id, c.number, c.customer_id, c.kind, c.status, c.title, c.subject,
       c.description, c.service_point_id, c.location, c.since, c.invoice_number,
       c.contract_number, c.changes::text AS changes, c.submitted_by_role,
       c.submitted_by_account_id, c.submitted_by_login, c.submitted_at, c.updated_at,
       c.backoffice_updated_at"""


@dataclass(frozen=True)
class Part:
    """What of the customer the caller sees: None for the whole customer, else a partial grant's
    service points and the contracts they are on."""

    points: list[str] | None
    contracts: list[str] | None


async def part_of(conn: asyncpg.Connection, scope: Scope) -> Part:
    if not scope.partial:
        return Part(None, None)
    points = list(scope.service_point_ids)
    return Part(points, await granted_contracts(conn, scope.customer_id, points))


async def case_in_part(
    conn: asyncpg.Connection, case_id: uuid.UUID, customer_id: str, part: Part
) -> bool:
    """The customer's case is within the caller's part (the same rule as every read of cases)."""
    found = await conn.fetchval(
        f"SELECT 1 FROM cases c WHERE c.case_id = $1 AND c.customer_id = $4 {_visible(2, 3)}",
        case_id,
        part.points,
        part.contracts,
        customer_id,
    )
    return found is not None


def _visible(points: int, contracts: int) -> str:
    """A partial grant's part of the customer's cases (the parameters' positions): cases on one
    of its service points, or on an invoice of one of its contracts; cases naming neither (a
    question, a data-change request, a failure at a free address) are the whole customer's."""
    return f"""AND (${points}::text[] IS NULL
                 OR c.service_point_id = ANY(${points}::text[])
                 OR (c.invoice_number IS NOT NULL
                     AND c.contract_number = ANY(${contracts}::text[])))"""


async def case_by_number(
    conn: asyncpg.Connection,
    customer_id: str,
    number: str,
    points: list[str] | None,
    contracts: list[str] | None,
    *,
    lock: bool = False,
) -> asyncpg.Record | None:
    """The customer's case, if the caller's part (`points`/`contracts`, None: the whole
    customer) covers it."""
    return await conn.fetchrow(
        f"""SELECT {CASE_COLUMNS} FROM cases c
             WHERE c.number = $1 AND c.customer_id = $2 {_visible(3, 4)}
             {"FOR UPDATE" if lock else ""}""",
        number,
        customer_id,
        points,
        contracts,
    )


async def case_for_update(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    """Any case by its number, locked (the back office's update)."""
    return await conn.fetchrow(
        f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.number = $1 FOR UPDATE", number
    )


async def case_by_id(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record:
    row = await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = $1", case_id)
    assert row is not None
    return row


async def timeline(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """Every status in the order e-BOK took them (the back office's clock may differ)."""
    return await conn.fetch(
        """SELECT status, at, by_role, by_login, by_name, reason FROM case_status_history
            WHERE case_id = $1 ORDER BY id""",
        case_id,
    )


async def messages(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    """The thread in the order e-BOK took the messages."""
    return await conn.fetch(
        """SELECT message_id, author_role, author_login, author_name, text, posted_at
             FROM case_messages WHERE case_id = $1 ORDER BY seq""",
        case_id,
    )


async def insert_message(
    conn: asyncpg.Connection,
    *,
    message_id: uuid.UUID,
    case_id: uuid.UUID,
    role: str,
    account_id: uuid.UUID | None,
    login: str | None,
    name: str | None,
    text: str,
    posted_at: datetime | None = None,
) -> datetime | None:
    """The message, when it is new (None: a message with this id is there already)."""
    return await conn.fetchval(
        """INSERT INTO case_messages (message_id, case_id, author_role, author_account_id,
                                      author_login, author_name, text, posted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now()))
           ON CONFLICT (message_id) DO NOTHING
           RETURNING posted_at""",
        message_id,
        case_id,
        role,
        account_id,
        login,
        name,
        text,
        posted_at,
    )


async def utility_replied(conn: asyncpg.Connection, case_id: uuid.UUID, text: str) -> bool:
    """The utility wrote this text in the case's thread already (the same reply sent again)."""
    return bool(
        await conn.fetchval(
            """SELECT 1 FROM case_messages
                WHERE case_id = $1 AND author_role = 'utility' AND text = $2 LIMIT 1""",
            case_id,
            text,
        )
    )


async def touch(conn: asyncpg.Connection, case_id: uuid.UUID) -> None:
    await conn.execute("UPDATE cases SET updated_at = now() WHERE case_id = $1", case_id)


async def set_status(
    conn: asyncpg.Connection,
    case_id: uuid.UUID,
    status: str | None,
    backoffice_updated_at: datetime,
) -> None:
    """The back office's update taken: its status (None: unchanged) and its moment."""
    await conn.execute(
        """UPDATE cases SET status = coalesce($2, status), updated_at = now(),
                  backoffice_updated_at = greatest(backoffice_updated_at, $3)
            WHERE case_id = $1""",
        case_id,
        status,
        backoffice_updated_at,
    )


async def cases_page(
    conn: asyncpg.Connection,
    customer_id: str,
    points: list[str] | None,
    contracts: list[str] | None,
    *,
    kind: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
    timezone: str,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """A page of the customer's cases (the caller's part) by (submitted_at, number), newest
    first; `since`/`until` are days of the utility's calendar."""
    newer = position is not None and position.newer
    direction, compare = ("ASC", ">") if newer else ("DESC", "<")
    after = f"AND (c.submitted_at, c.number) {compare} ($10, $11)" if position else ""
    key = position.key if position is not None else ()
    rows = await conn.fetch(
        f"""SELECT {CASE_COLUMNS} FROM cases c
             WHERE c.customer_id = $1 {_visible(2, 3)}
               AND ($4::text IS NULL OR c.kind = $4)
               AND ($5::text IS NULL OR c.status = $5)
               AND ($6::date IS NULL OR c.submitted_at >= ($6::date::timestamp AT TIME ZONE $8))
               AND ($7::date IS NULL
                    OR c.submitted_at < (($7::date + 1)::timestamp AT TIME ZONE $8))
               {after}
             ORDER BY c.submitted_at {direction}, c.number {direction} LIMIT $9""",
        customer_id,
        points,
        contracts,
        kind,
        status,
        since,
        until,
        timezone,
        limit + 1,
        *key,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    return rows, more


async def open_cases(
    conn: asyncpg.Connection,
    customer_id: str,
    points: list[str] | None,
    contracts: list[str] | None,
    latest: int,
) -> tuple[int, list[asyncpg.Record]]:
    """How many of the customer's cases (the caller's part) are open, and the latest of them:
    one statement (the count is the window over every open case, taken before the LIMIT; so
    `latest` is at least 1)."""
    if latest < 1:
        raise ValueError("latest must be at least 1: the count comes with the rows")
    visible = _visible(2, 3)
    rows = await conn.fetch(
        f"""SELECT {CASE_COLUMNS}, count(*) OVER () AS open_count FROM cases c
             WHERE c.customer_id = $1 {visible}
               AND c.status NOT IN ('closed', 'rejected')
             ORDER BY c.submitted_at DESC, c.number DESC LIMIT $4""",
        customer_id,
        points,
        contracts,
        latest,
    )
    return (rows[0]["open_count"] if rows else 0), rows
