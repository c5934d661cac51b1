"""Who may call a route, and what of theirs it touches (decision 57).

Every route of the gateway's table declares a `Policy`; the gateway checks the caller's role
before it forwards, and the service behind it checks again (defence in depth) with the same
policy, resolving the object (the customer, and for a partial manager the service points) from
its own projection of grants (`shared/scopes.py`).

- `ANONYMOUS`: no token needed.
- `signed_in(...)`: any account, about itself (its profile, its password, its session).
- `account(touches, partial=...)`: a customer's account views. The customer themself, or a
  manager holding a grant over that customer (the customer chosen with `?customer=`). A manager
  with a **partial** grant gets the route `"filtered"` to the granted service points, or
  `"forbidden"` (403: the action covers all of the customer's properties).
- `owner(touches)`: only the customer themself (e.g. who manages my properties).
- `operator(touches)`: utility operators only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.http.problems import Problem

Role = Literal["customer", "manager", "operator"]
ROLES: tuple[Role, ...] = ("customer", "manager", "operator")
Partial = Literal["filtered", "forbidden"]


@dataclass(frozen=True)
class Policy:
    roles: frozenset[Role]  # empty: anonymous
    touches: str  # the object the route reads or changes: "nothing", "own-account", "customer", …
    partial: Partial | None = None  # what a manager with a partial grant gets (account routes)
    password_change: bool = False  # callable while the account must still change its password

    def __post_init__(self) -> None:
        if ("manager" in self.roles) != (self.partial is not None):
            raise ValueError(f"{self}: a route open to managers says what a partial grant gets")

    @property
    def anonymous(self) -> bool:
        return not self.roles

    def allows(self, role: str) -> bool:
        return role in self.roles

    @property
    def summary(self) -> str:
        """How the OpenAPI document and the docs name the policy."""
        if self.anonymous:
            return "anonymous"
        who = "/".join(sorted(self.roles))
        partial = f", partial grant: {self.partial}" if self.partial else ""
        return f"{who} ({self.touches}{partial})"


ANONYMOUS = Policy(frozenset(), "nothing")


def signed_in(touches: str = "own-account", *, password_change: bool = False) -> Policy:
    return Policy(frozenset(ROLES), touches, "filtered", password_change)


def account(touches: str, *, partial: Partial) -> Policy:
    return Policy(frozenset({"customer", "manager"}), touches, partial)


def owner(touches: str) -> Policy:
    return Policy(frozenset({"customer"}), touches)


def operator(touches: str) -> Policy:
    return Policy(frozenset({"operator"}), touches)


def insufficient_scope(role: str, policy: Policy) -> Problem:
    """403 for a role the route is not for."""
    return Problem(
        403,
        "Insufficient scope",
        f"This route is for {' and '.join(sorted(policy.roles))} accounts, "
        f"not for {'an' if role[0] in 'aeiou' else 'a'} {role}.",
        code="insufficient-scope",
    )


def partial_scope_forbidden(what: str) -> Problem:
    """403 for a manager whose grant covers only part of the customer's properties, on an action
    that covers all of them (e-invoice consent, the customer's basic or auxiliary data)."""
    return Problem(
        403,
        "Not in your scope",
        f"{what} covers all of the customer's properties; your grant covers only some of them.",
        code="partial-scope",
    )
