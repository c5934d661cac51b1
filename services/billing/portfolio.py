"""A manager's portfolio (decision 58): the customers they hold a grant over, each with the
service points they may see, the balance and the overdue amount (of the granted part only, for a
partial grant), a page at a time by customer id, searchable by address or contract number.

One statement per page: the page of the manager's grants (a range of access_grants' primary
key), each customer's contracts and service points by their indexes, and the figures — from the
customer's rows for a full grant, from the granted contracts' invoices and the payments and notes
naming them for a partial one (as repository.balance / partial_balance compute them)."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from shared.api.paging import Position

# $1 manager, $2 today, $3 how many rows; the cursor's customer id and the search pattern follow
# when given (their numbers are filled in).
PORTFOLIO_SQL = """
WITH page AS MATERIALIZED (
    SELECT g.customer_id, g.scope = 'partial' AS partial, g.service_point_ids
      FROM access_grants g
     WHERE g.manager_account_id = $1 AND NOT g.revoked {after} {search}
     ORDER BY g.customer_id {direction} LIMIT $3
), points AS MATERIALIZED (
    SELECT p.customer_id, sp.service_point_id, sp.contract_number, sp.address, sp.meter_number
      FROM page p,
           LATERAL (SELECT contract_number FROM contracts WHERE customer_id = p.customer_id
                    OFFSET 0) c,
           LATERAL (SELECT * FROM service_points WHERE contract_number = c.contract_number
                    OFFSET 0) sp
     WHERE NOT p.partial OR sp.service_point_id = ANY(p.service_point_ids)
), granted_invoices AS MATERIALIZED (
    SELECT p.customer_id, i.invoice_number
      FROM page p,
           LATERAL (SELECT DISTINCT contract_number FROM points
                     WHERE points.customer_id = p.customer_id) c,
           LATERAL (SELECT invoice_number FROM invoices
                     WHERE contract_number = c.contract_number AND customer_id = p.customer_id
                    OFFSET 0) i
     WHERE p.partial
), figures AS (
    SELECT p.customer_id, inv.gross + nts.charges AS charges, pay.total + nts.credits AS credits,
           inv.overdue
      FROM page p,
           LATERAL (SELECT coalesce(sum(gross), 0) AS gross,
                           coalesce(sum(greatest(gross - paid, 0)) FILTER (WHERE due_on < $2), 0)
                               AS overdue
                      FROM invoices WHERE customer_id = p.customer_id) inv,
           LATERAL (SELECT coalesce(sum(amount), 0) AS total FROM payments
                     WHERE customer_id = p.customer_id) pay,
           LATERAL (SELECT coalesce(sum(amount) FILTER (WHERE kind <> 'credit'), 0) AS charges,
                           coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0) AS credits
                      FROM notes WHERE customer_id = p.customer_id) nts
     WHERE NOT p.partial
    UNION ALL
    SELECT p.customer_id, inv.gross + nts.charges, pay.total + nts.credits, inv.overdue
      FROM page p,
           LATERAL (SELECT coalesce(sum(i.gross), 0) AS gross,
                           coalesce(sum(greatest(i.gross - i.paid, 0))
                                    FILTER (WHERE i.due_on < $2), 0) AS overdue
                      FROM granted_invoices gi,
                           LATERAL (SELECT gross, paid, due_on FROM invoices
                                     WHERE invoice_number = gi.invoice_number OFFSET 0) i
                     WHERE gi.customer_id = p.customer_id) inv,
           LATERAL (SELECT coalesce(sum(x.amount), 0) AS total
                      FROM granted_invoices gi,
                           LATERAL (SELECT amount FROM payments
                                     WHERE invoice_number = gi.invoice_number
                                       AND customer_id = p.customer_id OFFSET 0) x
                     WHERE gi.customer_id = p.customer_id) pay,
           LATERAL (SELECT coalesce(sum(x.amount) FILTER (WHERE x.kind <> 'credit'), 0)
                               AS charges,
                           coalesce(sum(x.amount) FILTER (WHERE x.kind = 'credit'), 0) AS credits
                      FROM granted_invoices gi,
                           LATERAL (SELECT amount, kind FROM notes
                                     WHERE invoice_number = gi.invoice_number
                                       AND customer_id = p.customer_id OFFSET 0) x
                     WHERE gi.customer_id = p.customer_id) nts
     WHERE p.partial
)
SELECT p.customer_id, cu.name, CASE WHEN p.partial THEN 'partial' ELSE 'full' END AS scope,
       f.credits - f.charges AS balance, f.overdue AS overdue_amount,
       coalesce((SELECT json_agg(json_build_object(
                        'service_point_id', pt.service_point_id,
                        'contract_number', pt.contract_number,
                        'address', pt.address,
                        'meter_number', pt.meter_number) ORDER BY pt.service_point_id)
                   FROM points pt WHERE pt.customer_id = p.customer_id), '[]') AS service_points
  FROM page p
  JOIN figures f USING (customer_id)
  LEFT JOIN LATERAL (SELECT name FROM customers WHERE customer_id = p.customer_id OFFSET 0) cu
         ON true
 ORDER BY p.customer_id {direction}"""

# A grant matches the search when one of the service points it covers has the text in its
# address, or in its contract's number.
SEARCH = """AND EXISTS (
        SELECT 1
          FROM (SELECT contract_number FROM contracts WHERE customer_id = g.customer_id
                OFFSET 0) c,
               LATERAL (SELECT service_point_id, address FROM service_points
                         WHERE contract_number = c.contract_number OFFSET 0) sp
         WHERE (g.scope = 'full' OR sp.service_point_id = ANY(g.service_point_ids))
           AND (c.contract_number ILIKE ${n} ESCAPE '\\'
                OR concat_ws(' ', sp.address->>'street', sp.address->>'building',
                             sp.address->>'apartment', sp.address->>'postal_code',
                             sp.address->>'city') ILIKE ${n} ESCAPE '\\'))"""


def like_pattern(text: str) -> str:
    """`text` anywhere, its own % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def portfolio_page(
    conn: asyncpg.Connection,
    manager: uuid.UUID,
    today: date,
    search: str | None,
    position: Position | None,
    limit: int,
) -> tuple[list[asyncpg.Record], bool]:
    """At most `limit` customers in the order of their ids from `position` (the first for None),
    and whether there are more beyond them in the way the page goes."""
    newer = position is not None and position.newer
    args: list[object] = [manager, today, limit + 1]
    after = ""
    if position is not None:
        args.append(position.key[0])
        after = f"AND g.customer_id {'<' if newer else '>'} ${len(args)}"
    where = ""
    if search is not None:
        args.append(like_pattern(search))
        where = SEARCH.format(n=len(args))
    sql = PORTFOLIO_SQL.format(after=after, search=where, direction="DESC" if newer else "ASC")
    rows = await conn.fetch(sql, *args)
    more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    return rows, more
