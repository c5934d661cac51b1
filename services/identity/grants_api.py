"""Grants: operators list, change and revoke a manager's grants; a customer sees who manages
their properties, invites a manager and revokes one. Every change is a new revision of the
grant, published at once (grants.set_grant): services answer from it on the next request."""

from __future__ import annotations

import uuid

from aiohttp import web

from services.identity import grants, manager_repository, repository
from services.identity.http_support import client_ip, limit, log
from services.identity.manager_requests_api import grant_out, operator_principal
from shared.api.identity import (
    GrantChangeIn,
    GrantsOut,
    InvitationIn,
    ManagerOfMineOut,
    ManagerQuery,
    ManagersOut,
    ManagerSummaryOut,
)
from shared.api.paging import Page, Position, read_page
from shared.auth import Principal
from shared.http.problems import Problem, json_response, parse_body, parse_query
from shared.policy import insufficient_scope, owner
from shared.runtime import DB, authenticate
from shared.tx import Tx

routes = web.RouteTableDef()

GRANTS = owner("grants")
INVITATIONS_PER_DAY = 20


def _account_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["account_id"])
    except ValueError:
        raise _no_such_manager() from None


def _no_such_manager() -> Problem:
    return Problem(404, "Not found", "No manager account has this id", code="not-found")


def _no_such_grant() -> Problem:
    return Problem(404, "Not found", "This manager holds no grant over it", code="not-found")


async def _manager(tx: Tx, account_id: uuid.UUID) -> None:
    account = await repository.account_by_id(tx.conn, account_id)
    if account is None or account["role"] != "manager":
        raise _no_such_manager()


# --- operators ------------------------------------------------------------------------------


@routes.get("/operator/managers")
async def managers(request: web.Request) -> web.Response:
    """Manager accounts by login, searched by login, company or email, a page at a time."""
    operator_principal(request)
    query = parse_query(request, ManagerQuery)
    async with request.app[DB].connection() as tx:

        async def fetch(position: Position | None) -> tuple[list[dict], bool]:
            rows, more = await manager_repository.managers_page(
                tx.conn, query.q, position, query.limit
            )
            return [{**dict(r), "account_id": r["id"]} for r in rows], more

        rows, next_cursor, prev_cursor = await read_page(
            fetch, query.KEYSET, lambda row: (row["login"],), query.position
        )
    return json_response(
        Page[ManagerSummaryOut](
            items=[ManagerSummaryOut.model_validate(r) for r in rows],
            next_cursor=next_cursor,
            prev_cursor=prev_cursor,
        )
    )


@routes.get("/operator/managers/{account_id}/grants")
async def grants_of_manager(request: web.Request) -> web.Response:
    operator_principal(request)
    account_id = _account_id(request)
    async with request.app[DB].connection() as tx:
        await _manager(tx, account_id)
        rows = await manager_repository.grants_of_manager(tx.conn, account_id)
    return json_response(GrantsOut(items=[grant_out(r) for r in rows]))


@routes.put("/operator/managers/{account_id}/grants/{customer_id}")
async def change_grant(request: web.Request) -> web.Response:
    principal = operator_principal(request)
    account_id = _account_id(request)
    customer_id = request.match_info["customer_id"]
    body = await parse_body(request, GrantChangeIn)
    async with request.app[DB].transaction() as tx:
        await _manager(tx, account_id)
        await grants.check_points(
            tx, customer_id, body.scope, body.service_point_ids, "service_point_ids"
        )
        row = await grants.set_grant(
            tx,
            account_id,
            customer_id,
            body.scope,
            body.service_point_ids,
            grants.Change("operator", uuid.UUID(principal.account_id)),
        )
    log.info("grant changed by an operator", operator=principal.login, revision=row["revision"])
    return json_response(grant_out(row))


@routes.delete("/operator/managers/{account_id}/grants/{customer_id}")
async def revoke_grant(request: web.Request) -> web.Response:
    principal = operator_principal(request)
    account_id = _account_id(request)
    async with request.app[DB].transaction() as tx:
        row = await grants.revoke_grant(
            tx,
            account_id,
            request.match_info["customer_id"],
            grants.Change("operator", uuid.UUID(principal.account_id)),
        )
    if row is None:
        raise _no_such_grant()
    log.info("grant revoked by an operator", operator=principal.login, revision=row["revision"])
    return json_response(grant_out(row))


# --- the customer who owns the properties ----------------------------------------------------


def _owner(request: web.Request) -> tuple[Principal, str]:
    """The caller, who must be a customer, and their customer id."""
    principal = authenticate(request)
    if principal.role != "customer" or not principal.customer_ids:
        raise insufficient_scope(principal.role, GRANTS)
    return principal, principal.customer_ids[0]


@routes.get("/me/managers")
async def my_managers(request: web.Request) -> web.Response:
    _, customer_id = _owner(request)
    async with request.app[DB].connection() as tx:
        rows = await manager_repository.managers_of_customer(tx.conn, customer_id)
    return json_response(
        ManagersOut(
            items=[
                ManagerOfMineOut.model_validate(
                    {
                        **dict(r),
                        "service_point_ids": list(r["service_point_ids"]),
                    }
                )
                for r in rows
            ]
        )
    )


@routes.post("/me/managers")
async def invite_manager(request: web.Request) -> web.Response:
    principal, customer_id = _owner(request)
    body = await parse_body(request, InvitationIn)
    async with request.app[DB].connection() as tx:
        # Each invitation of a new address sends it email: a customer's are bounded.
        await limit(
            tx.conn,
            f"manager-invitation:{customer_id}",
            INVITATIONS_PER_DAY,
            24 * 3600,
            "Too many invitations today; try again tomorrow",
        )
    async with request.app[DB].transaction() as tx:
        await grants.check_points(
            tx, customer_id, body.scope, body.service_point_ids, "service_point_ids"
        )
        manager = await grants.manager_account_for(
            tx,
            email=str(body.email),
            phone=None,
            language=body.language,
            company=body.company,
            client_ip=client_ip(request),
        )
        row = await grants.set_grant(
            tx,
            manager["id"],
            customer_id,
            body.scope,
            body.service_point_ids,
            grants.Change("customer", uuid.UUID(principal.account_id)),
        )
    log.info("manager invited by a customer", revision=row["revision"])
    return json_response(grant_out(row), status=201)


@routes.delete("/me/managers/{account_id}")
async def revoke_my_manager(request: web.Request) -> web.Response:
    principal, customer_id = _owner(request)
    account_id = _account_id(request)
    async with request.app[DB].transaction() as tx:
        row = await grants.revoke_grant(
            tx,
            account_id,
            customer_id,
            grants.Change("customer", uuid.UUID(principal.account_id)),
        )
    if row is None:
        raise _no_such_grant()
    log.info("manager revoked by a customer", revision=row["revision"])
    return json_response(grant_out(row))
