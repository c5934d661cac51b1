"""E-invoice consent: its states and the rules of each change, free of I/O.

    off --POST--> pending --link used--> on --PUT--> on (+ a pending address) --link used--> on
     ^              |                      |
     +---DELETE-----+----------DELETE------+        (the ERP sets on/off at once, at any time)

A link confirms the address it was sent to; at most one link of a customer works at a time (a
new request supersedes the one before, any change of the consent cancels it).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Purpose = Literal["activate", "change-address"]
ChangedBy = Literal["customer", "manager", "erp"]

# A history read returns at most this many entries (newest first): the consent changes a few
# times in a customer's life, so this cap only guards against a pathological account.
HISTORY_LIMIT = 200


@dataclass(frozen=True)
class Pending:
    """A link waiting to be used."""

    purpose: Purpose
    address: str
    expires_at: datetime


@dataclass(frozen=True)
class Consent:
    state: Literal["off", "pending", "on"]
    address: str | None = None
    pending: Pending | None = None


OFF = Consent("off")


class Refusal(enum.Enum):
    """Why a customer's request cannot be done (each a 409 problem, the value its code)."""

    ALREADY_ON = "e-invoice-on"  # POST while on: change the address instead
    NOT_ON = "e-invoice-not-on"  # PUT while off or pending
    SAME_ADDRESS = "same-address"  # PUT of the address e-invoices already go to
    ALREADY_OFF = "e-invoice-off"  # DELETE while off


def refuse_activation(consent: Consent) -> Refusal | None:
    """POST: while pending, the new request replaces the old link (the caller supersedes it)."""
    return Refusal.ALREADY_ON if consent.state == "on" else None


def refuse_address_change(consent: Consent, address: str) -> Refusal | None:
    if consent.state != "on":
        return Refusal.NOT_ON
    if same_address(consent.address, address):
        return Refusal.SAME_ADDRESS
    return None


class Withdrawal(enum.Enum):
    CANCEL_REQUEST = "cancel-request"  # pending: the link stops working, nothing was ever on
    WITHDRAW = "withdraw"  # on: paper again from the next invoice (and a pending change ends)


def withdrawal(consent: Consent) -> Withdrawal | Refusal:
    if consent.state == "off":
        return Refusal.ALREADY_OFF
    if consent.state == "pending":
        return Withdrawal.CANCEL_REQUEST
    return Withdrawal.WITHDRAW


def same_address(a: str | None, b: str | None) -> bool:
    """Email addresses compared as the mail system treats them in practice: case aside."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def changed_by(role: str) -> ChangedBy:
    """Who a signed-in caller is in the history (only customers and managers reach a change)."""
    if role == "customer":
        return "customer"
    if role == "manager":
        return "manager"
    raise ValueError(f"a {role} does not change e-invoice consents")


# --- confirmation links -------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """Stored only as its SHA-256: the token is long and random, so no salt is needed."""
    return hashlib.sha256(token.encode()).digest()


def confirmation_url(public_url: str, token: str) -> str:
    # In the fragment: it never reaches a server's access log or a Referer header.
    return f"{public_url.rstrip('/')}/e-invoice/confirm#token={token}"


def expires_at(now: datetime, hours: int) -> datetime:
    return now + timedelta(hours=hours)


class LinkRefusal(enum.Enum):
    """Why a confirmation link does nothing; identity's activation links answer the same way
    (400 for a token never issued, 410 for one that was but works no more)."""

    INVALID = "invalid"
    USED = "used"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Link:
    status: Literal["pending", "used", "superseded", "cancelled"]
    purpose: Purpose
    expires_at: datetime


def refuse_link(link: Link | None, consent: Consent | None, now: datetime) -> LinkRefusal | None:
    """Why a link (None: unknown) cannot confirm, given its customer's consent now."""
    if link is None or consent is None:
        return LinkRefusal.INVALID
    if link.status == "used":
        return LinkRefusal.USED
    if link.status == "superseded":
        return LinkRefusal.SUPERSEDED
    if link.status == "cancelled":
        return LinkRefusal.CANCELLED
    if now >= link.expires_at:
        return LinkRefusal.EXPIRED
    # Every change of the consent ends its waiting link; this guards that rule (a link to
    # turn on while on, or to change the address of a consent that is off, does nothing).
    if consent.state != ("pending" if link.purpose == "activate" else "on"):
        return LinkRefusal.CANCELLED
    return None


# --- the ERP's changes --------------------------------------------------------------------------


class ErpOutcome(enum.Enum):
    NOTHING = "nothing"  # already so: a repeated message changes nothing
    ACTIVATED = "activated"
    ADDRESS_CHANGED = "address-changed"
    WITHDRAWN = "withdrawn"
    REQUEST_CANCELLED = "request-cancelled"  # off while a customer's request waited: never on


def erp_change(consent: Consent, state: Literal["on", "off"], address: str | None) -> ErpOutcome:
    """What the ERP's `erp.e-invoice.changed` does (a signed paper form is the consent: no link).
    The ERP repeating what holds changes nothing, a waiting customer request included."""
    if state == "on":
        if consent.state != "on":
            return ErpOutcome.ACTIVATED
        if same_address(consent.address, address):
            return ErpOutcome.NOTHING
        return ErpOutcome.ADDRESS_CHANGED
    if consent.state == "on":
        return ErpOutcome.WITHDRAWN
    if consent.state == "pending":
        return ErpOutcome.REQUEST_CANCELLED
    return ErpOutcome.NOTHING


def publishes(outcome: ErpOutcome | Withdrawal) -> bool:
    """Whether the ERP is told (billing.e-invoice.changed): only changes of what it acts on,
    consent on or off and its address; a request that never came into force is not one."""
    return outcome not in (
        ErpOutcome.NOTHING,
        ErpOutcome.REQUEST_CANCELLED,
        Withdrawal.CANCEL_REQUEST,
    )


def exceeds_limit(hits: int, limit: int) -> bool:
    """`hits` counts the request being decided."""
    return hits > limit
