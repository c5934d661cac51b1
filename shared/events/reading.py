"""Inbound feeds from the utility's meter reading system (handbook §6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from shared.events.common import Event, Identifier


class ReadingRecorded(Event, event="reading.recorded", exchange="integration"):
    meter_number: Identifier
    read_at: AwareDatetime
    value: Decimal = Field(ge=0, max_digits=12, decimal_places=3)
    source: Literal["remote", "inspector", "estimate"]


class ReadingBatchRecorded(Event, event="reading.batch.recorded", exchange="integration"):
    """Up to thousands of readings. Each is checked on its own: malformed ones are dead-lettered
    with their reasons while the rest of the batch is stored."""

    readings: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
