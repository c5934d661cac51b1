"""The message envelope every event and feed message travels in (handbook §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.logs import get_correlation_id
from shared.tracing import current_traceparent

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,3}$"
TRACEPARENT_PATTERN = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=200)
    version: int = Field(1, ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    correlation_id: str = Field(min_length=1, max_length=200)
    # The W3C trace context of the span that wrote the event (shared/tracing.py): optional, and
    # left out of the JSON when there is none, as when tracing is off.
    traceparent: str | None = Field(
        None, pattern=TRACEPARENT_PATTERN, exclude_if=lambda value: value is None
    )
    payload: dict[str, Any]


def new_envelope(
    event_type: str,
    payload: BaseModel,
    producer: str,
    *,
    version: int = 1,
    correlation_id: str | None = None,
    message_id: uuid.UUID | None = None,
) -> Envelope:
    return Envelope(
        id=message_id or uuid.uuid4(),
        type=event_type,
        version=version,
        occurred_at=datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id or get_correlation_id(),
        traceparent=current_traceparent(),
        payload=payload.model_dump(mode="json"),
    )
