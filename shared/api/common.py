from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


class Out(BaseModel):
    """A response body. Listed last among a model's bases, so that its config wins over the
    event contract's (extra fields are ignored when rendering from a database row)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


def _iso_day(value: object) -> object:
    """A day in a query as YYYY-MM-DD only: pydantic would also read `0` or `1700000000` as a
    day since 1970, which a person never means and the document does not promise."""
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


# A calendar day in a query string (format: date, and nothing else).
IsoDay = Annotated[date, BeforeValidator(_iso_day)]


class FieldError(Out):
    field: str
    message: str = Field(description="in English")
    code: str | None = Field(None, description="what is wrong, for clients that word it themselves")
    params: dict[str, str] | None = Field(None, description="the values the message names")


class ProblemOut(Out):
    """An RFC 9457 problem document (application/problem+json); absent members are left out."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class HealthOut(Out):
    """`/health/live` and `/health/ready`: each readiness check is "ok" or "failing"."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, Literal["ok", "failing"]] = Field(default_factory=dict)
