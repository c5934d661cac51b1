"""Metering's SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import asyncpg

from shared.api.paging import Position
from shared.events import billing

# The active meters of contract $1 or on service points $2, each branch by its own index
# whatever the plan: an OR of the two, or `removed_on IS NULL` beside them, planned while the
# table was small, reads every active meter through the partial index (the subquery's
# OFFSET 0 keeps that filter off the contract's index scan).
ACTIVE_METERS_OF_CONTRACT = """
    SELECT meter_number FROM (SELECT meter_number, removed_on FROM meters
                               WHERE contract_number = $1 OFFSET 0) AS of_contract
     WHERE removed_on IS NULL
    UNION ALL
    SELECT meter_number FROM meters
     WHERE service_point_id = ANY($2::text[]) AND removed_on IS NULL"""


async def apply_contract(conn: asyncpg.Connection, c: billing.ContractChanged, today: date) -> None:
    """Bring the meters of a contract in line with its service points.

    A service point's first meter counts from the contract's date; a meter that replaces another
    on the same service point counts from today, and the one it replaces is taken off today."""
    points = [sp.service_point_id for sp in c.service_points]
    active = {
        r["service_point_id"]: r["meter_number"]
        for r in await conn.fetch(
            f"""SELECT service_point_id, meter_number FROM meters
                 WHERE meter_number = ANY(ARRAY({ACTIVE_METERS_OF_CONTRACT}))""",
            c.contract_number,
            points,
        )
    }
    current = [sp.meter_number for sp in c.service_points]
    await conn.execute(
        f"""UPDATE meters SET removed_on = $3
             WHERE meter_number = ANY(ARRAY({ACTIVE_METERS_OF_CONTRACT}))
               AND NOT meter_number = ANY($4::text[])""",
        c.contract_number,
        points,
        today,
        current,
    )
    for sp in c.service_points:
        exchanged = active.get(sp.service_point_id) not in (None, sp.meter_number)
        await conn.execute(
            """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                                   address, contract_signed_on, installed_on)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (meter_number) DO UPDATE SET
                   service_point_id = EXCLUDED.service_point_id,
                   customer_id = EXCLUDED.customer_id,
                   contract_number = EXCLUDED.contract_number, address = EXCLUDED.address,
                   contract_signed_on = EXCLUDED.contract_signed_on,
                   -- a meter passing to another contract is on it from that contract's day
                   installed_on = CASE WHEN meters.contract_number = EXCLUDED.contract_number
                                       THEN meters.installed_on ELSE EXCLUDED.installed_on END,
                   -- a terminated contract sent again keeps the day its meters came off
                   removed_on = CASE WHEN $8 THEN meters.removed_on END
               -- an older contract arriving late does not take a meter back from a newer one
               WHERE meters.contract_number = EXCLUDED.contract_number
                  OR meters.contract_signed_on <= EXCLUDED.contract_signed_on""",
            sp.meter_number,
            sp.service_point_id,
            c.customer_id,
            c.contract_number,
            sp.address.model_dump_json(),
            c.signed_on,
            today if exchanged else c.signed_on,
            c.status == "terminated",
        )
    if c.status == "terminated":
        await conn.execute(
            "UPDATE meters SET removed_on = coalesce(removed_on, $2) WHERE contract_number = $1",
            c.contract_number,
            today,
        )


async def insert_readings(
    conn: asyncpg.Connection,
    meter_numbers: list[str],
    read_ats: list[datetime],
    values: list[Decimal],
    sources: list[str],
) -> int:
    """Store many readings in one statement; duplicates (same meter, same moment) are skipped.
    Returns how many were new."""
    result = await conn.execute(
        """INSERT INTO readings (meter_number, read_at, value, source)
           SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::numeric[], $4::text[])
           ON CONFLICT (meter_number, read_at) DO NOTHING""",
        meter_numbers,
        read_ats,
        values,
        sources,
    )
    return int(result.rsplit(" ", 1)[1])


# A partial grant's meters: those of the customer on the granted service points ($2), the ones
# taken off them included, each point by the index (customer_id, service_point_id).
GRANTED_METERS = """unnest($2::text[]) AS mine (service_point_id),
             LATERAL (SELECT * FROM meters WHERE customer_id = ANY($1::text[])
                         AND service_point_id = mine.service_point_id OFFSET 0) m"""


async def customer_meters(
    conn: asyncpg.Connection, customer_ids: list[str], service_point_ids: list[str] | None = None
) -> list[asyncpg.Record]:
    """The customers' meters with their latest reading; with `service_point_ids` (a partial
    grant) only those on them."""
    granted = service_point_ids is not None
    return await conn.fetch(
        f"""SELECT m.meter_number, m.service_point_id, m.contract_number, m.address,
                  m.installed_on, m.removed_on, r.read_at AS last_read_at,
                  r.value AS last_value, r.source AS last_source
             FROM {GRANTED_METERS if granted else "meters m"}
             LEFT JOIN LATERAL (
                 SELECT read_at, value, source FROM readings
                  WHERE meter_number = m.meter_number
                    -- only readings of the customer's own period on the meter
                    AND read_at >= m.installed_on::timestamp AT TIME ZONE 'UTC'
                    AND (m.removed_on IS NULL
                         OR read_at < (m.removed_on + 1)::timestamp AT TIME ZONE 'UTC')
                  ORDER BY read_at DESC LIMIT 1) r ON true
            {"" if granted else "WHERE m.customer_id = ANY($1::text[])"}
            ORDER BY m.removed_on NULLS FIRST, m.service_point_id, m.meter_number""",
        customer_ids,
        *([service_point_ids] if granted else []),
    )


async def customer_meter(
    conn: asyncpg.Connection,
    customer_ids: list[str],
    meter_number: str,
    *,
    lock: bool = False,
    service_point_ids: list[str] | None = None,
) -> asyncpg.Record | None:
    """The customers' meter; with `service_point_ids` (a partial grant) only on one of them."""
    granted = service_point_ids is not None
    return await conn.fetchrow(
        "SELECT * FROM meters WHERE customer_id = ANY($1::text[]) AND meter_number = $2"
        + (" AND service_point_id = ANY($3::text[])" if granted else "")
        + (" FOR UPDATE" if lock else ""),
        customer_ids,
        meter_number,
        *([service_point_ids] if granted else []),
    )


# A page of a meter's readings ($1 the meter, $2 since, $3 until or null, $4 how many, $5 the
# cursor's read_at or null, $6 the start of the customer's period on the meter), `listed`, and
# the reading before the oldest of them, for its consumption: the newest one below both `since`
# and the cursor (but not below $6: consumption never spans two holders). Each part is one range
# scan of the primary key (meter_number, read_at) that stops after $4 rows (or one), from
# whatever cursor: the last page is read as fast as the first.
READINGS_OLDER = """
    (SELECT read_at, value, source, true AS listed FROM readings
      WHERE meter_number = $1 AND read_at >= $2
        AND read_at <= coalesce($3::timestamptz, 'infinity')
        AND read_at < coalesce($5::timestamptz, 'infinity')
      ORDER BY read_at DESC LIMIT $4)
    UNION ALL
    (SELECT read_at, value, source, false FROM readings
      WHERE meter_number = $1 AND read_at >= $6
        AND read_at < least($2, coalesce($5::timestamptz, 'infinity'))
      ORDER BY read_at DESC LIMIT 1)"""
# The same for a `newer` cursor: the oldest readings after it first.
READINGS_NEWER = """
    (SELECT read_at, value, source, true AS listed FROM readings
      WHERE meter_number = $1 AND read_at >= $2 AND read_at > $5::timestamptz
        AND read_at <= coalesce($3::timestamptz, 'infinity')
      ORDER BY read_at LIMIT $4)
    UNION ALL
    (SELECT read_at, value, source, false FROM readings
      WHERE meter_number = $1 AND read_at >= $6
        AND read_at < greatest($5::timestamptz + interval '1 microsecond', $2)
      ORDER BY read_at DESC LIMIT 1)"""


async def readings_page(
    conn: asyncpg.Connection,
    meter_number: str,
    period_start: datetime,
    since: datetime,
    until: datetime | None,
    position: Position | None,
    limit: int,
) -> tuple[list[dict], bool]:
    """At most `limit` readings newest first from `position` (the newest for None), each with
    the consumption since the one before it (which may lie before `since`, but not before
    `period_start`: consumption never spans two holders); and whether there are more beyond them
    in the way the page goes (one more reading is read to know)."""
    newer = position is not None and position.newer
    rows = await conn.fetch(
        READINGS_NEWER if newer else READINGS_OLDER,
        meter_number,
        since,
        until,
        limit + 1,
        position.key[0] if position is not None else None,
        period_start,
    )
    listed = [r for r in rows if r["listed"]]
    before = [r for r in rows if not r["listed"]]
    more = len(listed) > limit
    if newer:
        listed = listed[:limit][::-1]
    # Newest first, each followed by the reading before it.
    chain = listed + before
    return [
        {
            "read_at": r["read_at"],
            "value": r["value"],
            "source": r["source"],
            "consumption": r["value"] - chain[n + 1]["value"] if n + 1 < len(chain) else None,
        }
        for n, r in enumerate(chain[:limit])
        if r["listed"]
    ], more


async def last_reading(conn: asyncpg.Connection, meter_number: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT read_at, value FROM readings WHERE meter_number = $1 ORDER BY read_at DESC LIMIT 1",
        meter_number,
    )


async def insert_self_reading(
    conn: asyncpg.Connection,
    meter_number: str,
    read_at: datetime,
    value: Decimal,
    submitted_by: str,
) -> bool:
    return bool(
        await conn.fetchval(
            """INSERT INTO readings (meter_number, read_at, value, source, submitted_by)
           VALUES ($1, $2, $3, 'customer', $4) ON CONFLICT DO NOTHING RETURNING true""",
            meter_number,
            read_at,
            value,
            submitted_by,
        )
    )


# The register at each edge of the buckets, and so the consumption of each bucket: every edge
# looks up the reading at or before it and the one at or after it (an index probe each, LIMIT 1)
# and interpolates between them in time; an edge outside the span of the holder's readings is held
# at its first or last one. Rows read: two per edge and two for the span, however many readings
# the meter has inside or outside the range. The registers are rounded to the litre before they
# are subtracted, so the buckets add up to the rise between the edges of the whole series.
CONSUMPTION_SQL = """
WITH span AS MATERIALIZED (
    SELECT (SELECT read_at FROM readings
             WHERE meter_number = $1 AND read_at >= $2::timestamptz
               AND read_at <= coalesce($3::timestamptz, 'infinity')
             ORDER BY read_at LIMIT 1) AS first_at,
           (SELECT read_at FROM readings
             WHERE meter_number = $1 AND read_at >= $2::timestamptz
               AND read_at <= coalesce($3::timestamptz, 'infinity')
             ORDER BY read_at DESC LIMIT 1) AS last_at
), edges AS (
    SELECT e.n, e.at, s.first_at, s.last_at,
           least(greatest(e.at, s.first_at), s.last_at) AS held
      FROM unnest($4::timestamptz[]) WITH ORDINALITY AS e(at, n), span s
), registers AS (
    SELECT e.n, e.at, e.first_at, e.last_at, hi.read_at AS next_at,
           round(CASE WHEN hi.read_at = lo.read_at THEN lo.value
                      ELSE lo.value + (hi.value - lo.value)
                                      * extract(epoch FROM e.held - lo.read_at)
                                      / extract(epoch FROM hi.read_at - lo.read_at)
                 END, 3) AS register
      FROM edges e
      LEFT JOIN LATERAL (
          SELECT read_at, value FROM readings
           WHERE meter_number = $1 AND read_at >= e.first_at AND read_at <= e.held
           ORDER BY read_at DESC LIMIT 1) lo ON true
      LEFT JOIN LATERAL (
          SELECT read_at, value FROM readings
           WHERE meter_number = $1 AND read_at >= e.held AND read_at <= e.last_at
           ORDER BY read_at LIMIT 1) hi ON true
), buckets AS (
    SELECT n, at AS start_at, lead(at) OVER w AS end_at, register,
           lead(register) OVER w AS end_register, next_at,
           -- the holder's readings cover some of the bucket
           first_at < lead(at) OVER w AND last_at > at AS covered
      FROM registers WINDOW w AS (ORDER BY n)
)
SELECT start_at, CASE WHEN covered THEN end_register - register END AS consumption,
       coalesce(covered AND next_at >= end_at, false) AS estimated
  FROM buckets
 WHERE end_at IS NOT NULL
 ORDER BY n"""


async def consumption(
    conn: asyncpg.Connection,
    meter_number: str,
    period_start: datetime,
    period_end: datetime | None,
    edges: Sequence[datetime],
) -> list[asyncpg.Record]:
    """Each bucket between consecutive `edges` with the rise of the meter's register over it
    (`consumption`, None where the readings of [period_start, period_end] cover no part of it)
    and whether no reading lies within it (`estimated`). Readings outside the period belong to
    another holder of the meter and are not looked at."""
    if len(edges) < 2:
        return []
    return await conn.fetch(CONSUMPTION_SQL, meter_number, period_start, period_end, list(edges))
