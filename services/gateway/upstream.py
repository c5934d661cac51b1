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
# And, for a streamed answer (a file), what says how to take it.
STREAMED_RESPONSE_HEADERS = ("X-Content-Type-Options", "Cache-Control")
STREAM_CHUNK_BYTES = 64 * 1024
# A streamed call is not bounded as a whole (a 10 MB upload from a slow client takes its time):
# only by a connection that will not open, or a silence this long from the service (aiohttp's
# read timeout also runs while the body is still being sent, so it must outlast a slow upload).
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=300)


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

    async def stream(self, service: str, path: str, request: web.Request) -> web.StreamResponse:
        """As `forward`, but the request's body is piped to the service and the answer back a
        chunk at a time (a file of up to 10 MB, both ways): neither is ever whole in the
        gateway's memory. Problem documents are small: those alone are read whole, to name the
        public path."""
        headers = {k: v for k in FORWARDED_REQUEST_HEADERS if (v := request.headers.get(k))}
        headers[CLIENT_IP_HEADER] = client_ip(request)
        if request.content_length is not None:
            # The service refuses a declared size over its limit before reading a byte.
            headers["Content-Length"] = str(request.content_length)
        sent = {**headers, CORRELATION_HEADER: get_correlation_id(), **self.internal}
        response: web.StreamResponse | None = None
        try:
            async with self.session.request(
                request.method,
                self.urls[service] + path,
                data=request.content if request.body_exists else None,
                headers=sent,
                params=dict(request.query),
                timeout=STREAM_TIMEOUT,
            ) as resp:
                kept = {
                    k: v
                    for k in (*FORWARDED_RESPONSE_HEADERS, *STREAMED_RESPONSE_HEADERS)
                    if (v := resp.headers.get(k)) is not None
                }
                if kept.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE):
                    result = UpstreamResponse(resp.status, await resp.read(), kept)
                    return web.Response(
                        status=resp.status, body=_public_problem(result, request.path), headers=kept
                    )
                response = web.StreamResponse(status=resp.status, headers=kept)
                if resp.content_length is not None:
                    response.content_length = resp.content_length
                await response.prepare(request)
                async for chunk in resp.content.iter_chunked(STREAM_CHUNK_BYTES):
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
            if response is not None:
                # The answer has begun: the client sees it cut short, not a problem document.
                raise ConnectionResetError(f"{service} stopped sending") from None
            raise Problem(
                503,
                "Service unavailable",
                f"The {service} service is not answering; try again shortly",
                code="service-unavailable",
                headers={"Retry-After": "5"},
            ) from None


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
