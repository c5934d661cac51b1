"""Prometheus metrics every service exposes at GET /metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES = Counter(
    "ebok_messages_total",
    "Messages consumed, by queue and outcome (handled, duplicate, retried, dead_lettered)",
    ["queue", "outcome"],
)
OUTBOX_PUBLISHED = Counter(
    "ebok_outbox_published_total", "Events published from the outbox", ["producer"]
)
HTTP_REQUESTS = Histogram(
    "ebok_http_request_seconds",
    "HTTP request latency by route and status",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EMAILS = Counter(
    "ebok_emails_total", "Email delivery attempts by template and outcome", ["template", "outcome"]
)
E_INVOICES = Counter(
    "ebok_e_invoices_total",
    "E-invoice PDFs billing rendered and handed to notifications (sent) or could not (failed)",
    ["outcome"],
)
INVOICE_REMINDERS = Counter(
    "ebok_invoice_reminders_total", "Due-date reminders billing's scheduler published"
)

PAYMENT_NOTIFICATIONS = Counter(
    "ebok_payment_notifications_total",
    "Payment provider notifications received, by provider and verdict (accepted, duplicate, "
    "bad-sign, amount-mismatch, unknown-session, …)",
    ["provider", "verdict"],
)
PAYMENTS = Counter(
    "ebok_payments_total",
    "Online payments reaching a status (pending, paid, failed, expired), and through what "
    "(request, notification, reconciliation)",
    ["status", "via"],
)

# What an operator pages on (deploy/prometheus/alerts.yaml). The gauges are sampled by one loop
# per process (shared/ops_metrics.py): every instance of a service reports the same database and
# the same queues, so alerts take max() of them, not sum().
OUTBOX_PUBLISH_FAILURES = Counter(
    "ebok_outbox_publish_failures_total",
    "Outbox rows the relay could not publish (each waits out a backoff and is tried again)",
    ["producer"],
)
OUTBOX_PENDING = Gauge("ebok_outbox_pending_messages", "Outbox rows not published yet", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "ebok_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not published yet (0: none waiting)",
    ["service"],
)
QUEUE_READY = Gauge(
    "ebok_queue_ready_messages",
    "Messages waiting in a consumer queue (the consumer's lag)",
    ["service", "queue"],
)
QUEUE_CONSUMERS = Gauge(
    "ebok_queue_consumers", "Consumers attached to a consumer queue", ["service", "queue"]
)
RETRY_WAITING = Gauge(
    "ebok_retry_queue_messages",
    "Messages of a consumer queue waiting in its delay (retry) queues",
    ["service", "queue"],
)
DEAD_LETTERS = Gauge(
    "ebok_dead_letter_messages",
    "Messages in a consumer queue's dead-letter queue (<queue>.dlq)",
    ["service", "queue"],
)
EMAIL_QUEUE_PENDING = Gauge(
    "ebok_email_queue_pending",
    "Emails waiting to be handed to the SMTP server (notifications)",
    ["service"],
)
EMAIL_QUEUE_OLDEST_AGE = Gauge(
    "ebok_email_queue_oldest_age_seconds",
    "Age of the oldest email still waiting to be sent (0: none waiting)",
    ["service"],
)
SAMPLED_AT = Gauge(
    "ebok_ops_sampled_timestamp_seconds",
    "When the gauges above were last sampled (Unix time): a stale value means stale gauges",
    ["service"],
)
LOGIN_FAILURES = Counter(
    "ebok_login_failures_total", "Logins refused for a wrong login or password (identity)"
)
RATE_LIMITED = Counter(
    "ebok_rate_limited_total",
    "Requests refused by a rate limit (429), by service and limit (login-failure, "
    "login-failure-ip, registration, captcha, registration-mismatch-invoice, notification, …)",
    ["service", "limit"],
)


def rate_limited(service: str, key: str) -> None:
    """Count a 429 under the limit that `key` (`<limit>:<who>`) belongs to; who is not a label."""
    RATE_LIMITED.labels(service, key.split(":", 1)[0]).inc()


def message_outcome(queue: str, outcome: str, count: int = 1) -> None:
    MESSAGES.labels(queue, outcome).inc(count)


async def metrics_handler(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
