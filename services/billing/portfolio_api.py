"""Billing's internal HTTP API for managers: their portfolio (services/billing/portfolio.py)."""

from __future__ import annotations

import json
from decimal import Decimal

import asyncpg
from aiohttp import web

from services.billing import portfolio
from shared.api.billing import PortfolioEntryOut, PortfolioQuery
from shared.api.paging import Page, Position, read_page
from shared.http.problems import json_response, parse_query
from shared.policy import Policy, insufficient_scope
from shared.runtime import DB, authenticate
from shared.scopes import manager_id

routes = web.RouteTableDef()


# The manager's own view: what the gateway's route declares, checked again.
PORTFOLIO = Policy(frozenset({"manager"}), "portfolio", "filtered")


@routes.get("/portfolio")
async def manager_portfolio(request: web.Request) -> web.Response:
    principal = authenticate(request)
    if not PORTFOLIO.allows(principal.role):
        raise insufficient_scope(principal.role, PORTFOLIO)
    query = parse_query(request, PortfolioQuery)
    manager = manager_id(principal)
    async with request.app[DB].connection() as tx:
        today = tx.today()

        async def fetch(position: Position | None) -> tuple[list[dict], bool]:
            if manager is None:
                return [], False
            rows, more = await portfolio.portfolio_page(
                tx.conn, manager, today, query.q, position, query.limit
            )
            return [_portfolio_entry(r) for r in rows], more

        rows, next_cursor, prev_cursor = await read_page(
            fetch, query.KEYSET, lambda row: (row["customer_id"],), query.position
        )
    return json_response(
        Page[PortfolioEntryOut](
            items=[PortfolioEntryOut.model_validate(r) for r in rows],
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
        )
    )


def _portfolio_entry(row: asyncpg.Record) -> dict:
    balance = row["balance"]
    return {
        **dict(row),
        "service_points": json.loads(row["service_points"]),
        "amount_due": max(-balance, Decimal(0)),
    }
