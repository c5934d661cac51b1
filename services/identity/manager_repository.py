"""Identity's SQL for manager requests, their properties and grants."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from shared.api.identity import ManagerRequestIn
from shared.api.paging import Position

# --- manager requests -----------------------------------------------------------------------


async def next_request_number(conn: asyncpg.Connection) -> tuple[int, int]:
    """The year and the next number of the request sequence."""
    row = await conn.fetchrow(
        "SELECT extract(year FROM now())::int AS year, nextval('manager_request_numbers') AS n"
    )
    return row["year"], row["n"]


async def insert_request(
    conn: asyncpg.Connection,
    request_id: uuid.UUID,
    reference: str,
    body: ManagerRequestIn,
    client_ip: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO manager_requests (id, reference, company, nip, contact_person, email,
                                         phone, language, terms_version, client_ip)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        request_id,
        reference,
        body.company,
        body.nip,
        body.contact_person,
        str(body.email),
        body.phone,
        body.language,
        body.terms_version,
        client_ip,
    )
    props = body.properties
    await conn.execute(
        """INSERT INTO manager_request_properties (request_id, position, address,
                                                   contract_number, invoice_number,
                                                   invoice_gross, scope_asked)
           SELECT $1, p, a::jsonb, c, i, g, s
             FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::numeric[],
                         $7::text[]) AS x(p, a, c, i, g, s)""",
        request_id,
        list(range(1, len(props) + 1)),
        [p.address.model_dump_json() for p in props],
        [p.contract_number for p in props],
        [p.invoice_number for p in props],
        [p.invoice_amount for p in props],
        [p.scope for p in props],
    )


async def pending_requests(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM manager_requests WHERE status = 'pending'
            ORDER BY created_at, reference LIMIT $1""",
        limit,
    )


async def properties_of(
    conn: asyncpg.Connection, request_ids: Sequence[uuid.UUID]
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT * FROM manager_request_properties WHERE request_id = ANY($1::uuid[])
            ORDER BY request_id, position""",
        list(request_ids),
    )


async def request_for_update(conn: asyncpg.Connection, reference: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM manager_requests WHERE reference = $1 FOR UPDATE", reference
    )


async def decide_request(
    conn: asyncpg.Connection,
    request_id: uuid.UUID,
    status: str,
    operator_id: uuid.UUID,
    operator_login: str,
    reason: str | None,
    manager_account_id: uuid.UUID | None,
) -> datetime:
    return await conn.fetchval(
        """UPDATE manager_requests SET status = $2, decided_by = $3, decided_by_login = $4,
               decided_at = now(), reason = $5, manager_account_id = $6
            WHERE id = $1 RETURNING decided_at""",
        request_id,
        status,
        operator_id,
        operator_login,
        reason,
        manager_account_id,
    )


# --- what the ERP's projection knows of a property ----------------------------------------


async def service_points_of_contract(
    conn: asyncpg.Connection, contract_number: str
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM service_points WHERE contract_number = $1 ORDER BY service_point_id",
        contract_number,
    )


async def service_points_of_customer(
    conn: asyncpg.Connection, customer_id: str
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM service_points WHERE customer_id = $1 ORDER BY service_point_id",
        customer_id,
    )


async def customer_names(conn: asyncpg.Connection, ids: Sequence[str]) -> dict[str, str]:
    rows = await conn.fetch(
        "SELECT customer_id, name FROM customers WHERE customer_id = ANY($1::text[])", list(ids)
    )
    return {r["customer_id"]: r["name"] for r in rows}


async def customer_known(conn: asyncpg.Connection, customer_id: str) -> bool:
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM customers WHERE customer_id = $1)
               OR EXISTS (SELECT 1 FROM service_points WHERE customer_id = $1)""",
        customer_id,
    )


async def points_of_customer_among(
    conn: asyncpg.Connection, customer_id: str, ids: Sequence[str]
) -> list[str]:
    rows = await conn.fetch(
        """SELECT service_point_id FROM service_points
            WHERE customer_id = $1 AND service_point_id = ANY($2::text[])""",
        customer_id,
        list(ids),
    )
    return [r["service_point_id"] for r in rows]


# --- grants ---------------------------------------------------------------------------------


async def grant_for_update(
    conn: asyncpg.Connection, manager_account_id: uuid.UUID, customer_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT * FROM grants WHERE manager_account_id = $1 AND customer_id = $2
           FOR UPDATE""",
        manager_account_id,
        customer_id,
    )


async def write_grant(
    conn: asyncpg.Connection,
    *,
    manager_account_id: uuid.UUID,
    customer_id: str,
    scope: str,
    service_point_ids: Sequence[str],
    revoked: bool,
    revision: int,
    changed_by: str,
    changed_by_account: uuid.UUID | None,
    manager_request_id: uuid.UUID | None = None,
) -> asyncpg.Record:
    """The grant as it now stands, and its revision in the history."""
    row = await conn.fetchrow(
        """INSERT INTO grants (manager_account_id, customer_id, scope, service_point_ids,
                               revoked, revision, changed_by, changed_by_account)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (manager_account_id, customer_id) DO UPDATE SET
               scope = EXCLUDED.scope, service_point_ids = EXCLUDED.service_point_ids,
               revoked = EXCLUDED.revoked, revision = EXCLUDED.revision,
               changed_by = EXCLUDED.changed_by,
               changed_by_account = EXCLUDED.changed_by_account, changed_at = now()
           RETURNING *""",
        manager_account_id,
        customer_id,
        scope,
        list(service_point_ids),
        revoked,
        revision,
        changed_by,
        changed_by_account,
    )
    await conn.execute(
        """INSERT INTO grant_history (manager_account_id, customer_id, revision, scope,
                                      service_point_ids, revoked, changed_by,
                                      changed_by_account, changed_at, manager_request_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
        manager_account_id,
        customer_id,
        revision,
        scope,
        list(service_point_ids),
        revoked,
        changed_by,
        changed_by_account,
        row["changed_at"],
        manager_request_id,
    )
    return row


async def grants_of_manager(
    conn: asyncpg.Connection, manager_account_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM grants WHERE manager_account_id = $1 ORDER BY customer_id",
        manager_account_id,
    )


async def managers_of_customer(conn: asyncpg.Connection, customer_id: str) -> list[asyncpg.Record]:
    """The live grants over the customer's properties, with their managers' accounts."""
    return await conn.fetch(
        """SELECT g.*, a.login, a.company, a.email FROM grants g
             JOIN accounts a ON a.id = g.manager_account_id
            WHERE g.customer_id = $1 AND NOT g.revoked ORDER BY a.login""",
        customer_id,
    )


def address_of(row: asyncpg.Record) -> dict[str, object]:
    value = row["address"]
    return json.loads(value) if isinstance(value, str) else dict(value)


# Only the conditions above (their values are parameters) and the direction are put in.
MANAGERS_SQL = """
SELECT a.id, a.login, a.company, a.email, a.status, a.created_at,
       (SELECT count(*) FROM grants g
         WHERE g.manager_account_id = a.id AND NOT g.revoked) AS grants
  FROM accounts a
 WHERE {where}
 ORDER BY a.login {direction}
 LIMIT $1"""


def _like(text: str) -> str:
    """`text` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def managers_page(
    conn: asyncpg.Connection,
    search: str | None,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """At most `limit` manager accounts in the order of their logins from `position` (the first
    for None), those whose login, company or email contains `search` (case-insensitive), each
    with its number of live grants; and whether there are more beyond them the way the page
    goes. Logins are unique, so the login is the whole sort key."""
    newer = position is not None and position.newer
    args: list[object] = [limit + 1]
    conditions = ["a.role = 'manager'"]
    if position is not None:
        args.append(position.key[0])
        conditions.append(f"a.login {'<' if newer else '>'} ${len(args)}")
    if search is not None:
        args.append(_like(search))
        n = len(args)
        conditions.append(f"(a.login ILIKE ${n} OR a.company ILIKE ${n} OR a.email ILIKE ${n})")
    sql = MANAGERS_SQL.format(where=" AND ".join(conditions), direction="DESC" if newer else "ASC")
    rows = await conn.fetch(sql, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    return rows, more
