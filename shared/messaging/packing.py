"""Several events of one type in one AMQP message, between e-BOK's own services (decision 55).

Each message costs the broker, the publisher and the consumer about the same whatever its size,
so the outbox relay packs a run of consecutive events with the same routing key on the events
exchange into one message: its body is the JSON array of their envelopes, its content type
`ENVELOPES_CONTENT_TYPE`. Each envelope keeps its own id, so the consumer still dedupes, handles,
retries and dead-letters envelope by envelope. Packing only joins neighbours of one type, so a
queue receives the envelopes in the order it would have received them one by one. The
integration exchange (outside systems) and dead letters always carry one envelope per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import orjson

ENVELOPES_CONTENT_TYPE = "application/vnd.ebok.envelopes+json"
ENVELOPES_HEADER = "x-ebok-envelopes"  # how many envelopes a packed message carries
PACKED_EXCHANGE = "events"
MAX_ENVELOPES = 250
MAX_BYTES = 512 * 1024

R = TypeVar("R")


def runs(
    rows: Sequence[R],
    key: Callable[[R], tuple[Any, ...] | None],
    size: Callable[[R], int],
) -> list[list[R]]:
    """`rows` cut into runs of consecutive rows with the same `key`, each at most
    MAX_ENVELOPES rows and MAX_BYTES of `size` (one row larger than that still goes, alone). A row
    whose key is None is never packed: it is a run of its own."""
    found: list[list[R]] = []
    current: list[R] = []
    current_key: tuple[Any, ...] | None = None
    current_bytes = 0
    for row in rows:
        row_key, row_size = key(row), size(row)
        if (
            current
            and row_key is not None
            and row_key == current_key
            and len(current) < MAX_ENVELOPES
            and current_bytes + row_size <= MAX_BYTES
        ):
            current.append(row)
            current_bytes += row_size
            continue
        if current:
            found.append(current)
        current, current_key, current_bytes = [row], row_key, row_size
    if current:
        found.append(current)
    return found


def pack(envelope_bodies: Sequence[str]) -> bytes:
    """The body of a packed message: the envelopes' JSON, as they are, in one array."""
    return ("[" + ",".join(envelope_bodies) + "]").encode()


class NotPacked(ValueError):
    """A packed message whose body is not a JSON array of objects."""


def unpack(body: bytes) -> list[dict[str, Any]]:
    """The envelopes (still unvalidated) of a packed message's body."""
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotPacked(f"packed envelopes: invalid JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise NotPacked("packed envelopes: the body must be a non-empty JSON array")
    if not all(isinstance(item, dict) for item in items):
        raise NotPacked("packed envelopes: every item must be a JSON object (an envelope)")
    return items
