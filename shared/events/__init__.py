"""The event contract: one module per producing domain. Each payload model names its own type
(`class X(Event, event="...")`); CATALOG maps every type to its model."""

from shared.events import (
    billing,
    correspondence,
    erp,
    identity,
    metering,
    notifications,
    payments,
    reading,
)
from shared.events.common import Event

__all__ = [
    "CATALOG",
    "Event",
    "billing",
    "correspondence",
    "erp",
    "identity",
    "metering",
    "notifications",
    "payments",
    "reading",
]

CATALOG: dict[str, type[Event]] = dict(sorted(Event.registry.items()))
