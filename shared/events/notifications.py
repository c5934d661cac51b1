"""Events notifications publishes about email delivery."""

from __future__ import annotations

import uuid

from shared.events.common import Contract


class EmailDelivery(Contract):
    email_id: uuid.UUID
    template: str
    source_event_id: uuid.UUID
    reference_id: str | None = None
    error: str | None = None


EVENTS = {
    "notifications.email.sent": EmailDelivery,
    "notifications.email.failed": EmailDelivery,
}
