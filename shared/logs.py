"""Structured (JSON) logging with a correlation id carried in a context variable.

The correlation id is bound per HTTP request and per consumed message; every log line and every
outgoing call or published event picks it up from here.
"""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)

# Keys whose values must never reach a log line, whatever a caller passes.
_SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "one_time_password",
        "token",
        "refresh_token",
        "access_token",
        "captcha_answer",
        "activation_url",
        "authorization",
    }
)


def get_correlation_id() -> str:
    value = _correlation_id.get()
    if value is None:
        value = new_correlation_id()
        _correlation_id.set(value)
    return value


def set_correlation_id(value: str | None) -> str:
    value = value or new_correlation_id()
    _correlation_id.set(value)
    return value


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def _add_correlation_id(_logger: object, _name: str, event: dict) -> dict:
    value = _correlation_id.get()
    if value is not None:
        event.setdefault("correlation_id", value)
    return event


def _redact_secrets(_logger: object, _name: str, event: dict) -> dict:
    for key in event.keys() & _SECRET_KEYS:
        event[key] = "[redacted]"
    return event


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared_processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_correlation_id,
        _redact_secrets,
    ]
    structlog.configure(
        processors=[*shared_processors, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # No file given: each line goes to the sys.stdout of the moment (tests swap it).
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries log through the standard library: route them to the same stream, at WARNING.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(name)s %(message)s")


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
