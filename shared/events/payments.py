"""Events the payments service publishes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.events.common import Amount, Contract, Event, Identifier


class PaidInvoice(Contract):
    """How much of a payment goes to one invoice."""

    invoice_number: Identifier
    amount: Amount


class PaymentCompleted(Event, event="payments.payment.completed"):
    """An online payment the provider has confirmed (its notification verified and the verify
    call answered): the money is the utility's, though the ERP has not booked it yet. Billing
    shows the invoices as paid (awaiting booking) and counts `amount` in the balance once, until
    the ERP books the same money (`erp.payment.booked` whose `reference` is `payment_id`), which
    replaces it. `invoices` may sum to less than `amount` (an overpayment the customer
    confirmed): the rest is a credit of the customer."""

    payment_id: uuid.UUID
    customer_id: Identifier
    amount: Amount
    currency: Literal["PLN"] = "PLN"
    invoices: list[PaidInvoice] = Field(max_length=500)
    method: Literal["card", "pay-by-link", "blik"]
    provider: str = Field(min_length=1, max_length=40)
    provider_transaction_id: str = Field(min_length=1, max_length=100)
    paid_by_account_id: uuid.UUID  # the customer's or a manager's account
    completed_at: datetime
