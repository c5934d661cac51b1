"""The email queue's gauges, sampled with the other operations gauges (shared/ops_metrics.py)."""

from __future__ import annotations

import asyncpg

from shared.metrics import EMAIL_QUEUE_OLDEST_AGE, EMAIL_QUEUE_PENDING
from shared.ops_metrics import Probe


def _apply(row: asyncpg.Record) -> None:
    EMAIL_QUEUE_PENDING.labels("notifications").set(row["pending"])
    EMAIL_QUEUE_OLDEST_AGE.labels("notifications").set(row["oldest_age"])


# Pending emails are the partial index emails_due; the age counts from when the email was asked
# for, so an email waiting out its retries grows older as its reader waits.
EMAIL_QUEUE = Probe(
    "email-queue",
    """SELECT count(*) AS pending,
              coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest_age
         FROM emails WHERE status = 'pending'""",
    _apply,
)
