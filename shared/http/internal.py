"""Calls from the gateway to a service: the credential that proves a call came from the gateway,
and the client address a service may take from such a call only."""

from __future__ import annotations

import hmac

from aiohttp import web

from shared.logs import get_logger
from shared.settings import Settings

log = get_logger(__name__)

# The gateway sends both on every call; a service believes the second only with the first.
INTERNAL_TOKEN_HEADER = "X-Ebok-Internal-Token"  # noqa: S105 (a header name)
CLIENT_IP_HEADER = "X-Ebok-Client-Ip"
_CLIENT_IP = web.RequestKey("ebok_client_ip", str)


def from_gateway(request: web.Request, settings: Settings) -> bool:
    """The call carries the internal token (compared in constant time); never without one set."""
    if settings.internal_token is None:
        return False
    given = request.headers.get(INTERNAL_TOKEN_HEADER)
    if given is None:
        return False
    expected = settings.internal_token.get_secret_value()
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def client_ip(request: web.Request, settings: Settings) -> str:
    """The address rate limits and records key on: the one the gateway passes on, or, for any
    other caller, the TCP peer (a header it sets itself is ignored). Worked out, and a refused
    header logged, once per request."""
    if _CLIENT_IP not in request:
        request[_CLIENT_IP] = _client_ip(request, settings)
    address: str = request[_CLIENT_IP]
    return address


def _client_ip(request: web.Request, settings: Settings) -> str:
    claimed = request.headers.get(CLIENT_IP_HEADER)
    if claimed and from_gateway(request, settings):
        return claimed
    if claimed:
        log.warning(
            "security: client address header without the internal token, ignored",
            peer=request.remote,
            path=request.path,
            credential=(
                "not configured here"
                if settings.internal_token is None
                else "wrong"
                if INTERNAL_TOKEN_HEADER in request.headers
                else "missing"
            ),
        )
    return request.remote or "unknown"
