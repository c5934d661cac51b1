"""The rules of manager requests and grants: reference numbers, how a requested property is
matched against what identity knows of the ERP's customers, and who may do what. No I/O here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from services.identity.domain import amounts_match

Match = Literal["matched", "ambiguous", "unmatched"]


def reference_number(year: int, sequence: int) -> str:
    """What the company quotes when it calls: short, readable over the phone."""
    return f"MR-{year}-{sequence:06d}"


def _words(value: str | None) -> str:
    return " ".join((value or "").casefold().replace(".", " ").split())


def address_key(address: Mapping[str, Any]) -> tuple[str, ...]:
    """An address as it is compared: case, dots and spacing do not matter; the city does not
    either (the postal code says it)."""
    street = _words(address.get("street"))
    for prefix in ("ul ", "ulica ", "al ", "aleja ", "pl ", "plac ", "os ", "osiedle "):
        street = street.removeprefix(prefix)
    return (
        street,
        _words(address.get("building")),
        _words(address.get("apartment")),
        _words(address.get("postal_code")),
    )


@dataclass(frozen=True)
class Candidate:
    """A service point the property's proof leads to."""

    service_point_id: str
    customer_id: str
    contract_number: str
    address: Mapping[str, Any]


@dataclass(frozen=True)
class PropertyMatch:
    match: Match
    customer_id: str | None
    # Each candidate with whether the address given names it.
    service_points: list[tuple[Candidate, bool]]


def match_property(
    address: Mapping[str, Any],
    candidates: Sequence[Candidate],
    invoice: tuple[str, Decimal] | None = None,
    given_amount: Decimal | None = None,
) -> PropertyMatch:
    """How a requested property stands against what its proof leads to: the service points of
    the contract named, or of the customer of the invoice named (`invoice`: its customer and
    gross amount, which must equal `given_amount`)."""
    if invoice is not None and (
        given_amount is None or not amounts_match(invoice[1], given_amount)
    ):
        return PropertyMatch("unmatched", None, [])
    if not candidates:
        if invoice is not None:
            return PropertyMatch("ambiguous", invoice[0], [])
        return PropertyMatch("unmatched", None, [])
    wanted = address_key(address)
    marked = [(c, address_key(c.address) == wanted) for c in candidates]
    customers = {c.customer_id for c, hit in marked if hit} or {c.customer_id for c in candidates}
    if len(customers) == 1 and any(hit for _, hit in marked):
        return PropertyMatch("matched", customers.pop(), marked)
    return PropertyMatch("ambiguous", customers.pop() if len(customers) == 1 else None, marked)


def next_revision(current: int | None) -> int:
    """A grant's revisions count from 1 and grow by one with every change, revocations too."""
    return 1 if current is None else current + 1


def points_outside(granted: Sequence[str], customers_points: Sequence[str]) -> list[str]:
    """The service points of a grant that are not the customer's."""
    known = set(customers_points)
    return [p for p in granted if p not in known]


def unchanged(
    scope: str,
    points: Sequence[str],
    revoked: bool,
    new_scope: str,
    new_points: Sequence[str],
    new_revoked: bool,
) -> bool:
    """Whether a grant would stay as it is (a revoked grant stays revoked whatever its scope)."""
    if revoked and new_revoked:
        return True
    return (scope, sorted(points), revoked) == (new_scope, sorted(new_points), new_revoked)
