"""Events metering publishes."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime

from shared.events.common import Contract, Event, Identifier


class SelfReadingSubmitted(Event, event="metering.reading.submitted", exchange="integration"):
    """A customer's own meter reading, for the back office (integration exchange)."""

    reading_id: uuid.UUID
    meter_number: Identifier
    customer_id: Identifier
    service_point_id: Identifier
    read_at: AwareDatetime
    value: Decimal
    submitted_by: str


class RejectedReading(Contract):
    index: int
    reading: Any
    reason: str


class ReadingsRejected(Event, event="metering.readings.rejected"):
    """Dead letter: the malformed readings of a batch, each with its reason."""

    source_message_id: uuid.UUID
    rejected: list[RejectedReading]
