"""Field types shared by the event contracts: amounts, identifiers, addresses."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Amounts travel as decimal strings in PLN ("123.45"); two decimal places at most.
Amount = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2),
    PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json"),
]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/_.-]+$")]
Language = Literal["pl", "en", "uk", "ru"]


class Contract(BaseModel):
    """Base of every payload: unknown fields are refused, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Address(Contract):
    street: str = Field(min_length=1, max_length=200)
    building: str = Field(min_length=1, max_length=20)
    apartment: str | None = Field(None, max_length=20)
    postal_code: str = Field(pattern=r"^\d{2}-\d{3}$")
    city: str = Field(min_length=1, max_length=100)
