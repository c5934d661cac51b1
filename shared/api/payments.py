"""Bodies of the payments service's routes: paying invoices online and following the payment."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.api.common import Out
from shared.api.paging import CursorQuery, Keyset
from shared.api.selector import CustomerSelector
from shared.events.common import Amount, Identifier

PaymentStatus = Literal["created", "pending", "paid", "failed", "cancelled", "expired"]
PaymentMethod = Literal["card", "pay-by-link", "blik"]


class OnlinePaymentIn(BaseModel):
    """A payment of some (or all) of the invoices due. Sent with an `Idempotency-Key` header:
    the same key and body give the same payment; another body with that key is 409."""

    model_config = ConfigDict(extra="forbid")

    invoices: list[Identifier] | Literal["all-due"] = Field(
        description='the invoice numbers to pay, or "all-due" for every invoice with '
        "something still due",
    )
    amount: Amount = Field(
        ge=Decimal("1.00"),
        description="PLN; at least 1.00, at most what the invoices have due unless "
        "confirm_overpayment",
    )
    confirm_overpayment: bool = Field(
        False, description="pay more than is due: the rest is a credit on the account"
    )
    method: PaymentMethod
    bank: str | None = Field(
        None,
        pattern=r"^[0-9]{1,6}$",
        validate_default=True,
        description="pay-by-link: the bank's method id at the provider (required for it)",
    )
    return_url: str = Field(
        min_length=1,
        max_length=500,
        description="where the provider sends the payer back: on e-BOK's own origin",
    )

    @field_validator("invoices")
    @classmethod
    def _invoices(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            if not value or len(value) > 100:
                raise ValueError('name 1 to 100 invoices, or "all-due"')
            if len(set(value)) != len(value):
                raise ValueError("an invoice is named twice")
        return value

    @field_validator("bank")
    @classmethod
    def _bank_with_pay_by_link(cls, value: str | None, info: ValidationInfo) -> str | None:
        method = info.data.get("method")
        if method == "pay-by-link" and value is None:
            raise ValueError("pay-by-link needs the bank chosen")
        if method is not None and method != "pay-by-link" and value is not None:
            raise ValueError("only pay-by-link names a bank")
        return value


class PaidInvoiceShareOut(Out):
    invoice_number: str
    amount: Amount


class OnlinePaymentOut(Out):
    payment_id: uuid.UUID
    customer_id: str
    status: PaymentStatus
    amount: Amount
    currency: Literal["PLN"]
    method: PaymentMethod
    bank: str | None
    invoices: list[PaidInvoiceShareOut]
    provider: str
    redirect_url: str | None = Field(
        description="the provider's payment page; send the payer there (while pending)"
    )
    return_url: str
    failure_reason: str | None
    created_at: datetime
    settled_at: datetime | None


class OnlinePaymentQuery(CursorQuery, CustomerSelector):
    """Online payments by (created_at, payment_id), newest first."""

    KEYSET = Keyset("online-payments", ("moment", "text"))


class NotificationAcceptedOut(Out):
    status: Literal["accepted"]
