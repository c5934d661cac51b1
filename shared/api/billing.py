"""Bodies of the account views served by billing."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.api.common import IsoDay, Out
from shared.api.paging import CursorQuery, Keyset
from shared.api.selector import CustomerSelector
from shared.events.common import (
    Address,
    Amount,
    InvoiceFigures,
    InvoiceTerms,
    Language,
    ServicePoint,
)

InvoiceStatus = Literal["unpaid", "partly_paid", "paid", "overdue"]


class ContractOut(Out):
    contract_number: str
    customer_id: str
    signed_on: date
    status: Literal["active", "terminated"]
    service_points: list[ServicePoint]


class ContractsOut(Out):
    items: list[ContractOut]


class InvoiceOut(InvoiceFigures, InvoiceTerms, Out):
    paid: Amount
    amount_due: Amount
    status: InvoiceStatus
    payment_awaiting_booking: bool = Field(
        False,
        description="part of `paid` is an online payment the utility has not booked yet "
        "(shown as paid at once; the booking replaces it, never adds to it)",
    )


class InvoiceLineOut(Out):
    description: str
    quantity: str
    unit: str
    unit_price: str
    net: Amount
    vat_rate: str


class InvoiceDetailOut(InvoiceOut):
    lines: list[InvoiceLineOut]


class InvoiceQuery(CursorQuery, CustomerSelector):
    """Invoices by (issued_on, invoice_number), newest first."""

    KEYSET = Keyset("invoices", ("day", "text"))

    status: InvoiceStatus | None = None
    from_: IsoDay | None = Field(
        None, alias="from", description="billing period ends on or after (YYYY-MM-DD)"
    )
    to: IsoDay | None = Field(
        None, description="billing period starts on or before (YYYY-MM-DD); not before `from`"
    )

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> InvoiceQuery:
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        return self


class BalanceOut(Out):
    """Positive `balance` is in the customer's favour; negative is owed."""

    balance: Amount
    amount_due: Amount
    overdue_amount: Amount
    overpaid: Amount
    charges: Amount
    credits: Amount
    open_invoices: int
    as_of: date
    currency: Literal["PLN"] = "PLN"


class PaymentOut(Out):
    """Money received. An online payment shows at once, `awaiting_booking` (one entry per
    invoice it pays, `booking_id` `online:<payment id>:<n>`), until the utility books it: then
    the booking stands in its place, never beside it."""

    booking_id: str
    booked_on: date
    amount: Amount
    invoice_number: str | None
    channel: str
    status: Literal["booked", "awaiting_booking"] = "booked"
    reference: uuid.UUID | None = Field(None, description="the online payment's id, if any")


class PaymentQuery(CursorQuery, CustomerSelector):
    """Payments by (booked_on, booking_id), newest first."""

    KEYSET = Keyset("payments", ("day", "text"))


class NoteQuery(CursorQuery, CustomerSelector):
    """Notes by (issued_on, note_number), newest first."""

    KEYSET = Keyset("notes", ("day", "text"))


class NoteOut(Out):
    note_number: str
    kind: Literal["interest", "debit", "credit"]
    issued_on: date
    amount: Amount
    description: str
    invoice_number: str | None


class SummaryQuery(CustomerSelector):
    model_config = ConfigDict(extra="forbid")

    invoices: int = Field(5, ge=0, le=50, description="how many of the latest invoices")


class SummaryOut(Out):
    balance: BalanceOut
    latest_invoices: list[InvoiceOut]
    contracts: list[ContractOut]


class PortfolioQuery(CursorQuery):
    """A manager's customers by customer id, a page at a time (keyset paging by cursor)."""

    KEYSET = Keyset("portfolio", ("text",))

    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="only the customers with a service point whose address, or whose contract "
        "number, contains this (case-insensitive)",
    )


class PortfolioPointOut(Out):
    service_point_id: str
    contract_number: str
    address: Address
    meter_number: str


class PortfolioEntryOut(Out):
    """One customer the manager holds a grant over. For a partial grant the service points are
    the granted ones and the figures those of their invoices (and the payments and notes naming
    them) only."""

    customer_id: str
    name: str | None
    scope: Literal["full", "partial"]
    service_points: list[PortfolioPointOut]
    balance: Amount
    amount_due: Amount
    overdue_amount: Amount
    currency: Literal["PLN"] = "PLN"


# --- e-invoice consent (issue 12) ---------------------------------------------------------------

EInvoiceState = Literal["off", "pending", "on"]
EInvoiceAction = Literal[
    "activation-requested",  # a confirmation link went to the address
    "activated",  # the link was used (or the ERP set it on)
    "address-change-requested",
    "address-changed",
    "withdrawn",
]


class EInvoiceChangeOut(Out):
    """One entry of the consent's history: what, when, who, under which regulations, from where."""

    action: EInvoiceAction
    at: datetime
    address: str | None = Field(description="the address the change is about")
    by: Literal["customer", "manager", "erp"]
    by_login: str | None = Field(description="the account that made it (None: the ERP)")
    regulations_version: str | None
    client_address: str | None = Field(description="the IP address the request came from")


class EInvoicePendingOut(Out):
    """An address waiting for its confirmation link to be used."""

    address: str
    purpose: Literal["activate", "change-address"]
    requested_at: datetime
    expires_at: datetime


class EInvoiceOut(Out):
    state: EInvoiceState = Field(
        description="off; pending: turned on but the address is not confirmed yet; on"
    )
    address: str | None = Field(description="where e-invoices go (on only)")
    since: datetime | None = Field(description="when it was turned on (on only)")
    pending: EInvoicePendingOut | None
    may_change: bool = Field(
        description="false for a manager whose grant covers only some of the customer's "
        "properties (the consent covers them all)"
    )
    regulations_version: str = Field(description="the e-invoice regulations in force now")
    history: list[EInvoiceChangeOut] = Field(description="every change, newest first")


class EInvoiceActivateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: EmailStr = Field(description="where e-invoices are to go; a link confirms it")
    regulations_version: str = Field(
        min_length=1, max_length=40, description="the e-invoice regulations version accepted"
    )


class EInvoiceAddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: EmailStr


class EInvoiceConfirmationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=16, max_length=200)


class EInvoiceConfirmedOut(Out):
    """What the address's holder sees after using the link (no customer data)."""

    state: Literal["on"]
    address: str
    purpose: Literal["activate", "change-address"]


class EInvoiceRegulationsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language = Field("pl", description="the language to read them in")


class EInvoiceRegulationsOut(Out):
    version: str
    language: Language
    title: str
    text: str
