"""Events billing publishes on the domain exchange."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import EmailStr, Field

from shared.events.common import Amount, Event, Identifier, InvoiceTerms, Language, ServicePoint
from shared.events.payments import PaidInvoice
from shared.sealing import SEALED_PATTERN


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
    # Sent to the customer's e-invoice address (billing.e-invoice.issued): no "new invoice"
    # email besides.
    e_invoice: bool = False


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


# --- e-invoice and the customer's emails (issue 12) --------------------------------------------

EInvoiceChangedBy = Literal["customer", "manager", "erp"]


class EInvoiceChanged(Event, event="billing.e-invoice.changed", exchange="integration"):
    """For the ERP (integration exchange, queue `<ns>.backoffice.e-invoice`): the customer's
    e-invoice consent changed, once per change. `state` on: invoices go by email to `address`
    (the ERP stops printing them); off: withdrawn, paper again from the first invoice issued on
    or after `effective_from`. A change the ERP itself made (`erp.e-invoice.changed`) comes back
    with `changed_by` "erp", so the queue holds the whole history; the ERP may skip those."""

    change_id: uuid.UUID
    customer_id: Identifier
    action: Literal["activated", "address-changed", "withdrawn"]
    state: Literal["on", "off"]
    address: EmailStr | None = Field(None, description="the e-invoice address now (None: off)")
    previous_address: EmailStr | None = None
    effective_from: date
    changed_at: datetime
    changed_by: EInvoiceChangedBy
    changed_by_account_id: uuid.UUID | None = None
    regulations_version: str | None = Field(None, max_length=40)


class EInvoiceEmail(Event):
    """What every email billing asks for needs: about which customer, to which address, in
    which language (the customer's account's, else the ERP's, else Polish)."""

    customer_id: Identifier
    email: EmailStr
    language: Language


class EInvoiceConfirmationRequested(
    EInvoiceEmail, event="billing.e-invoice.confirmation-requested"
):
    """The link that confirms an e-invoice address (turning e-invoice on, or a new address):
    single use, expiring; sealed, as identity's activation links are."""

    purpose: Literal["activate", "change-address"]
    confirmation_url: str = Field(pattern=SEALED_PATTERN, description="sealed")
    expires_at: datetime


class EInvoiceAddressReplaced(EInvoiceEmail, event="billing.e-invoice.address-replaced"):
    """To the old e-invoice address (`email`) once a new one is confirmed: e-invoices go to
    `new_address` from now on."""

    new_address: EmailStr
    changed_at: datetime


class EInvoiceIssued(EInvoiceEmail, event="billing.e-invoice.issued"):
    """ "Your e-invoice": an invoice issued while the customer's consent was on, with its PDF
    (rendered by billing, base64), to the e-invoice address. Billing's outbox does not keep it
    once published, and notifications drops the attachment once the email is sent."""

    invoice_number: Identifier
    issued_on: date
    due_on: date
    gross: Amount
    filename: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,120}\.pdf$")
    pdf: str = Field(description="the invoice as a PDF document, base64", max_length=20_000_000)


class InvoiceDueSoon(Event, event="billing.invoice.due-soon"):
    """An invoice still unpaid EBOK_REMINDER_DAYS_BEFORE_DUE days (or fewer) before its due date:
    published once per invoice by billing's reminder scheduler; identity asks for the reminder
    email of each account that wants it."""

    invoice_number: Identifier
    customer_id: Identifier
    contract_number: Identifier
    due_on: date
    gross: Amount
    amount_due: Amount


class PaymentBooked(Event, event="billing.payment.booked"):
    """A payment the ERP booked (`erp.payment.booked`), once per booking. `reference`: the online
    payment it books (the customer was told of that one when it was made)."""

    booking_id: Identifier
    customer_id: Identifier
    booked_on: date
    amount: Amount
    invoice_number: Identifier | None = None
    channel: str
    reference: uuid.UUID | None = None
