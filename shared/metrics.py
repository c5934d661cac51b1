"""Prometheus metrics every service exposes at GET /metrics."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

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


def message_outcome(queue: str, outcome: str, count: int = 1) -> None:
    MESSAGES.labels(queue, outcome).inc(count)


async def metrics_handler(_request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
