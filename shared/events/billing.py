"""Events billing publishes on the domain exchange."""

from __future__ import annotations

from datetime import date

from pydantic import EmailStr

from shared.events.common import Amount, Event, Identifier, InvoiceTerms, Language, ServicePoint


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
