"""Events identity publishes. Those that ask for an email carry what the email must say.

Activation links and one-time passwords travel inside these payloads because the email has to
carry them: sealed (shared/sealing.py), so that the outbox, the queues and any copy hold only
ciphertext. They are never logged, and notifications drops the rendered email once it is sent.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import EmailStr, Field

from shared.events.common import Amount, Contract, Event, Identifier, Language
from shared.events.payments import PaidInvoice
from shared.sealing import SEALED_PATTERN


class RegistrationRequested(Event, event="identity.registration.requested"):
    """The first email of an account's registration: its activation link. A manager account's
    registration (made by an operator's approval or a customer's invitation) has no customer."""

    registration_id: uuid.UUID
    customer_id: Identifier | None = None
    email: EmailStr
    language: Language
    activation_url: str = Field(pattern=SEALED_PATTERN, description="sealed")
    expires_at: datetime


class RegistrationNoticed(Event, event="identity.registration.noticed"):
    """A registration was started for a customer with another email address than the one the
    ERP has on file: the address on file is told, so that the rightful holder learns of it."""

    registration_id: uuid.UUID
    customer_id: Identifier
    email: EmailStr  # the address on file
    language: Language
    applicant_email: str = Field(description="the address given, masked (j***@example.com)")
    started_at: datetime


class AccountEmail(Event):
    """What every email about an existing account needs: whose, where to, in which language."""

    account_id: uuid.UUID
    email: EmailStr
    language: Language
    login: str


class RegistrationRepeated(AccountEmail, event="identity.registration.repeated"):
    """Someone registered for a customer that already has an account: tell the owner."""


class CredentialsIssued(AccountEmail, event="identity.credentials.issued"):
    one_time_password: str = Field(pattern=SEALED_PATTERN, description="sealed")


class AccountActivated(AccountEmail, event="identity.account.activated"):
    """The third registration email; also how billing learns a customer's account language
    (`customer_id`: None for a manager's or an operator's account)."""

    customer_id: Identifier | None = None


class PaymentReceiptRequested(AccountEmail, event="identity.payment-receipt.requested"):
    """An online payment the provider confirmed (`payments.payment.completed`), for the
    "Payment received" email: once per payment to the customer's own account and, when another
    account (a manager) paid, to that account too."""

    payment_id: uuid.UUID
    customer_id: Identifier
    amount: Amount
    currency: Literal["PLN"] = "PLN"
    invoices: list[PaidInvoice] = Field(max_length=500)
    method: Literal["card", "pay-by-link", "blik"]
    completed_at: datetime


class InvoiceNoticeRequested(AccountEmail, event="identity.invoice-notice.requested"):
    """A new invoice (`billing.invoice.issued`, not sent as an e-invoice), for the "New invoice"
    email of an account that has not turned it off."""

    customer_id: Identifier
    invoice_number: Identifier
    issued_on: date
    due_on: date
    gross: Amount


class InvoiceReminderRequested(AccountEmail, event="identity.invoice-reminder.requested"):
    """An invoice due soon and still unpaid (`billing.invoice.due-soon`), for the reminder email
    of an account that has not turned it off."""

    customer_id: Identifier
    invoice_number: Identifier
    due_on: date
    gross: Amount
    amount_due: Amount


class BookingReceiptRequested(AccountEmail, event="identity.booking-receipt.requested"):
    """A payment the utility booked (`billing.payment.booked`, not one made online in e-BOK,
    whose receipt went when it was made), for the "Payment received" email of an account that
    has not turned it off."""

    customer_id: Identifier
    booking_id: Identifier
    booked_on: date
    amount: Amount
    invoice_number: Identifier | None = None


class CaseUpdateRequested(AccountEmail, event="identity.case-update.requested"):
    """A case the account submitted moved on (`correspondence.case.changed`): the "case updated"
    email, with the status and the utility's reply."""

    customer_id: Identifier
    number: str
    status: str
    reply: str | None = None
    reason: str | None = None


class SessionRevoked(Event, event="identity.session.revoked"):
    """Sessions that have ended: every service refuses their access tokens until `valid_until`,
    when the last of those tokens expires anyway."""

    account_id: uuid.UUID
    session_ids: list[uuid.UUID] = Field(min_length=1, max_length=10_000)
    reason: Literal["logout", "password_changed", "refresh_token_reused", "operator"]
    valid_until: datetime


class GrantChanged(Event, event="identity.grant.changed"):
    """A manager's grant over one customer's properties, as it now stands (the whole state, not
    a difference): every service with account views keeps it (`access_grants`) and answers a
    manager from it on the very next request. `revision` grows with every change of the grant
    of this manager and customer: a service keeps the highest it has seen, so a late or repeated
    event never takes a change back. `scope` full covers every service point of the customer,
    those it gets later included; partial covers `service_point_ids` only. `revoked`: the grant
    no longer exists (its last scope is kept for the record)."""

    manager_account_id: uuid.UUID
    customer_id: Identifier
    scope: Literal["full", "partial"]
    service_point_ids: list[Identifier] = Field(default_factory=list, max_length=100_000)
    revoked: bool = False
    revision: int = Field(ge=1)
    changed_at: datetime
    changed_by: Literal["operator", "customer", "erp"]


# --- managers (issue 10) -----------------------------------------------------------------------


class GrantOfDecision(Contract):
    """A grant an operator gave when approving a manager request."""

    customer_id: Identifier
    scope: Literal["full", "partial"]
    service_point_ids: list[Identifier] = Field(default_factory=list, max_length=100_000)


class ManagerRequestReceived(Event, event="identity.manager-request.received"):
    """A company asked for a manager account: the "request received" email, with its reference."""

    reference: str
    company: str
    email: EmailStr
    language: Language


class ManagerRequestRejected(Event, event="identity.manager-request.rejected"):
    """An operator rejected a manager request: the email that says so, and why."""

    reference: str
    company: str
    email: EmailStr
    language: Language
    reason: str


class ManagerRequestDecided(
    Event, event="identity.manager-request.decided", exchange="integration"
):
    """For the back office (integration exchange, queue `<ns>.backoffice.manager-decisions`):
    an operator's decision on a manager request, once, with who made it and when. An approval
    names the manager account it made (the login its holder will sign in with) and the grants."""

    request_id: uuid.UUID
    reference: str
    company: str
    nip: str = Field(pattern=r"^[0-9]{10}$")
    decision: Literal["approved", "rejected"]
    decided_by: uuid.UUID
    decided_by_login: str
    decided_at: datetime
    reason: str | None = None
    manager_account_id: uuid.UUID | None = None
    manager_login: str | None = None
    grants: list[GrantOfDecision] = Field(default_factory=list)


class ManagerGrantChanged(Event, event="identity.manager-grant.changed", exchange="integration"):
    """For the back office (integration exchange, queue `<ns>.backoffice.manager-grants`): a copy
    of every `identity.grant.changed`, who changed it included."""

    manager_account_id: uuid.UUID
    customer_id: Identifier
    scope: Literal["full", "partial"]
    service_point_ids: list[Identifier] = Field(default_factory=list, max_length=100_000)
    revoked: bool = False
    revision: int = Field(ge=1)
    changed_at: datetime
    changed_by: Literal["operator", "customer", "erp"]
