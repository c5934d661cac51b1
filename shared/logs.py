"""Structured (JSON) logging with a correlation id carried in a context variable.

The correlation id is bound per HTTP request and per consumed message; every log line and every
outgoing call or published event picks it up from here.

Our code logs through structlog; libraries (aio-pika, aiormq, asyncio, aiohttp, ...) log through
the standard library, whose records go through the same processors and renderer (a
`structlog.stdlib.ProcessorFormatter` on the root logger's handler), so in `json` format every
line a process prints is one JSON object, tracebacks included (as the `exception` field).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from types import TracebackType

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

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
# Secrets a library may put into its message text: a URL's password, a bearer token.
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+@")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]+")

# Libraries speak from WARNING up (or the configured level, if higher). At DEBUG, aio-pika and
# aiormq say everything (connection and channel life, AMQP frames: event payloads, whose secrets
# travel sealed); other libraries stay at WARNING even then, as some print what passes through
# them (an SMTP conversation, for one). aiohttp's access log never speaks: the request middleware
# logs every request already, and the access log would print raw query strings (tokens).
_BROKER_LIBRARIES = ("aio_pika", "aiormq")
_SILENT_LOGGERS = ("aiohttp.access",)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the sys.stdout of the moment, as structlog's PrintLogger does (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def get_correlation_id() -> str:
    value = _correlation_id.get()
    if value is None:
        value = new_correlation_id()
        _correlation_id.set(value)
    return value


def current_correlation_id() -> str | None:
    """The correlation id of this task, if it has one (none is made)."""
    return _correlation_id.get()


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


def _service_adder(service: str) -> Processor:
    # A processor rather than a context variable: threads and tasks made before configuration
    # have no context, and their lines still say which service wrote them.
    def add_service(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add_service


def _scrub(text: str) -> str:
    return _BEARER.sub(r"\1[redacted]", _URL_PASSWORD.sub(r"\1[redacted]@", text))


def _redact_secrets(_logger: object, _name: str, event: dict) -> dict:
    for key, value in event.items():
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = _scrub(value)
    return event


def _drop_formatter_leftovers(_logger: object, _name: str, event: dict) -> dict:
    # Set on a record by any plain formatter that saw it first (pytest's, for one); `extra` may
    # not use these names, so they are never a caller's field.
    event.pop("message", None)
    event.pop("asctime", None)
    return event


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    structlog.get_logger("uncaught").critical("uncaught exception", exc_info=(exc_type, exc, tb))


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    numeric_level = logging.getLevelName(level.upper())
    shared_processors: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_correlation_id,
        _service_adder(service),
    ]
    # Redaction runs after the traceback is rendered, so it sees the exception's text too.
    final_processors: list[Processor] = [
        structlog.processors.format_exc_info,
        _redact_secrets,
        renderer,
    ]
    structlog.configure(
        processors=[*shared_processors, *final_processors],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # No file given: each line goes to the sys.stdout of the moment (tests swap it).
        logger_factory=structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )

    handler = _StdoutHandler()
    handler.set_name("ebok")
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                *shared_processors,
                structlog.stdlib.add_logger_name,
                # `extra={...}` keys become fields (and go through the redaction).
                structlog.stdlib.ExtraAdder(),
                _drop_formatter_leftovers,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *final_processors,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "ebok"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(numeric_level, logging.WARNING))
    for name in _BROKER_LIBRARIES:
        logging.getLogger(name).setLevel(
            logging.DEBUG if numeric_level <= logging.DEBUG else logging.NOTSET
        )
    for name in _SILENT_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric_level, logging.WARNING))
    # warnings.warn() and uncaught exceptions would print plain text to stderr.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught


def get_logger(name: str | None = None) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)
