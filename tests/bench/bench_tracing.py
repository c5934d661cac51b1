"""What tracing costs: requests per second of one route with tracing off and on, and the
per-event cost of the relay's and the consumer's spans.

    .venv/bin/python -m tests.bench.bench_tracing [--clients 20] [--seconds 10] [--rounds 2]

HTTP: a service process (new_app with the request middlewares, a route that also makes an event
envelope, as a handler that writes to the outbox does) is loaded by `--clients` keep-alive
clients for `--seconds`, in three variants taken in turn `--rounds` times (so that other load on
the machine falls on each alike): tracing off (EBOK_OTLP_ENDPOINT unset), on with every trace
kept and exported by OTLP/HTTP to a collector stand-in (another process that decodes each
ExportTraceServiceRequest and counts its spans), and on keeping 10 %; besides requests/s and
latency, the server process's CPU time per request (all its threads, the export included), which
other load on the machine disturbs less. Messaging: the relay's
`publishing` and the consumer's `consuming` around 10,000 one-kilobyte envelopes, off and on.
Prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import BaseModel

from shared import tracing
from shared.envelope import Envelope, new_envelope
from shared.settings import Settings

SERVER_PORT = 18390
COLLECTOR_PORT = 18391


class Thing(BaseModel):
    id: str
    note: str


def serve(port: int, endpoint: str | None, ratio: float) -> None:
    from shared.logs import configure_logging
    from shared.runtime import new_app

    configure_logging("bench", "WARNING")
    settings = Settings(otlp_endpoint=endpoint, trace_sample_ratio=ratio, log_level="WARNING")
    app = new_app(settings)
    tracing.instrument(app, settings, "bench")

    async def thing(request: web.Request) -> web.Response:
        thing_id = request.match_info["id"]
        envelope = new_envelope("bench.thing.read", Thing(id=thing_id, note=""), "b")
        return web.json_response({"id": thing_id, "event": str(envelope.id)})

    app.router.add_get("/api/v1/things/{id}", thing)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def collect(port: int) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    spans = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal spans
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        spans += sum(len(s.spans) for rs in message.resource_spans for s in rs.scope_spans)
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def count(_request: web.Request) -> web.Response:
        return web.json_response({"spans": spans})

    app = web.Application()
    app.router.add_post("/v1/traces", receive)
    app.router.add_get("/count", count)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def _wait_for(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system, all threads) process `pid` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(clients: int, seconds: float) -> tuple[int, float, float, float]:
    """Requests, requests per second, p50 and p99 in ms."""
    url = f"http://127.0.0.1:{SERVER_PORT}/api/v1/things/"
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def client(session: aiohttp.ClientSession, n: int) -> None:
        i = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(f"{url}{n}-{i}") as resp:
                await resp.read()
                assert resp.status == 200
            latencies.append(time.perf_counter() - started)
            i += 1

    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(client(session, n) for n in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return (
        len(latencies),
        len(latencies) / elapsed,
        statistics.median(latencies) * 1000,
        latencies[int(len(latencies) * 0.99)] * 1000,
    )


async def http_run(label: str, clients: int, seconds: float, *args: str) -> None:
    server = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tests.bench.bench_tracing", "--serve", str(SERVER_PORT), *args],
        env={**os.environ, "OTEL_BSP_SCHEDULE_DELAY": "1000"},
    )
    try:
        await _wait_for(f"http://127.0.0.1:{SERVER_PORT}/api/v1/things/warm")
        await load(clients, 1.0)  # warm up
        cpu = cpu_seconds(server.pid)
        requests, rate, p50, p99 = await load(clients, seconds)
        await asyncio.sleep(1.5)  # the last batch of spans exported (every second)
        per_request = (cpu_seconds(server.pid) - cpu) / requests * 1e6
        print(
            f"{label:<34} {rate:6.0f} req/s  p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  "
            f"server CPU {per_request:5.0f} µs/request"
        )
    finally:
        server.terminate()
        await server.wait()


def messaging_run(label: str, on: bool, n: int = 10_000) -> None:
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    settings = Settings(otlp_endpoint="http://127.0.0.1:1")
    provider = tracing.tracer_provider(settings, "bench", Discard())
    if on:
        tracing._TRACERS["bench"] = provider.get_tracer(tracing.INSTRUMENTATION)
    parent = f"00-{uuid.uuid4().hex}-{'1' * 16}-01" if on else None
    note = "x" * 800
    bodies = [
        new_envelope("bench.thing.read", Thing(id=str(i), note=note), "b")
        .model_copy(update={"traceparent": parent})
        .model_dump_json()
        for i in range(n)
    ]
    started = time.perf_counter()
    for i in range(0, n, 250):  # packed as the relay packs them
        with tracing.publishing("bench", bodies[i : i + 250], "events", "bench.thing.read") as sent:
            envelopes = [Envelope.model_validate_json(body) for body in sent]
        for envelope in envelopes:
            with tracing.consuming("bench", "q", [envelope]):
                pass
    elapsed = time.perf_counter() - started
    tracing._TRACERS.pop("bench", None)
    provider.shutdown()
    print(f"{label:<34} {elapsed / n * 1e6:8.1f} µs per event (publish + consume, parse included)")


async def main(clients: int, seconds: float, rounds: int) -> None:
    collector = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "tests.bench.bench_tracing", "--collect", str(COLLECTOR_PORT)]
    )
    endpoint = f"http://127.0.0.1:{COLLECTOR_PORT}"
    try:
        await _wait_for(endpoint + "/count")
        # Rounds in turn, so that other load on the machine falls on every variant alike.
        for _ in range(rounds):
            await http_run("HTTP, tracing off", clients, seconds)
            await http_run("HTTP, on, all kept, OTLP export", clients, seconds, "--otlp", endpoint)
            await http_run(
                "HTTP, on, 10 % kept", clients, seconds, "--otlp", endpoint, "--ratio", "0.1"
            )
        async with aiohttp.ClientSession() as session:
            async with session.get(endpoint + "/count") as resp:
                print(f"spans the collector received: {(await resp.json())['spans']}")
    finally:
        collector.terminate()
        await collector.wait()
    for _ in range(rounds):
        messaging_run("messaging, tracing off", on=False)
        messaging_run("messaging, tracing on", on=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--serve", type=int)
    parser.add_argument("--collect", type=int)
    parser.add_argument("--otlp")
    parser.add_argument("--ratio", type=float, default=1.0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.otlp, args.ratio)
    elif args.collect:
        collect(args.collect)
    else:
        asyncio.run(main(args.clients, args.seconds, args.rounds))
