"""shared/tracing.py: off by default with nothing installed; on, the correlation id is the trace
id, requests are spans that continue a caller's trace, and sampling keeps its share of uuid4
trace ids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from shared import tracing
from shared.envelope import new_envelope
from shared.http.middleware import CORRELATION_HEADER
from shared.logs import set_correlation_id
from shared.runtime import new_app
from shared.settings import Settings
from shared.tracing_sdk import CorrelationTraceIds, RootRatio
from tests.support.platform import BUILDERS, make_settings


class Payload(BaseModel):
    n: int = 1


def test_off_by_default_nothing_is_installed(keys: Path) -> None:
    settings = make_settings("postgresql://u@127.0.0.1:1/x", "amqp://u:p@127.0.0.1:1/", keys)
    assert settings.otlp_endpoint is None
    original_application = web.Application
    for name, build in BUILDERS.items():
        app = build(settings)
        assert tracing.TRACER_PROVIDER not in app, name
        assert not [m for m in app.middlewares if m.__module__ == tracing.__name__], name
        assert tracing.client_trace_configs(app) == []
        assert tracing.tracer(name) is None
    # No global provider, no patched classes (the instrumentors' global way is never used).
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    assert web.Application is original_application
    assert not hasattr(aiohttp.ClientSession.__init__, "__wrapped__")
    # Envelopes are what they were: no traceparent, not even a null one.
    envelope = new_envelope("identity.account.activated", Payload(), "identity")
    assert envelope.traceparent is None
    assert "traceparent" not in envelope.model_dump_json()
    body = envelope.model_dump_json()
    with tracing.publishing("identity", [body], "events", envelope.type) as sent:
        assert sent == [body]
    with tracing.consuming("notifications", "q", [envelope]):
        assert tracing.current_traceparent() is None


def test_an_empty_endpoint_is_off() -> None:
    assert Settings(otlp_endpoint="", otlp_headers="").otlp_endpoint is None


def test_exporter_addresses() -> None:
    assert tracing.traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("http://collector:4318/") == "http://collector:4318/v1/traces"
    assert tracing.traces_url("https://t.example/v1/traces") == "https://t.example/v1/traces"
    assert tracing.otlp_headers("authorization=Basic eA==, x-scope-orgid=ebok,bad") == {
        "authorization": "Basic eA==",
        "x-scope-orgid": "ebok",
    }
    assert tracing.otlp_headers(None) == {}


def test_the_correlation_id_is_the_trace_id() -> None:
    ids = CorrelationTraceIds()
    correlation_id = uuid.uuid4().hex
    set_correlation_id(correlation_id)
    assert ids.generate_trace_id() == int(correlation_id, 16)
    set_correlation_id("not-hex-chosen-by-a-client")
    other = ids.generate_trace_id()
    assert other != 0 and f"{other:032x}" != "not-hex-chosen-by-a-client"


def _kept(sampler: object, n: int = 4000) -> float:
    kept = sum(
        sampler.should_sample(None, uuid.uuid4().int, "x").decision  # type: ignore[attr-defined]
        is Decision.RECORD_AND_SAMPLE
        for _ in range(n)
    )
    return kept / n


def test_sampling_keeps_its_share_of_uuid4_trace_ids() -> None:
    # The SDK's sampler looks at the lower 64 bits, whose top two are a uuid4's variant (10):
    # it would keep none of a quarter, and all of 80 %.
    assert _kept(TraceIdRatioBased(0.25)) == 0
    assert _kept(TraceIdRatioBased(0.8)) == 1
    assert 0.2 < _kept(RootRatio(0.25)) < 0.3
    assert _kept(RootRatio(1.0)) == 1
    assert _kept(RootRatio(0.0)) == 0


def test_the_gateways_health_calls_are_never_kept() -> None:
    sampler = RootRatio(1.0)

    def decision(url: str) -> Decision:
        attributes = {"http.url": url}
        return sampler.should_sample(None, 1, "GET", SpanKind.CLIENT, attributes).decision

    assert decision("http://127.0.0.1:8101/health/live") is Decision.DROP
    assert decision("http://127.0.0.1:8101/api/v1/registrations") is Decision.RECORD_AND_SAMPLE


@pytest.fixture
async def traced_app(keys: Path) -> AsyncIterator[tuple[str, Callable[[], list[ReadableSpan]]]]:
    memory = InMemorySpanExporter()
    settings = make_settings(
        "postgresql://u@127.0.0.1:1/x",
        "amqp://u:p@127.0.0.1:1/",
        keys,
        otlp_endpoint="http://127.0.0.1:1",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tracing, "span_exporter", lambda _settings: memory)
        app = new_app(settings)
        tracing.instrument(app, settings, "unit")

        async def ok(_request: web.Request) -> web.Response:
            return web.json_response({"traceparent": tracing.current_traceparent()})

        async def broken(_request: web.Request) -> web.Response:
            raise RuntimeError("boom")

        app.router.add_get("/things/{id}", ok)
        app.router.add_get("/broken", broken)
        app.router.add_get("/health/live", ok)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        assert tracing.tracer("unit") is not None

        def finished() -> list[ReadableSpan]:
            app[tracing.TRACER_PROVIDER].force_flush()  # type: ignore[attr-defined]
            return list(memory.get_finished_spans())

        yield f"http://127.0.0.1:{runner.addresses[0][1]}", finished
        await runner.cleanup()
    assert tracing.tracer("unit") is None


async def test_a_request_is_a_server_span_named_by_its_correlation_id(
    traced_app: tuple[str, Callable[[], list[ReadableSpan]]],
) -> None:
    url, finished = traced_app
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/things/7?token=s3cret&customer=C-1") as resp:
            correlation_id = resp.headers[CORRELATION_HEADER]
            inside = (await resp.json())["traceparent"]
        caller = f"00-{uuid.uuid4().hex}-{'1' * 16}-01"
        async with session.get(url + "/things/8", headers={"traceparent": caller}) as resp:
            continued = (await resp.json())["traceparent"]
            # No correlation id of its own: the caller's trace id becomes it.
            assert resp.headers[CORRELATION_HEADER] == caller.split("-")[1]
        async with session.get(url + "/broken") as resp:
            assert resp.status == 500
        async with session.get(url + "/health/live") as resp:
            assert resp.status == 200
    spans = finished()
    assert sorted(s.name for s in spans) == ["GET /broken", *["GET /things/{id}"] * 2]
    first, second = [s for s in spans if s.name == "GET /things/{id}"]
    [broken] = [s for s in spans if s.name == "GET /broken"]
    assert first.kind is SpanKind.SERVER and first.parent is None
    assert f"{first.context.trace_id:032x}" == correlation_id
    assert inside == tracing.traceparent_of(first.context)  # the handler runs inside it
    assert first.attributes["http.route"] == "/things/{id}"
    # No query string is kept: it may hold a token or a customer's number.
    assert not [v for v in first.attributes.values() if "s3cret" in str(v) or "C-1" in str(v)]
    assert first.attributes["http.target"] == "/things/7"
    assert second.parent is not None and second.parent.span_id == int("1" * 16, 16)
    assert continued.split("-")[1] == caller.split("-")[1]  # the caller's trace goes on
    assert broken.status.status_code is StatusCode.ERROR


def test_envelope_json_roundtrip_keeps_the_traceparent() -> None:
    envelope = new_envelope("identity.account.activated", Payload(), "identity")
    value = f"00-{uuid.uuid4().hex}-{'2' * 16}-01"
    with_trace = envelope.model_copy(update={"traceparent": value})
    body = orjson.loads(with_trace.model_dump_json())
    assert body["traceparent"] == value
    assert list(body)[:7] == [
        "id",
        "type",
        "version",
        "occurred_at",
        "producer",
        "correlation_id",
        "traceparent",
    ]


def test_the_relay_publishes_each_envelope_under_its_own_span() -> None:
    memory = InMemorySpanExporter()
    settings = Settings(otlp_endpoint="http://127.0.0.1:1")
    provider = tracing.tracer_provider(settings, "relay", memory)
    tracing._TRACERS["relay"] = provider.get_tracer(tracing.INSTRUMENTATION)
    try:
        kept = f"00-{uuid.uuid4().hex}-{'3' * 16}-01"
        dropped = f"00-{uuid.uuid4().hex}-{'4' * 16}-00"
        bodies = [
            new_envelope("identity.account.activated", Payload(n=n), "identity")
            .model_copy(update={"traceparent": traceparent})
            .model_dump_json()
            for n, traceparent in enumerate([kept, None, dropped, kept])
        ]
        with tracing.publishing("relay", bodies, "events", "identity.account.activated") as sent:
            pass
        provider.force_flush()
    finally:
        del tracing._TRACERS["relay"]
        provider.shutdown()
    spans = memory.get_finished_spans()
    assert [s.kind for s in spans] == [SpanKind.PRODUCER] * 2  # the kept envelopes only
    assert sent[1] == bodies[1] and sent[2] == bodies[2]  # untraced, and sampled out: as written
    for body, original, span in zip([sent[0], sent[3]], [bodies[0], bodies[3]], spans, strict=True):
        assert span.parent is not None and span.parent.span_id == int("3" * 16, 16)
        assert orjson.loads(body)["traceparent"] == tracing.traceparent_of(span.context)
        assert f"{span.context.trace_id:032x}" == kept.split("-")[1]
        # Nothing else of the envelope changed.
        assert {**orjson.loads(body), "traceparent": kept} == orjson.loads(original)


async def test_a_call_is_a_client_span_without_its_query(
    traced_app: tuple[str, Callable[[], list[ReadableSpan]]],
) -> None:
    url, finished = traced_app
    memory = InMemorySpanExporter()
    provider = tracing.tracer_provider(Settings(otlp_endpoint="http://127.0.0.1:1"), "c", memory)
    caller = web.Application()
    caller[tracing.TRACER_PROVIDER] = provider
    async with aiohttp.ClientSession(trace_configs=tracing.client_trace_configs(caller)) as session:
        async with session.get(url + "/things/9?token=s3cret") as resp:
            assert resp.status == 200
    provider.force_flush()
    [call] = memory.get_finished_spans()
    [served] = [s for s in finished() if s.name == "GET /things/{id}"]
    provider.shutdown()
    assert call.kind is SpanKind.CLIENT
    assert served.parent is not None and served.parent.span_id == call.context.span_id
    assert not [v for v in call.attributes.values() if "s3cret" in str(v)], call.attributes
