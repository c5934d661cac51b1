"""Traces across HTTP and AMQP (shared/tracing.py) on the whole platform, in one process.

One registration through the gateway makes one trace whose id is the request's correlation id:
gateway (server, then its call) -> identity (server) -> identity's outbox relay (publish) ->
notifications (consuming the event) -> notifications (the SMTP send). The spans are caught in
memory (the SDK's InMemorySpanExporter) and, at the same time, exported by the real OTLP/HTTP
exporter to a collector stand-in: an aiohttp server on /v1/traces that decodes the protobuf
ExportTraceServiceRequest.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared import tracing
from shared.settings import Settings
from tests.support.flows import known_customer, new_captcha, registration_body, wait_for_mail
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, start_stack


@dataclass
class Collector:
    """What an OpenTelemetry collector would have received on /v1/traces."""

    requests: list[ExportTraceServiceRequest] = field(default_factory=list)
    content_types: set[str] = field(default_factory=set)

    def spans(self, trace_id: bytes) -> list[tuple[str, object]]:
        """(service.name, span) of every span received with `trace_id`."""
        found = []
        for request in self.requests:
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope_spans in resource_spans.scope_spans:
                    found += [(service, s) for s in scope_spans.spans if s.trace_id == trace_id]
        return found


async def start_collector(collector: Collector) -> web.AppRunner:
    async def receive(request: web.Request) -> web.Response:
        collector.content_types.add(request.content_type)
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        collector.requests.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner


class BothExporters(SpanExporter):
    """The spans to memory and on to the real OTLP exporter."""

    def __init__(self, memory: InMemorySpanExporter, otlp: SpanExporter) -> None:
        self.memory, self.otlp = memory, otlp

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.memory.export(spans)
        return self.otlp.export(spans)

    def shutdown(self) -> None:
        self.otlp.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.otlp.force_flush(timeout_millis)


@dataclass
class Traced:
    stack: Stack
    memory: InMemorySpanExporter
    collector: Collector


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def traced(infra: Infra, keys: Path) -> AsyncIterator[Traced]:
    collector = Collector()
    runner = await start_collector(collector)
    endpoint = f"http://127.0.0.1:{runner.addresses[0][1]}"
    memory = InMemorySpanExporter()
    otlp_exporter = tracing.span_exporter
    with pytest.MonkeyPatch.context() as patch:
        # Batches leave every 100 ms (default 5 s), so the test waits less.
        patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")

        def both(settings: Settings) -> SpanExporter:
            return BothExporters(memory, otlp_exporter(settings))

        patch.setattr(tracing, "span_exporter", both)
        try:
            async for stack in start_stack(infra, keys, otlp_endpoint=endpoint):
                yield Traced(stack, memory, collector)
        finally:
            await runner.cleanup()


def _service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


def _one(spans: list[ReadableSpan], service: str, kind: SpanKind, name: str) -> ReadableSpan:
    found = [
        s for s in spans if _service(s) == service and s.kind is kind and s.name.startswith(name)
    ]
    assert len(found) == 1, (service, kind, name, [(_service(s), s.kind, s.name) for s in spans])
    return found[0]


def _child_of(child: ReadableSpan, parent: ReadableSpan) -> None:
    assert child.parent is not None, child.name
    assert child.parent.span_id == parent.context.span_id, (child.name, parent.name)


async def test_a_registration_is_one_trace_named_by_its_correlation_id(traced: Traced) -> None:
    stack = traced.stack
    customer = await known_customer(stack)
    correlation_id = uuid.uuid4().hex
    body = registration_body(customer, await new_captcha(stack))
    async with stack.api.session.post(
        stack.api.base_url + "/api/v1/registrations",
        json=body,
        headers={"X-Correlation-ID": correlation_id},
    ) as resp:
        assert resp.status == 202, await resp.text()
        assert resp.headers["X-Correlation-ID"] == correlation_id
    await wait_for_mail(stack, customer.email, "registration")
    trace_id = int(correlation_id, 16)

    def in_trace() -> list[ReadableSpan]:
        return [s for s in traced.memory.get_finished_spans() if s.context.trace_id == trace_id]

    # Each service's spans leave in batches of their own (every 100 ms here): wait for all six.
    expected = (
        ("gateway", SpanKind.SERVER, "POST /api/v1/registrations"),
        ("gateway", SpanKind.CLIENT, "POST"),
        ("identity", SpanKind.SERVER, "POST "),
        ("identity", SpanKind.PRODUCER, "publish identity.registration.requested"),
        ("notifications", SpanKind.CONSUMER, "process identity.registration.requested"),
        ("notifications", SpanKind.CLIENT, "smtp send"),
    )

    def all_exported() -> bool:
        spans = in_trace()
        return all(
            any(_service(s) == sv and s.kind is kind and s.name.startswith(n) for s in spans)
            for sv, kind, n in expected
        )

    await wait_until(all_exported, what="the trace's six spans to be exported")
    spans = in_trace()
    gateway = _one(spans, "gateway", SpanKind.SERVER, "POST /api/v1/registrations")
    call = _one(spans, "gateway", SpanKind.CLIENT, "POST")
    identity = _one(spans, "identity", SpanKind.SERVER, "POST ")
    publish = _one(spans, "identity", SpanKind.PRODUCER, "publish identity.registration.requested")
    consume = _one(
        spans, "notifications", SpanKind.CONSUMER, "process identity.registration.requested"
    )
    send = _one(spans, "notifications", SpanKind.CLIENT, "smtp send")

    assert gateway.parent is None  # the trace starts at the gateway
    _child_of(call, gateway)
    _child_of(identity, call)
    _child_of(publish, identity)
    _child_of(consume, publish)
    _child_of(send, consume)
    for span in (gateway, identity, consume, send):
        assert span.attributes[tracing.CORRELATION_ATTRIBUTE] == correlation_id
    assert gateway.attributes["http.route"] == "/api/v1/registrations"
    assert send.attributes["ebok.email.template"] == "registration"
    # In time order, as the parent/child order says.
    assert gateway.start_time <= call.start_time <= identity.start_time <= publish.start_time
    assert publish.start_time <= consume.start_time <= send.start_time

    # The same spans reached the collector over OTLP/HTTP, each under its service.
    wanted = {(_service(s), s.context.span_id) for s in (gateway, identity, publish, send)}
    await wait_until(
        lambda: (
            wanted
            <= {
                (service, int.from_bytes(span.span_id, "big"))  # type: ignore[attr-defined]
                for service, span in traced.collector.spans(trace_id.to_bytes(16, "big"))
            }
        ),
        what="the spans to reach the OTLP receiver",
    )
    assert traced.collector.content_types == {"application/x-protobuf"}
    received = dict(
        (int.from_bytes(s.span_id, "big"), s)  # type: ignore[attr-defined]
        for _, s in traced.collector.spans(trace_id.to_bytes(16, "big"))
    )
    sent = received[send.context.span_id]
    assert sent.name == "smtp send"
    assert int.from_bytes(sent.parent_span_id, "big") == consume.context.span_id


async def test_health_and_metrics_are_not_traced(traced: Traced) -> None:
    stack = traced.stack
    async with stack.api.session.get(stack.platform.urls["identity"] + "/metrics") as resp:
        assert resp.status == 200
    async with stack.api.session.get(stack.platform.ops_url("gateway") + "/health/ready") as resp:
        assert resp.status == 200
    async with stack.api.session.get(stack.api.base_url + "/api/v1/openapi.json") as resp:
        assert resp.status == 200
    await wait_until(
        lambda: any(
            s.name == "GET /api/v1/openapi.json" for s in traced.memory.get_finished_spans()
        ),
        what="the OpenAPI request's span",
    )
    names = {s.name for s in traced.memory.get_finished_spans()}
    assert not [n for n in names if "/health" in n or "/metrics" in n], names
    # The gateway's readiness asks every upstream's /health/live: none of those calls is kept.
    urls = [
        str(s.attributes.get("url.full") or s.attributes.get("http.url"))
        for s in traced.memory.get_finished_spans()
        if s.kind is SpanKind.CLIENT and _service(s) == "gateway"
    ]
    assert urls, "the gateway's calls to its upstreams are traced"
    assert not [u for u in urls if "/health" in u], urls
