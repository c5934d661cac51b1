"""The event contract: one module per producing domain; CATALOG maps a type to its payload model."""

from pydantic import BaseModel

from shared.events import billing, erp, identity, metering, notifications, reading

CATALOG: dict[str, type[BaseModel]] = {
    **erp.EVENTS,
    **billing.EVENTS,
    **identity.EVENTS,
    **notifications.EVENTS,
    **reading.EVENTS,
    **metering.EVENTS,
}
