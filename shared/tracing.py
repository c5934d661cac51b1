"""OpenTelemetry traces across HTTP and AMQP, exported by OTLP/HTTP to EBOK_OTLP_ENDPOINT.

Unset (the default), nothing is installed: no tracer, no middleware, no client hook, and
envelopes are what they were. Set, each service has its own TracerProvider (resource
`service.name` = the service; the in-process test platform runs them all in one process) and:

- the trace id is the correlation id: a trace that starts in e-BOK takes the request's or the
  message's correlation id (uuid4 hex, 32 hex digits) as its id, so a log line's
  `correlation_id` finds its trace (`CorrelationTraceIds`); a span's `ebok.correlation_id`
  attribute says it even where the two differ (a caller that brought a trace of its own);
- HTTP: a SERVER span per request (named and described as the aiohttp-server instrumentation
  does; health and metrics routes untraced), and a CLIENT span per call the gateway makes
  (the aiohttp-client instrumentation), which sends `traceparent` on;
- AMQP: an event carries the W3C `traceparent` of the span that wrote it in its envelope (an
  optional field, present only when tracing is on). The outbox relay publishes it in a PRODUCER
  span of its own and puts that span's `traceparent` into what it sends; the consumer handles
  each envelope in a CONSUMER span under it. Per envelope, because the relay packs several
  events, of as many traces, into one AMQP message (shared/messaging/packing.py);
- sampling: parent-based; a trace that starts here is kept with EBOK_TRACE_SAMPLE_RATIO, judged
  on the trace id's last 56 bits (a uuid4's lower 64 bits begin with its fixed variant bits, which
  would make the SDK's TraceIdRatioBased keep all or none).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.logs import current_correlation_id, get_correlation_id, get_logger
from shared.settings import Settings

if TYPE_CHECKING:
    import aiohttp
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from shared.envelope import Envelope

log = get_logger(__name__)

TRACER_PROVIDER = web.AppKey("tracer_provider", object)
CORRELATION_ATTRIBUTE = "ebok.correlation_id"
INSTRUMENTATION = "ebok"
_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_UNTRACED_PATHS = ("/health", "/metrics")
# The tracers of the services running in this process, by service (one, outside tests).
_TRACERS: dict[str, trace.Tracer] = {}


def tracer(service: str) -> trace.Tracer | None:
    """The tracer of `service` in this process; None while tracing is off (cheap to ask)."""
    return _TRACERS.get(service) if _TRACERS else None


# --- W3C traceparent --------------------------------------------------------------------------


def traceparent_of(context: trace.SpanContext) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The `traceparent` of the current span; None when there is none (tracing off)."""
    context = trace.get_current_span().get_span_context()
    return traceparent_of(context) if context.is_valid else None


def context_of(traceparent: str | None) -> Context | None:
    """The parent context a `traceparent` names; None (a new trace) for none or a bad one."""
    if not traceparent or not _TRACEPARENT.match(traceparent):
        return None
    trace_id, span_id = int(traceparent[3:35], 16), int(traceparent[36:52], 16)
    if not trace_id or not span_id:
        return None
    parent = trace.SpanContext(
        trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(int(traceparent[53:], 16))
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def sampled(traceparent: str) -> bool:
    """Whether the trace a `traceparent` names is kept (its sampled flag)."""
    return bool(int(traceparent[53:55], 16) & 1)


def caller_trace_id(request: web.Request) -> str | None:
    """The id of the trace a caller of a traced app brings (its `traceparent`), as a
    correlation id; None when the app is not traced or the caller brings none."""
    if TRACER_PROVIDER not in request.app:
        return None
    traceparent = request.headers.get("traceparent")
    if traceparent is None or context_of(traceparent) is None:
        return None
    return traceparent[3:35]


# --- Setup ------------------------------------------------------------------------------------


def traces_url(endpoint: str) -> str:
    """EBOK_OTLP_ENDPOINT as the exporter wants it: the collector's base URL gets /v1/traces
    (as OTEL_EXPORTER_OTLP_ENDPOINT does); a URL that names its path already is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def otlp_headers(text: str | None) -> dict[str, str]:
    """`name=value,name=value` (as OTEL_EXPORTER_OTLP_HEADERS) as a dict."""
    found: dict[str, str] = {}
    for part in (text or "").split(","):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            found[name.strip()] = value.strip()
    return found


def span_exporter(settings: Settings) -> SpanExporter:
    """The OTLP/HTTP (protobuf) exporter to EBOK_OTLP_ENDPOINT. Tests replace this function
    to keep spans in memory."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert settings.otlp_endpoint is not None
    headers = settings.otlp_headers.get_secret_value() if settings.otlp_headers else None
    return OTLPSpanExporter(
        endpoint=traces_url(settings.otlp_endpoint), headers=otlp_headers(headers), timeout=10
    )


def tracer_provider(settings: Settings, service: str, exporter: SpanExporter) -> TracerProvider:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased

    from shared.tracing_sdk import CorrelationTraceIds, RootRatio

    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": service,
                "service.namespace": settings.namespace,
                "deployment.environment.name": settings.env,
            }
        ),
        sampler=ParentBased(root=RootRatio(settings.trace_sample_ratio)),
        id_generator=CorrelationTraceIds(),
    )
    # Spans leave in batches from the processor's own thread: a request never waits for them.
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def instrument(app: web.Application, settings: Settings, service: str) -> None:
    """Trace `app` as `service` when EBOK_OTLP_ENDPOINT is set; otherwise do nothing at all.
    Call before the app starts (it adds a middleware and, first, a cleanup context that
    flushes the spans left when the app stops)."""
    if settings.otlp_endpoint is None:
        return
    provider = tracer_provider(settings, service, span_exporter(settings))
    app[TRACER_PROVIDER] = provider
    service_tracer = provider.get_tracer(INSTRUMENTATION)
    # After the correlation middleware (the trace takes its id), before the problem middleware
    # (the span sees the answer an exception became).
    app.middlewares.insert(1, server_middleware(service_tracer))

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        _TRACERS[service] = service_tracer
        log.info("tracing", endpoint=settings.otlp_endpoint, ratio=settings.trace_sample_ratio)
        yield
        if _TRACERS.get(service) is service_tracer:
            del _TRACERS[service]
        # Off the event loop: the last export may take its time (and its collector may be
        # served by this very loop, as in the tests).
        await asyncio.to_thread(provider.shutdown)

    app.cleanup_ctx.insert(0, lifetime)


def client_trace_configs(app: web.Application) -> list[aiohttp.TraceConfig]:
    """For an aiohttp.ClientSession of `app`: a CLIENT span per call, which sends the trace on
    (`traceparent`); none while tracing is off."""
    provider = app.get(TRACER_PROVIDER)
    if provider is None:
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [
        create_trace_config(
            url_filter=lambda url: str(url.with_query(None)),
            tracer_provider=provider,  # type: ignore[arg-type]
        )
    ]


# --- HTTP -------------------------------------------------------------------------------------


def server_middleware(service_tracer: trace.Tracer) -> Any:
    from opentelemetry.instrumentation.aiohttp_server import (
        collect_request_attributes,
        set_status_code,
    )

    @web.middleware
    async def traced(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith(_UNTRACED_PATHS):
            return await handler(request)
        resource = request.match_info.route.resource
        name = request.method if resource is None else f"{request.method} {resource.canonical}"
        with service_tracer.start_as_current_span(
            name,
            context=_PROPAGATOR.extract(request.headers),
            kind=SpanKind.SERVER,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if not span.is_recording():  # sampled out: no attributes to work out
                return await handler(request)
            span.set_attributes(_without_query(collect_request_attributes(request)))
            span.set_attribute(CORRELATION_ATTRIBUTE, get_correlation_id())
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # a redirect or an answer raised
                set_status_code(span, exc.status)
                raise
            except Exception as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            set_status_code(span, response.status)
            return response

    return traced


def _without_query(attributes: dict[str, Any]) -> dict[str, Any]:
    """A request's attributes without its query string: it may hold what a span must not keep
    (a token in a link, a customer's number, a search)."""
    kept = {k: v for k, v in attributes.items() if k != "url.query"}
    for key in ("http.target", "http.url", "url.full"):
        if isinstance(kept.get(key), str):
            kept[key] = kept[key].partition("?")[0]
    return kept


# --- AMQP -------------------------------------------------------------------------------------


_BODY_TRACEPARENT = re.compile(r'"traceparent"\s*:\s*"([^"]*)"')


@contextmanager
def publishing(
    service: str, bodies: Sequence[str], exchange: str, routing_key: str
) -> Iterator[list[str]]:
    """The envelopes' `bodies` as the relay should send them: one that carries a
    `traceparent` gets a PRODUCER span under it (ended when the publish is confirmed or failed)
    and carries that span's `traceparent` instead, so that its consumer continues from the
    publish. Unchanged while tracing is off."""
    service_tracer = tracer(service)
    if service_tracer is None:
        yield list(bodies)
        return
    spans: list[trace.Span] = []
    sent: list[str] = []
    for body in bodies:
        # Read from the text first: only an envelope whose trace is kept is parsed.
        found = _BODY_TRACEPARENT.search(body)
        traceparent = found.group(1) if found else None
        parent = context_of(traceparent)
        if traceparent is None or parent is None or not sampled(traceparent):
            sent.append(body)  # its consumer takes the writer's decision not to keep it
            continue
        envelope = orjson.loads(body)
        span = service_tracer.start_span(
            f"publish {routing_key}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "send",
                "messaging.destination.name": exchange,
                "messaging.rabbitmq.destination.routing_key": routing_key,
                "messaging.message.id": str(envelope.get("id")),
                "messaging.batch.message_count": len(bodies),
                CORRELATION_ATTRIBUTE: str(envelope.get("correlation_id")),
            },
        )
        envelope["traceparent"] = traceparent_of(span.get_span_context())
        spans.append(span)
        sent.append(orjson.dumps(envelope).decode())
    try:
        yield sent
    except BaseException as exc:
        for span in spans:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        for span in spans:
            span.end()


@contextmanager
def consuming(service: str, queue: str, envelopes: Sequence[Envelope]) -> Iterator[None]:
    """A CONSUMER span around handling `envelopes` (one, or a batch that one handler takes at
    once): under the first one's trace, linked to the others'. Nothing while tracing is off."""
    service_tracer = tracer(service)
    if service_tracer is None or not envelopes:
        yield
        return
    first = envelopes[0]
    links = [
        Link(trace.get_current_span(context).get_span_context())
        for envelope in envelopes[1:]
        if (context := context_of(envelope.traceparent)) is not None
    ]
    attributes: dict[str, Any] = {
        "messaging.system": "rabbitmq",
        "messaging.operation.type": "process",
        "messaging.destination.name": queue,
        "messaging.message.id": str(first.id),
        CORRELATION_ATTRIBUTE: first.correlation_id,
    }
    if len(envelopes) > 1:
        attributes["messaging.batch.message_count"] = len(envelopes)
    with service_tracer.start_as_current_span(
        f"process {first.type}",
        context=context_of(first.traceparent) or Context(),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
        links=links,
    ):
        yield


@contextmanager
def span(
    service: str,
    name: str,
    *,
    parent: str | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: dict[str, Any] | None = None,
) -> Iterator[None]:
    """A span of `service` under the `parent` traceparent (a stored one: work that a loop
    picks up later, such as an email's delivery); nothing while tracing is off."""
    service_tracer = tracer(service)
    if service_tracer is None:
        yield
        return
    correlation_id = current_correlation_id()
    with service_tracer.start_as_current_span(
        name,
        context=context_of(parent) or Context(),
        kind=kind,
        attributes={
            **(attributes or {}),
            **({CORRELATION_ATTRIBUTE: correlation_id} if correlation_id else {}),
        },
    ):
        yield
