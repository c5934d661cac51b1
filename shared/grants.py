"""Managers' grants, kept by every service with account views (decision 58).

Identity publishes `identity.grant.changed` with the grant's whole state. Each service with HTTP
routes takes it on its own durable queue (`<ns>.<service>.grants`, so none is lost while the
service is down) into its `access_grants` table, keeping the highest revision of each (manager,
customer): a late or redelivered older event never takes a change back. The routes read the
table on every request (shared/scopes.py), so a change holds on the next request after the
event is consumed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from shared.envelope import Envelope
from shared.events.identity import GrantChanged
from shared.messaging.consumer import Subscription
from shared.tx import Tx


async def record_grant(tx: Tx, _env: Envelope, event: GrantChanged) -> None:
    await tx.conn.execute(
        """INSERT INTO access_grants (manager_account_id, customer_id, scope, service_point_ids,
                                      revoked, revision, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (manager_account_id, customer_id) DO UPDATE SET
               scope = EXCLUDED.scope, service_point_ids = EXCLUDED.service_point_ids,
               revoked = EXCLUDED.revoked, revision = EXCLUDED.revision,
               changed_at = EXCLUDED.changed_at
           WHERE access_grants.revision < EXCLUDED.revision""",
        event.manager_account_id,
        event.customer_id,
        event.scope,
        event.service_point_ids,
        event.revoked,
        event.revision,
        event.changed_at,
    )


SUBSCRIPTION = Subscription("grants", {GrantChanged: record_grant})


@dataclass(frozen=True)
class Grant:
    customer_id: str
    partial: bool
    service_point_ids: tuple[str, ...]


def _grant(row: asyncpg.Record) -> Grant:
    return Grant(row["customer_id"], row["scope"] == "partial", tuple(row["service_point_ids"]))


async def grant(conn: asyncpg.Connection, manager: uuid.UUID, customer_id: str) -> Grant | None:
    """The manager's live grant over the customer, if any (one primary key lookup)."""
    row = await conn.fetchrow(
        """SELECT customer_id, scope, service_point_ids FROM access_grants
            WHERE manager_account_id = $1 AND customer_id = $2 AND NOT revoked""",
        manager,
        customer_id,
    )
    return None if row is None else _grant(row)


async def some_grants(conn: asyncpg.Connection, manager: uuid.UUID, n: int) -> list[Grant]:
    """At most `n` of the manager's live grants (a range of the primary key: the revoked ones
    are skipped, but a manager's rows are few next to the table)."""
    rows = await conn.fetch(
        """SELECT customer_id, scope, service_point_ids FROM access_grants
            WHERE manager_account_id = $1 AND NOT revoked
            ORDER BY customer_id LIMIT $2""",
        manager,
        n,
    )
    return [_grant(r) for r in rows]
