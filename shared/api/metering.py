"""Bodies of the meter views served by metering."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.api.common import IsoDay, Out
from shared.api.paging import CursorQuery, Keyset
from shared.api.selector import CustomerSelector
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


class ReadingQuery(CursorQuery, CustomerSelector):
    """A meter's readings by read_at, newest first."""

    KEYSET = Keyset("readings", ("moment",))

    from_: IsoDay | None = Field(
        None,
        alias="from",
        description="YYYY-MM-DD; default and earliest: the day the meter came onto the "
        "customer's contract",
    )
    to: IsoDay | None = Field(
        None, description="YYYY-MM-DD, not before `from`; latest: the day the meter was removed"
    )
    limit: int = Field(100, ge=1, le=1000, description="how many rows at most")

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


# How much water went through a meter over a while: signed (a reading that corrects an estimate
# downwards makes a negative one), three decimals.
Consumption = Annotated[
    Decimal,
    PlainSerializer(lambda v: f"{v:.3f}", return_type=str, when_used="json"),
]
Granularity = Literal["hour", "day", "month"]
# The most buckets one consumption series answers (docs/decisions.md, "A consumption series"):
# beyond that the caller asks for a coarser granularity or a shorter range.
MAX_BUCKETS = 400


class ConsumptionQuery(CustomerSelector):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    granularity: Granularity = Field(
        "month",
        description="hour, day or month (days and months of the utility's calendar); at most "
        f"{MAX_BUCKETS} of them in the range",
    )
    from_: IsoDay | None = Field(
        None,
        alias="from",
        description="YYYY-MM-DD, a day of the utility's calendar; default and earliest: the day "
        "the meter came onto the customer's contract",
    )
    to: IsoDay | None = Field(
        None,
        description="YYYY-MM-DD, not before `from`; default and latest: today (in the utility's "
        "calendar) or the day the meter was removed",
    )

    @field_validator("to")
    @classmethod
    def _not_before_from(cls, to: date | None, info: ValidationInfo) -> date | None:
        from_ = info.data.get("from_")
        if to is not None and from_ is not None and to < from_:
            raise PydanticCustomError("to_before_from", "'to' must not be before 'from'")
        return to


class ConsumptionPointOut(Out):
    start: datetime = Field(description="the bucket's first moment, in the utility's time zone")
    consumption: Consumption | None = Field(
        description="cubic metres: how much the register rose over the bucket, its value at each "
        "edge interpolated in time between the readings around it; null where the customer's "
        "readings cover no part of the bucket (before the first of them, after the last)"
    )
    estimated: bool = Field(
        description="no reading lies within the bucket: its consumption is a share of the rise "
        "between the readings around it, spread evenly over time"
    )


class ConsumptionOut(Out):
    meter_number: str
    granularity: Granularity
    time_zone: str = Field(description="the utility's, whose calendar the buckets follow")
    first_day: date | None = Field(
        description="the first day the series covers (`from` within the customer's period on "
        "the meter); null when that period and the asked days do not meet"
    )
    last_day: date | None = Field(description="the last day the series covers")
    total: Consumption | None = Field(description="the sum of the points that have consumption")
    points: list[ConsumptionPointOut] = Field(description=f"at most {MAX_BUCKETS}, oldest first")
