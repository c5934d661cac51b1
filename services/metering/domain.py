"""Metering's rules for a customer's own reading. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

# A reading may be stamped a little ahead of the server's clock (the customer's clock drifts).
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Reading:
    read_at: datetime
    value: Decimal


@dataclass(frozen=True)
class Refusal:
    field: str
    message: str


def refuse_self_reading(
    new: Reading,
    now: datetime,
    installed_on: date,
    removed_on: date | None,
    last: Reading | None,
) -> Refusal | None:
    """Why a self-reading cannot be accepted, or None when it can."""
    if new.read_at > now + CLOCK_TOLERANCE:
        return Refusal("read_at", "a reading cannot be dated in the future")
    if removed_on is not None:
        return Refusal("meter_number", f"this meter was removed on {removed_on}")
    if new.read_at.date() < installed_on:
        return Refusal("read_at", f"the meter is on your contract since {installed_on}")
    if last is not None and new.value < last.value:
        return Refusal(
            "value",
            f"{new.value:.3f} is below the last reading of this meter "
            f"({last.value:.3f} m³ on {last.read_at:%Y-%m-%d})",
        )
    if last is not None and new.read_at <= last.read_at:
        return Refusal(
            "read_at",
            f"a reading from {last.read_at:%Y-%m-%d %H:%M} UTC is already there; "
            "a new one must be later",
        )
    return None
