"""Wiring of the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from services.gateway import browser_session
from services.gateway.api import (
    ROUTES,
    UPSTREAMS,
    Handler,
    Route,
    check_routes,
    forwarding_handler,
)
from services.gateway.openapi import build_openapi
from services.gateway.upstream import Upstreams
from services.gateway.web_app import add_web_app_routes, security_headers
from shared import tracing
from shared.auth import TokenVerifier
from shared.http.problems import json_response
from shared.logs import get_logger
from shared.runtime import SETTINGS, VERIFIER, add_health_routes, new_app
from shared.services import GATEWAY_UPSTREAMS
from shared.settings import Settings

SERVICE = "gateway"
# Where the operations listener (readiness, metrics) took its port: EBOK_GATEWAY_OPS_PORT, or
# the one the system gave for 0.
OPS_URL = web.AppKey("ops_url", str)

log = get_logger(__name__)


async def _upstreams(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    session = aiohttp.ClientSession(
        # A connection that does not open soon goes to another instance (Upstreams.call).
        timeout=aiohttp.ClientTimeout(
            total=settings.upstream_timeout_seconds,
            sock_connect=settings.upstream_connect_timeout_seconds,
        ),
        connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=30),
        trace_configs=tracing.client_trace_configs(app),
    )
    token = settings.internal_token
    app[UPSTREAMS] = Upstreams(
        session,
        {name: settings.service_urls(name) for name in GATEWAY_UPSTREAMS},
        token.get_secret_value() if token is not None else None,
        set_aside_seconds=settings.upstream_set_aside_seconds,
    )
    yield
    await session.close()


async def _upstreams_ready(app: web.Application) -> bool:
    """Ready while every upstream has at least one instance that answers /health/live."""
    upstreams = app[UPSTREAMS]
    counts = await asyncio.gather(*(upstreams.live_instances(n) for n in GATEWAY_UPSTREAMS))
    return all(counts)


async def _operations(app: web.Application) -> AsyncIterator[None]:
    """/health/ready and /metrics on a listener of their own on the internal bind host: what
    the upstreams' readiness says about the inside and what the metrics say about traffic is
    for the operators' tools, not for the public port. /health/live is on both."""
    settings = app[SETTINGS]
    ops = new_app(settings)
    ops.on_response_prepare.append(security_headers)

    async def upstreams_ready(_ops: web.Application) -> bool:
        return await _upstreams_ready(app)

    add_health_routes(ops, {"upstreams": upstreams_ready})
    runner = web.AppRunner(ops, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, settings.internal_bind_host, settings.gateway_ops_port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    app[OPS_URL] = settings.gateway_ops_url(port)
    log.info("operations port", host=host, port=port)
    yield
    await runner.cleanup()


def _handler(route: Route) -> Handler:
    if route.handler is not None:
        return route.handler
    if route.browser_session is not None:
        return browser_session.handler(route)
    return forwarding_handler(route)


def build_app(settings: Settings) -> web.Application:
    app = new_app(settings)
    tracing.instrument(app, settings, SERVICE)  # nothing unless EBOK_OTLP_ENDPOINT is set
    app[VERIFIER] = TokenVerifier(settings)
    app.cleanup_ctx.append(_upstreams)
    app.cleanup_ctx.append(_operations)  # after _upstreams: its readiness asks them
    # A signal rather than a middleware: it also reaches the answers that the problem middleware
    # makes from exceptions, and redirects raised as exceptions.
    app.on_response_prepare.append(security_headers)
    check_routes(ROUTES)  # a route without a policy refuses to start
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _handler(route))
    document = build_openapi()

    async def openapi(_request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    # Liveness only: readiness and metrics are on the operations port (_operations).
    add_health_routes(app, {}, operations=False)
    add_web_app_routes(app, settings.web_dist)  # last: the API and health come first
    return app
