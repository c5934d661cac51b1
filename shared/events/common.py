"""Field types and bases shared by the event contracts: amounts, identifiers, addresses, and the
`Event` base that ties a payload model to its event type."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Amounts travel as decimal strings in PLN ("123.45"); two decimal places at most.
Amount = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/_.-]+$")]
Language = Literal["pl", "en", "uk", "ru"]
ExchangeName = Literal["events", "integration"]


class Contract(BaseModel):
    """Base of every payload: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def copy_of(cls, source: BaseModel) -> Self:
        """This contract's fields, taken from `source`: a richer model of the same fact."""
        return cls.model_validate(source.model_dump(include=set(cls.model_fields)))


class Event(Contract):
    """A payload that travels as an event of its own type:

        class InvoiceIssued(Event, event="erp.invoice.issued", exchange="integration"): ...

    The type is the routing key; the exchange is where it is published and consumed (the domain
    exchange `events` unless said otherwise, inherited by subclasses). Publishing a payload and
    subscribing to it therefore never spell out a routing key."""

    TYPE: ClassVar[str]
    EXCHANGE: ClassVar[ExchangeName] = "events"
    registry: ClassVar[dict[str, type[Event]]] = {}

    def __init_subclass__(
        cls, *, event: str | None = None, exchange: ExchangeName | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if exchange is not None:
            cls.EXCHANGE = exchange
        if event is not None:
            if event in Event.registry:
                raise TypeError(f"event type {event!r} is defined twice")
            cls.TYPE = event
            Event.registry[event] = cls


class Address(Contract):
    street: str = Field(min_length=1, max_length=200)
    building: str = Field(min_length=1, max_length=20)
    apartment: str | None = Field(None, max_length=20)
    postal_code: str = Field(pattern=r"^\d{2}-\d{3}$")
    city: str = Field(min_length=1, max_length=100)


class ServicePoint(Contract):
    """A place the utility supplies, with the water meter on it."""

    service_point_id: Identifier
    address: Address
    meter_number: Identifier


class InvoiceTerms(Contract):
    """What names an invoice and when it is due."""

    invoice_number: Identifier
    contract_number: Identifier
    issued_on: date
    due_on: date


class InvoiceFigures(Contract):
    """The period an invoice bills and its totals."""

    period_from: date
    period_to: date
    net: Amount
    vat: Amount
    gross: Amount
