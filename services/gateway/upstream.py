"""Calls from the gateway to the services' internal HTTP APIs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from pydantic import ValidationError

from services.gateway.balancing import NOT_SENT, Balancer, Instance
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
# The readiness check asks every instance of every upstream: a silent one must not hold it.
LIVENESS_TIMEOUT = aiohttp.ClientTimeout(total=2)
# Calls that change nothing: asked again of another instance when one goes away mid-call.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class UpstreamResponse:
    status: int
    body: bytes
    headers: dict[str, str]


class Upstreams:
    """The services' instances, each service's taken in turn (services/gateway/balancing.py)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        urls: dict[str, list[str]],
        internal_token: str | None = None,
        set_aside_seconds: float = 5.0,
    ) -> None:
        self.session = session
        self.balancers = {
            service: Balancer(instances, set_aside_seconds) for service, instances in urls.items()
        }
        # On every call: the services believe the client address we pass only with it.
        self.internal = {INTERNAL_TOKEN_HEADER: internal_token} if internal_token else {}

    def _set_aside(self, service: str, instance: Instance, exc: BaseException) -> None:
        self.balancers[service].set_aside(instance)
        log.warning(
            "upstream instance set aside", service=service, url=instance.url, error=repr(exc)
        )

    async def live_instances(self, service: str) -> int:
        """How many of `service`'s instances answer /health/live; those that do not are set
        aside, those that do are taken again at once."""
        balancer = self.balancers[service]

        async def live(instance: Instance) -> bool:
            try:
                async with self.session.get(
                    instance.url + "/health/live", timeout=LIVENESS_TIMEOUT
                ) as resp:
                    alive = resp.status == 200
            except (TimeoutError, aiohttp.ClientError) as exc:
                self._set_aside(service, instance, exc)
                return False
            if alive:
                balancer.restore(instance)
            return alive

        results = await asyncio.gather(*(live(i) for i in balancer.instances))
        return sum(results)

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
        sent = {**(headers or {}), CORRELATION_HEADER: get_correlation_id(), **self.internal}
        for instance in self.balancers[service].order():
            try:
                async with self.session.request(
                    method, instance.url + path, data=body, headers=sent, params=params
                ) as resp:
                    payload = await resp.read()
                    kept = {
                        k: v
                        for k in FORWARDED_RESPONSE_HEADERS
                        if (v := resp.headers.get(k)) is not None
                    }
                    return UpstreamResponse(resp.status, payload, kept)
            except NOT_SENT as exc:
                self._set_aside(service, instance, exc)
            except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
                # The instance went away before answering (closed or reset the connection): a
                # call that changes nothing may be asked of another; any other may have been
                # applied, and is not repeated.
                self._set_aside(service, instance, exc)
                if method not in SAFE_METHODS:
                    raise _unavailable(service) from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
                raise _unavailable(service) from None
        log.warning("no upstream instance answered", service=service, path=path)
        raise _unavailable(service)

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
        for instance in self.balancers[service].order():
            try:
                return await self._stream_to(instance, path, request, sent)
            except NOT_SENT as exc:
                # No connection opened: not a byte of the body was read, another may take it.
                self._set_aside(service, instance, exc)
            except _AnswerCut:
                log.warning("upstream stopped sending", service=service, path=path)
                raise ConnectionResetError(f"{service} stopped sending") from None
            except (TimeoutError, aiohttp.ClientError) as exc:
                log.warning("upstream unavailable", service=service, path=path, error=repr(exc))
                raise _unavailable(service) from None
        log.warning("no upstream instance answered", service=service, path=path)
        raise _unavailable(service)

    async def _stream_to(
        self, instance: Instance, path: str, request: web.Request, sent: dict[str, str]
    ) -> web.StreamResponse:
        response: web.StreamResponse | None = None
        try:
            async with self.session.request(
                request.method,
                instance.url + path,
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
        except (TimeoutError, aiohttp.ClientError):
            if response is not None:
                # The answer has begun: the client sees it cut short, not a problem document.
                raise _AnswerCut from None
            raise


class _AnswerCut(Exception):
    """A streamed answer stopped after it had begun."""


def _unavailable(service: str) -> Problem:
    return Problem(
        503,
        "Service unavailable",
        f"The {service} service is not answering; try again shortly",
        code="service-unavailable",
        headers={"Retry-After": "5"},
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
