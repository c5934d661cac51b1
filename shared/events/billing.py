"""Events billing publishes on the domain exchange."""

from __future__ import annotations

from datetime import date

from pydantic import EmailStr

from shared.events.common import Address, Amount, Contract, Identifier, Language


class CustomerChanged(Contract):
    customer_id: Identifier
    name: str
    email: EmailStr | None = None
    language: Language | None = None


class ServicePointRef(Contract):
    service_point_id: Identifier
    address: Address
    meter_number: Identifier


class ContractChanged(Contract):
    contract_number: Identifier
    customer_id: Identifier
    signed_on: date
    status: str
    service_points: list[ServicePointRef]


class InvoiceIssued(Contract):
    invoice_number: Identifier
    customer_id: Identifier
    contract_number: Identifier
    issued_on: date
    due_on: date
    gross: Amount


EVENTS = {
    "billing.customer.upserted": CustomerChanged,
    "billing.contract.upserted": ContractChanged,
    "billing.invoice.issued": InvoiceIssued,
}
