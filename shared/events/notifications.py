"""Events notifications publishes about email delivery."""

from __future__ import annotations

import uuid

from shared.events.common import Event


class EmailDelivery(Event):
    """What happened to an email, and which event asked for it (`source_event_type`), so that the
    event's producer can follow up without knowing the templates."""

    email_id: uuid.UUID
    template: str
    source_event_id: uuid.UUID
    source_event_type: str | None = None
    reference_id: str | None = None
    error: str | None = None


class EmailSent(EmailDelivery, event="notifications.email.sent"):
    """The SMTP server accepted the email."""


class EmailFailed(EmailDelivery, event="notifications.email.failed"):
    """Notifications gave up on the email after its retries."""
