"""Inbound feeds from the utility's ERP, on the integration exchange (handbook §6)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import EmailStr, Field, model_validator

from shared.events.common import (
    Address,
    Amount,
    Contract,
    Event,
    Identifier,
    InvoiceFigures,
    InvoiceTerms,
    Language,
    ServicePoint,
)


class Feed(Event, exchange="integration"):
    """A message from the ERP."""


class CustomerUpserted(Feed, event="erp.customer.upserted"):
    customer_id: Identifier
    name: str = Field(min_length=1, max_length=300)
    kind: Literal["person", "company"]
    tax_id: str | None = Field(None, max_length=20)
    email: EmailStr | None = None
    phone: str | None = Field(None, max_length=30)
    address: Address
    language: Language | None = None


class ContractUpserted(Feed, event="erp.contract.upserted"):
    contract_number: Identifier
    customer_id: Identifier
    signed_on: date
    status: Literal["active", "terminated"]
    service_points: list[ServicePoint] = Field(min_length=1, max_length=10_000)


class InvoiceLine(Contract):
    description: str = Field(min_length=1, max_length=500)
    quantity: Decimal = Field(max_digits=14, decimal_places=3)
    unit: str = Field(min_length=1, max_length=20)
    unit_price: Decimal = Field(max_digits=14, decimal_places=4)
    net: Amount
    vat_rate: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)


class InvoiceIssued(InvoiceFigures, InvoiceTerms, Feed, event="erp.invoice.issued"):
    customer_id: Identifier
    lines: list[InvoiceLine] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _consistent(self) -> InvoiceIssued:
        if self.net + self.vat != self.gross:
            raise ValueError("gross must equal net + vat")
        if self.due_on < self.issued_on:
            raise ValueError("due_on must not be before issued_on")
        if self.period_to < self.period_from:
            raise ValueError("period_to must not be before period_from")
        return self


class PaymentBooked(Feed, event="erp.payment.booked"):
    """Money the ERP has booked. `reference`: the e-BOK payment id when the money is an online
    payment e-BOK told the ERP about (`billing.online-payment.received`): the booking replaces
    that payment's amount awaiting booking, never adds to it."""

    booking_id: Identifier
    customer_id: Identifier
    booked_on: date
    amount: Amount = Field(gt=0)
    invoice_number: Identifier | None = None
    channel: str = Field(min_length=1, max_length=40)
    reference: uuid.UUID | None = None


class NoteIssued(Feed, event="erp.note.issued"):
    """An accounting note: interest and debit notes charge the customer, credit notes refund."""

    note_number: Identifier
    customer_id: Identifier
    kind: Literal["interest", "debit", "credit"]
    issued_on: date
    amount: Amount = Field(gt=0)
    description: str = Field(min_length=1, max_length=500)
    invoice_number: Identifier | None = None


class ManagerGranted(Feed, event="erp.manager.granted"):
    """The ERP gives a manager (by their e-BOK login) a grant over a customer's properties, or
    changes it: `full` covers every service point of the customer, `partial` those listed."""

    manager_login: str = Field(min_length=1, max_length=100)
    customer_id: Identifier
    scope: Literal["full", "partial"]
    service_point_ids: list[Identifier] = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _points_for_partial(self) -> ManagerGranted:
        if self.scope == "partial" and not self.service_point_ids:
            raise ValueError("a partial grant lists its service points")
        return self


class ManagerRevoked(Feed, event="erp.manager.revoked"):
    """The ERP ends a manager's grant over a customer's properties."""

    manager_login: str = Field(min_length=1, max_length=100)
    customer_id: Identifier


class EInvoiceChanged(Feed, event="erp.e-invoice.changed"):
    """The ERP sets a customer's e-invoice consent, for customers who signed a paper form (or
    withdrew on paper): on with `address`, or off. Taken as it comes (no confirmation link: the
    signature is the consent); e-BOK publishes it back as `billing.e-invoice.changed`."""

    customer_id: Identifier
    state: Literal["on", "off"]
    address: EmailStr | None = None
    signed_on: date | None = Field(None, description="when the customer signed the form")
    regulations_version: str | None = Field(None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _address_when_on(self) -> EInvoiceChanged:
        if self.state == "on" and self.address is None:
            raise ValueError("an e-invoice consent that is on names its address")
        if self.state == "off" and self.address is not None:
            raise ValueError("an e-invoice consent that is off names no address")
        return self
