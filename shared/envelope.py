"""The message envelope every event and feed message travels in (handbook §3)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.logs import get_correlation_id

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*){1,3}$"


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    type: str = Field(pattern=EVENT_TYPE_PATTERN, max_length=200)
    version: int = Field(1, ge=1)
    occurred_at: AwareDatetime
    producer: str = Field(min_length=1, max_length=100)
    correlation_id: str = Field(min_length=1, max_length=200)
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
        payload=payload.model_dump(mode="json"),
    )
