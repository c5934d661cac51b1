"""Whose account a request is about, and how much of it the caller may see (decision 58).

Every account route of billing and metering resolves its caller's `Scope` here (defence in
depth: the gateway has checked the role only):

- a customer: their own customer (`?customer=` may name it; another customer is 404);
- a manager: the customer `?customer=` names, among those they hold a live grant over (the
  service's `access_grants`, shared/grants.py); it may be left out while they hold exactly one
  grant, else 422 naming `customer`; no grant over it: 404. A partial grant scopes the answer to
  the granted service points;
- anyone else (an operator): 403 insufficient-scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
from aiohttp import web
from pydantic import ValidationError

from shared import grants
from shared.api.selector import CustomerSelector
from shared.auth import Principal
from shared.http.problems import Problem
from shared.policy import Policy, account, insufficient_scope, partial_scope_forbidden

ACCOUNT_VIEW = account("customer", partial="filtered")


@dataclass(frozen=True)
class Scope:
    """One customer's account, whole or (partial) only the granted service points."""

    customer_id: str
    partial: bool = False
    service_point_ids: tuple[str, ...] = ()  # the granted ones; meaningful when partial

    @property
    def customer_ids(self) -> list[str]:
        return [self.customer_id]


def not_granted() -> Problem:
    return Problem(
        404, "Not found", "No such customer among the accounts you may see", code="not-found"
    )


def selector_needed() -> Problem:
    message = "name the customer: you manage the accounts of more than one"
    return Problem(
        422,
        "Validation failed",
        f"Invalid or missing fields: customer ({message})",
        code="validation-failed",
        errors=[{"field": "customer", "message": message, "code": "missing"}],
    )


def selected_customer(query: dict[str, str]) -> str | None:
    """The `customer` query parameter, or None; 422 naming it when it is not an identifier."""
    if "customer" not in query:
        return None
    try:
        return CustomerSelector.model_validate({"customer": query["customer"]}).customer
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Problem(
            422,
            "Validation failed",
            "Invalid or missing fields: customer",
            code="validation-failed",
            errors=[{"field": "customer", "message": error["msg"], "code": error["type"]}],
        ) from None


def customer_scope(principal: Principal, selected: str | None) -> Scope:
    """A customer's own account; naming anyone else's is 404."""
    own = principal.customer_ids
    if not own or (selected is not None and selected not in own):
        raise not_granted()
    return Scope(selected or own[0])


def manager_scope(found: list[grants.Grant], selected: str | None) -> Scope:
    """The scope of the grant the manager selected (`found`: the grant over `selected`, or for
    None up to two of the manager's grants)."""
    if selected is not None:
        found = [g for g in found if g.customer_id == selected]
    if not found:
        raise not_granted()
    if len(found) > 1:
        raise selector_needed()
    grant = found[0]
    if not grant.partial:
        return Scope(grant.customer_id)
    return Scope(grant.customer_id, True, grant.service_point_ids)


def manager_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.account_id)
    except ValueError:
        return None


async def account_scope(
    conn: asyncpg.Connection,
    principal: Principal,
    request: web.Request,
    policy: Policy = ACCOUNT_VIEW,
) -> Scope:
    """The caller's scope on the account the request selects (see the module)."""
    selected = selected_customer(dict(request.query))
    if principal.role == "customer" and policy.allows("customer"):
        return customer_scope(principal, selected)
    if principal.role == "manager" and policy.allows("manager"):
        manager = manager_id(principal)
        if manager is None:
            raise not_granted()
        if selected is not None:
            grant = await grants.grant(conn, manager, selected)
            found = [grant] if grant is not None else []
        else:
            found = await grants.some_grants(conn, manager, 2)
        return manager_scope(found, selected)
    raise insufficient_scope(principal.role, policy)


def require_whole_customer(scope: Scope, what: str) -> None:
    """403 partial-scope for an action that covers all of the customer's properties."""
    if scope.partial:
        raise partial_scope_forbidden(what)
