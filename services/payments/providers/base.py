"""What the payments service needs of a payment provider: register a transaction and say where
to send the payer, read and check the provider's notification, confirm the transaction, and find
a transaction by our payment id (reconciliation). One adapter per provider implements it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal, Protocol

Method = Literal["card", "pay-by-link", "blik"]


@dataclass(frozen=True)
class Order:
    """A payment to collect, as the provider is asked for it."""

    payment_id: uuid.UUID
    amount_grosze: int
    currency: str
    description: str
    email: str
    language: str
    method: Method
    bank: str | None
    return_url: str
    notify_url: str


@dataclass(frozen=True)
class Registered:
    token: str
    redirect_url: str


@dataclass(frozen=True)
class Transaction:
    """A transaction the provider says was paid (its notification, or its answer by session)."""

    payment_id: str  # our payment id, as the provider echoes it (not necessarily a UUID)
    order_id: str  # the provider's
    amount_grosze: int
    currency: str
    method_id: int | None = None
    statement: str | None = None


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered something other than a clear yes or no."""


class ProviderRefused(Exception):
    """The provider answered, and said no (a registration or a verification refused)."""


class BadNotification(Exception):
    """A notification that is not the provider's (bad signature, another merchant) or that
    cannot be read; `verdict` is how it is recorded."""

    def __init__(self, verdict: str, detail: str) -> None:
        super().__init__(detail)
        self.verdict = verdict
        self.detail = detail


class Provider(Protocol):
    name: str

    async def register(self, order: Order) -> Registered:
        """Register the transaction; ProviderUnavailable or ProviderRefused."""
        ...

    def read_notification(self, body: bytes) -> Transaction:
        """The transaction a notification reports, once its signature and merchant are checked;
        BadNotification otherwise. Amount and session are for the caller to match."""
        ...

    async def confirm(self, transaction: Transaction) -> None:
        """Tell the provider we accept the transaction (only then is the money ours)."""
        ...

    async def paid_transaction(self, payment_id: uuid.UUID) -> Transaction | None:
        """The transaction of our payment if the provider has its money, else None."""
        ...
