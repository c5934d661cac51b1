"""Bodies of the meter views served by metering."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

from shared.api.common import IsoDay, Out, PageQuery
from shared.events.common import Address

# Cubic metres travel as decimal strings with three decimals ("123.456").
CubicMetres = Annotated[
    Decimal,
    Field(ge=0, max_digits=12, decimal_places=3),
    PlainSerializer(lambda v: f"{v:.3f}", return_type=str, when_used="json"),
]
Source = Literal["remote", "inspector", "estimate", "customer"]


class ReadingOut(Out):
    read_at: datetime
    value: CubicMetres
    source: Source
    consumption: Annotated[
        Decimal | None,
        PlainSerializer(
            lambda v: None if v is None else f"{v:.3f}", return_type=str | None, when_used="json"
        ),
    ] = Field(None, description="cubic metres since the reading before it")


class MeterOut(Out):
    meter_number: str
    service_point_id: str
    contract_number: str
    address: Address
    installed_on: date
    removed_on: date | None
    latest_reading: ReadingOut | None


class MetersOut(Out):
    items: list[MeterOut]


class ReadingQuery(PageQuery):
    from_: IsoDay | None = Field(
        None,
        alias="from",
        description="YYYY-MM-DD; default and earliest: the day the meter came onto the "
        "customer's contract",
    )
    to: IsoDay | None = Field(
        None, description="YYYY-MM-DD, not before `from`; latest: the day the meter was removed"
    )
    page_size: int = Field(100, ge=1, le=1000)

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _ordered(self) -> ReadingQuery:
        if self.from_ and self.to and self.to < self.from_:
            raise ValueError("'to' must not be before 'from'")
        return self


class SelfReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: CubicMetres
    read_at: AwareDatetime
