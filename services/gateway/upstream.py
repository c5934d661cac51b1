"""Calls from the gateway to the services' internal HTTP APIs."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from services.gateway.client_address import client_address
from shared.api.common import ProblemOut
from shared.http.internal import CLIENT_IP_HEADER, INTERNAL_TOKEN_HEADER
from shared.http.middleware import CORRELATION_HEADER
from shared.http.problems import PROBLEM_CONTENT_TYPE, Problem
from shared.logs import get_correlation_id, get_logger
from shared.runtime import SETTINGS

log = get_logger(__name__)

# Request headers a service may see; everything else stays at the edge (a caller's own
# X-Ebok-Client-Ip or X-Ebok-Internal-Token among them).
FORWARDED_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "Idempotency-Key",
)
# Response headers passed back to the caller.
FORWARDED_RESPONSE_HEADERS = (
    "Content-Type",
    "Retry-After",
    "WWW-Authenticate",
    "Allow",
    "Content-Disposition",
)


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class Upstreams:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: dict[str, str],
        internal_token: str | None = None,
    ) -> None:
        self.session = session
        self.urls = urls
        # On every call: the services believe the client address we pass only with it.
        self.internal = {INTERNAL_TOKEN_HEADER: internal_token} if internal_token else {}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> UpstreamResponse:
        url = self.urls[service] + path
        sent = {**(headers or {}), CORRELATION_HEADER: get_correlation_id(), **self.internal}
        try:
            async with self.session.request(
                method, url, data=body, headers=sent, params=params
            ) as resp:
                payload = await resp.read()
                kept = {
                    k: v
                    for k in FORWARDED_RESPONSE_HEADERS
                    if (v := resp.headers.get(k)) is not None
                }
                return UpstreamResponse(resp.status, payload, kept)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
            raise Problem(
                503,
                "Service unavailable",
                f"The {service} service is not answering; try again shortly",
                code="service-unavailable",
                headers={"Retry-After": "5"},
            ) from None

    async def forward(
        self, service: str, path: str, request: web.Request, *, json_body: bytes | None = None
    ) -> web.Response:
        """The request sent on to `service` (with `json_body` instead of its own body, when
        given), and its answer as the caller's."""
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
        headers[CLIENT_IP_HEADER] = client_ip(request)
        if json_body is not None:
            body: bytes | None = json_body
            headers["Content-Type"] = "application/json"
        else:
            body = await request.read() if request.body_exists else None
        result = await self.call(
            service, request.method, path, body=body, headers=headers, params=dict(request.query)
        )
        return web.Response(
            status=result.status, body=_public_problem(result, request.path), headers=result.headers
        )


def _public_problem(result: UpstreamResponse, public_path: str) -> bytes:
    """A service's problem document names its internal path; the caller sees the public one."""
    if not result.headers.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
        return result.body
    try:
        problem = ProblemOut.model_validate_json(result.body)
    except ValidationError:
        return result.body
    if problem.instance is None:
        return result.body
    public = problem.model_copy(update={"instance": public_path})
    return public.model_dump_json(exclude_none=True).encode()


def client_ip(request: web.Request) -> str:
    """The client's address: the TCP peer, or behind EBOK_TRUSTED_PROXIES the address the
    nearest of them saw (services/gateway/client_address.py)."""
    return client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", []),
        request.app[SETTINGS].trusted_proxies,
    )
