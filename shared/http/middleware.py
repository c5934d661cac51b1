"""Request middleware: correlation id in and out, and an access log line."""

from __future__ import annotations

import time
from typing import Any

import structlog
from aiohttp import web

from shared import tracing
from shared.logs import get_logger, set_correlation_id
from shared.metrics import HTTP_REQUESTS

log = get_logger("access")

CORRELATION_HEADER = "X-Correlation-ID"


@web.middleware
async def correlation_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    incoming = request.headers.get(CORRELATION_HEADER, "")
    value = incoming if 0 < len(incoming) <= 200 and incoming.isprintable() else None
    # Traced, a caller that brings a trace but no correlation id gets its trace's id as one.
    correlation_id = set_correlation_id(value or tracing.caller_trace_id(request))
    structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
    started = time.perf_counter()
    response = await handler(request)
    response.headers[CORRELATION_HEADER] = correlation_id
    elapsed = time.perf_counter() - started
    if request.path.startswith(("/health", "/metrics")):
        return response
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "(unmatched)"
    HTTP_REQUESTS.labels(request.method, route, str(response.status)).observe(elapsed)
    log.info(
        "request",
        method=request.method,
        path=request.path,
        status=response.status,
        ms=round(elapsed * 1000, 1),
    )
    return response
