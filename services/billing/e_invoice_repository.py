"""SQL of the e-invoice consent: the consent, its history, its confirmation links, the account
languages of billing's emails, and the request limit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.billing import e_invoice


@dataclass(frozen=True)
class Actor:
    """Who makes a change, as the history records it."""

    role: e_invoice.ChangedBy
    login: str | None = None
    account_id: uuid.UUID | None = None
    client_address: str | None = None


ERP = Actor("erp")


async def lock_consent(conn: asyncpg.Connection, customer_id: str) -> e_invoice.Consent:
    """The customer's consent, its row locked until the transaction ends (made off when there
    was none): concurrent requests of one customer take turns."""
    await conn.execute(
        """INSERT INTO e_invoice_consents (customer_id, state) VALUES ($1, 'off')
           ON CONFLICT (customer_id) DO NOTHING""",
        customer_id,
    )
    await conn.execute(
        "SELECT 1 FROM e_invoice_consents WHERE customer_id = $1 FOR UPDATE", customer_id
    )
    return await consent(conn, customer_id)


async def consent(conn: asyncpg.Connection, customer_id: str) -> e_invoice.Consent:
    row = await conn.fetchrow(
        """SELECT c.state, c.address, p.purpose, p.address AS pending_address, p.expires_at
             FROM (SELECT $1::text AS customer_id) k
             LEFT JOIN e_invoice_consents c USING (customer_id)
             LEFT JOIN e_invoice_confirmations p
                    ON p.customer_id = k.customer_id AND p.status = 'pending'""",
        customer_id,
    )
    if row is None or row["state"] is None:
        return e_invoice.OFF
    pending = (
        e_invoice.Pending(row["purpose"], row["pending_address"], row["expires_at"])
        if row["purpose"] is not None
        else None
    )
    return e_invoice.Consent(row["state"], row["address"], pending)


async def consent_view(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    """What GET /e-invoice shows besides the history: the consent and its waiting link."""
    return await conn.fetchrow(
        """SELECT c.state, c.address, c.since, p.purpose, p.address AS pending_address,
                  p.requested_at, p.expires_at
             FROM e_invoice_consents c
             LEFT JOIN e_invoice_confirmations p
                    ON p.customer_id = c.customer_id AND p.status = 'pending'
            WHERE c.customer_id = $1""",
        customer_id,
    )


async def set_consent(
    conn: asyncpg.Connection,
    customer_id: str,
    state: str,
    address: str | None,
    *,
    since: datetime | None,
    regulations_version: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_consents
               (customer_id, state, address, since, regulations_version, updated_at)
           VALUES ($1, $2, $3, $4, $5, now())
           ON CONFLICT (customer_id) DO UPDATE
              SET state = EXCLUDED.state, address = EXCLUDED.address, since = EXCLUDED.since,
                  regulations_version = EXCLUDED.regulations_version, updated_at = now()""",
        customer_id,
        state,
        address,
        since,
        regulations_version,
    )


async def set_address(conn: asyncpg.Connection, customer_id: str, address: str) -> None:
    await conn.execute(
        """UPDATE e_invoice_consents SET address = $2, updated_at = now()
            WHERE customer_id = $1""",
        customer_id,
        address,
    )


async def regulations_version(conn: asyncpg.Connection, customer_id: str) -> str | None:
    version: str | None = await conn.fetchval(
        "SELECT regulations_version FROM e_invoice_consents WHERE customer_id = $1", customer_id
    )
    return version


# --- history ------------------------------------------------------------------------------------


async def add_history(
    conn: asyncpg.Connection,
    customer_id: str,
    action: str,
    address: str | None,
    actor: Actor,
    regulations_version: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_history (customer_id, action, at, address, by_role, by_login,
                                          by_account_id, regulations_version, client_address)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        customer_id,
        action,
        at,
        address,
        actor.role,
        actor.login,
        actor.account_id,
        regulations_version,
        actor.client_address,
    )


async def history(conn: asyncpg.Connection, customer_id: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT action, at, address, by_role AS by, by_login, regulations_version,
                  client_address
             FROM e_invoice_history WHERE customer_id = $1
            ORDER BY id DESC LIMIT $2""",
        customer_id,
        limit,
    )


# --- confirmation links -------------------------------------------------------------------------


async def add_confirmation(
    conn: asyncpg.Connection,
    digest: bytes,
    customer_id: str,
    purpose: e_invoice.Purpose,
    address: str,
    requested_at: datetime,
    expires_at: datetime,
    actor: Actor,
    regulations_version: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO e_invoice_confirmations
               (token_hash, customer_id, purpose, address, status, requested_at, expires_at,
                by_role, by_login, by_account_id, regulations_version)
           VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7, $8, $9, $10)""",
        digest,
        customer_id,
        purpose,
        address,
        requested_at,
        expires_at,
        actor.role,
        actor.login,
        actor.account_id,
        regulations_version,
    )


async def end_pending(conn: asyncpg.Connection, customer_id: str, status: str) -> bool:
    """The customer's waiting link stops working (`status` superseded or cancelled); whether
    there was one."""
    result = await conn.execute(
        """UPDATE e_invoice_confirmations SET status = $2
            WHERE customer_id = $1 AND status = 'pending'""",
        customer_id,
        status,
    )
    return result != "UPDATE 0"


async def lock_confirmation(conn: asyncpg.Connection, digest: bytes) -> asyncpg.Record | None:
    """The link's row, locked; its customer's consent row is locked first, in the order every
    other change of the consent takes them (consent, then links)."""
    customer_id = await conn.fetchval(
        "SELECT customer_id FROM e_invoice_confirmations WHERE token_hash = $1", digest
    )
    if customer_id is None:
        return None
    await lock_consent(conn, customer_id)
    return await conn.fetchrow(
        "SELECT * FROM e_invoice_confirmations WHERE token_hash = $1 FOR UPDATE", digest
    )


async def mark_used(conn: asyncpg.Connection, digest: bytes, at: datetime) -> None:
    await conn.execute(
        """UPDATE e_invoice_confirmations SET status = 'used', used_at = $2
            WHERE token_hash = $1""",
        digest,
        at,
    )


# --- emails' language ---------------------------------------------------------------------------


async def language(conn: asyncpg.Connection, customer_id: str) -> str:
    """The customer's account's language, else the ERP's, else Polish."""
    found: str = await conn.fetchval(
        """SELECT coalesce(
                    (SELECT language FROM account_languages WHERE customer_id = $1),
                    (SELECT language FROM customers WHERE customer_id = $1),
                    'pl')""",
        customer_id,
    )
    return found


async def upsert_account_language(
    conn: asyncpg.Connection, customer_id: str, account_id: uuid.UUID, language: str
) -> None:
    await conn.execute(
        """INSERT INTO account_languages (customer_id, account_id, language) VALUES ($1, $2, $3)
           ON CONFLICT (customer_id) DO UPDATE
              SET account_id = EXCLUDED.account_id, language = EXCLUDED.language""",
        customer_id,
        account_id,
        language,
    )


# --- the request limit --------------------------------------------------------------------------


async def rate_limit_hit(conn: asyncpg.Connection, key: str, window_seconds: int) -> int:
    """Count one hit in the current fixed window of `key` (the windows before it are dropped:
    nothing else reads them); return the window's count."""
    await conn.execute(
        """DELETE FROM rate_limits WHERE key = $1
              AND window_start < to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)""",
        key,
        float(window_seconds),
    )
    hits: int = await conn.fetchval(
        """INSERT INTO rate_limits (key, window_start, hits)
           VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
           ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
           RETURNING hits""",
        key,
        float(window_seconds),
    )
    return hits
