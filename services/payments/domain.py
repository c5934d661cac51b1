"""The rules of paying: what an amount may be, how it is spread over invoices, which return
addresses are ours, and what reconciliation does with a payment. No I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Literal
from urllib.parse import urlsplit

MINIMUM = Decimal("1.00")
FINAL = ("paid", "failed", "cancelled", "expired")


@dataclass(frozen=True)
class Due:
    """An invoice with what is still due on it."""

    invoice_number: str
    due_on: date
    due: Decimal


def due(gross: Decimal, billing_paid: Decimal, not_counted: Decimal) -> Decimal:
    """What may still be paid online on an invoice: its gross less what billing knows it has
    been paid (by any channel) less what payments collected for it that billing does not count
    yet (its event is on the way); never below zero. Each sum counts a payment at most once,
    so nothing billing knows as paid is offered again; an overpayment made in the moment
    before billing's word arrives is a credit in billing, never lost."""
    return max(gross - billing_paid - not_counted, Decimal(0))


def allocate(invoices: list[Due], amount: Decimal) -> list[tuple[str, Decimal]]:
    """`amount` spread over the invoices, the earliest due first, each up to what it has due;
    what is left over (an overpayment) goes to none of them."""
    left = amount
    shares = []
    for invoice in sorted(invoices, key=lambda i: (i.due_on, i.invoice_number)):
        share = min(left, invoice.due)
        if share <= 0:
            break
        shares.append((invoice.invoice_number, share))
        left -= share
    return shares


class Refused(Exception):
    """A payment that cannot be made as asked: the field, why, and a code for clients."""

    def __init__(self, field: str, message: str, code: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code


def plan(
    found: list[Due], named: list[str] | None, amount: Decimal, confirm_overpayment: bool
) -> list[tuple[str, Decimal]]:
    """How `amount` goes to the invoices `found` on the account (those `named`, or every one
    with something due for None), or Refused."""
    if named is not None:
        missing = sorted(set(named) - {d.invoice_number for d in found})
        if missing:
            message = f"no such invoice on your account: {', '.join(missing)}"
            raise Refused("invoices", message, "unknown_invoice")
        found = [d for d in found if d.invoice_number in named]
    due = [d for d in found if d.due > 0]
    if not due and not confirm_overpayment:
        raise Refused("invoices", "nothing is due on them", "nothing_due")
    total = sum((d.due for d in due), start=Decimal(0))
    if problem := amount_problem(amount, total, confirm_overpayment):
        raise Refused("amount", problem, "amount_not_allowed")
    return allocate(due, amount)


def amount_problem(amount: Decimal, due: Decimal, confirm_overpayment: bool) -> str | None:
    """Why `amount` cannot be paid towards `due`, or None."""
    if amount < MINIMUM:
        return f"must be at least {MINIMUM} PLN"
    if amount > due and not confirm_overpayment:
        return (
            f"is more than the {due:.2f} PLN due; set confirm_overpayment to pay more "
            "(the rest is a credit on the account)"
        )
    return None


def same_origin(url: str, public_url: str) -> bool:
    """`url` is an absolute http(s) address on the public URL's origin (scheme, host, port)."""
    try:
        mine, theirs = urlsplit(public_url), urlsplit(url)
        return (
            theirs.scheme in ("http", "https")
            and (theirs.scheme, theirs.hostname, theirs.port or _port(theirs.scheme))
            == (mine.scheme, mine.hostname, mine.port or _port(mine.scheme))
            and not theirs.username
            and not theirs.password
        )
    except ValueError:
        return False


def address_allowed(address: str, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    """`address` is in one of `networks` (none given: any address is)."""
    if not networks:
        return True
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def request_hash(customer_id: str, body: dict) -> str:
    """What makes two requests with one Idempotency-Key the same request."""
    text = json.dumps({"customer": customer_id, "body": body}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def grosze(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


def from_grosze(value: int) -> Decimal:
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def cancellable(status: str) -> bool:
    """A payer may cancel a payment not yet settled (and one already cancelled, again)."""
    return status in ("created", "pending", "cancelled")


Verdict = Literal["accepted", "duplicate", "unknown-session", "amount-mismatch"]


def notification_verdict(
    status: str | None, amount: Decimal | None, paid_grosze: int, currency: str
) -> Verdict:
    """What a verified notification means for the payment it names (`status` None: no such
    payment). A notification for an expired payment is still the provider's word that the money
    is ours: it settles it (once)."""
    if status is None or amount is None:
        return "unknown-session"
    if paid_grosze != grosze(amount) or currency != "PLN":
        return "amount-mismatch"
    if status == "paid":
        return "duplicate"
    return "accepted"


Reconciliation = Literal["settle", "expire", "wait"]


def reconcile(
    paid_at_provider: bool, since: datetime, now: datetime, expire_after: timedelta
) -> Reconciliation:
    """What reconciliation does with a payment still open since `since`."""
    if paid_at_provider:
        return "settle"
    if now - since >= expire_after:
        return "expire"
    return "wait"
