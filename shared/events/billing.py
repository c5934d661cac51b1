"""Events billing publishes on the domain exchange."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import EmailStr, Field

from shared.events.common import Amount, Event, Identifier, InvoiceTerms, Language, ServicePoint
from shared.events.payments import PaidInvoice


class CustomerChanged(Event, event="billing.customer.upserted"):
    customer_id: Identifier
    name: str
    email: EmailStr | None = None
    language: Language | None = None


class ContractChanged(Event, event="billing.contract.upserted"):
    contract_number: Identifier
    customer_id: Identifier
    signed_on: date
    status: str
    service_points: list[ServicePoint]


class InvoiceIssued(InvoiceTerms, Event, event="billing.invoice.issued"):
    customer_id: Identifier
    gross: Amount


class OnlinePaymentReceived(Event, event="billing.online-payment.received", exchange="integration"):
    """For the ERP (integration exchange, queue `<ns>.backoffice.online-payments`): an online
    payment the provider confirmed, once per payment (a copy of `payments.payment.completed`
    as billing first took it). The ERP books it with `erp.payment.booked` whose `reference` is
    `payment_id`; until then billing counts it as awaiting booking."""

    payment_id: uuid.UUID
    customer_id: Identifier
    amount: Amount
    currency: Literal["PLN"] = "PLN"
    invoices: list[PaidInvoice] = Field(max_length=500)
    method: Literal["card", "pay-by-link", "blik"]
    provider: str = Field(min_length=1, max_length=40)
    provider_transaction_id: str = Field(min_length=1, max_length=100)
    paid_by_account_id: uuid.UUID
    completed_at: datetime


class InvoiceSettled(Event, event="billing.invoice.settled"):
    """What an invoice has been paid, whenever billing's settlement changes it (ERP bookings,
    credit notes, online payments awaiting booking, corrections): `paid` of `gross`. Published
    in the transaction that changes it. `online_payment_ids` are the online payments whose
    money billing counts on this invoice now (entries awaiting booking or the ERP's bookings
    naming it with their `reference`): payments subtracts what it collected itself only for
    the payments billing does not count yet (decision 62)."""

    invoice_number: Identifier
    customer_id: Identifier
    paid: Amount
    gross: Amount
    # Bounded (an invoice paid online in over a thousand payments names its first thousand):
    # one left out only makes payments offer less of the invoice, never more.
    online_payment_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
