"""A meter's readings a page at a time: the first page against the last, through metering.

    .venv/bin/python -m tests.bench.bench_paging [--hours 43800] [--requests 200]

One meter with five years of hourly readings (43,800), fed through the reading system's feed
(reading.batch.recorded, 5,000 a message) into a running metering service; the meter itself is
written into metering's table as billing's contract event would leave it. Then
`GET /meters/{meter}/readings` is timed (`--requests` sequential requests, one keep-alive
client) for the first page, a page from the middle and the last page, at `limit` 100 (the
default) and 1,000 (the most), each page found by following the cursors. For comparison, the
statements of the OFFSET paging this replaced (decision 53) are timed on the same data, directly
in PostgreSQL under a generic plan as the services run them: the last page by OFFSET and the
count of all readings that each page also made; and the keyset statement alone beside them.
Prints the figures; removes its namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg

from deploy.integration_client import IntegrationClient
from services.metering import repository
from shared.api.paging import Position
from shared.auth import Principal, TokenSigner
from shared.events import reading
from shared.settings import ROOT
from tests.bench.support import bench_environment, spawn, stop, wait_ready
from tests.support.platform import Platform

PORT = 18314
LOGS = ROOT / "var" / "bench"
CUSTOMER = "C-BENCH"
METER = "M-BENCH"
START = datetime(2021, 1, 1, tzinfo=UTC)

# The statements of the OFFSET paging (before decision 53), for the figures to compare with.
OFFSET_PAGE = """SELECT r.read_at, r.value, r.source, r.value - prev.value AS consumption
             FROM readings r
             LEFT JOIN LATERAL (
                 SELECT value FROM readings p
                  WHERE p.meter_number = r.meter_number AND p.read_at < r.read_at
                    AND p.read_at >= $6
                  ORDER BY p.read_at DESC LIMIT 1) prev ON true
            WHERE r.meter_number = $1 AND r.read_at >= $2
              AND ($3::timestamptz IS NULL OR r.read_at <= $3)
            ORDER BY r.read_at DESC LIMIT $4 OFFSET $5"""
OFFSET_COUNT = """SELECT count(*) FROM readings WHERE meter_number = $1 AND read_at >= $2
              AND ($3::timestamptz IS NULL OR read_at <= $3)"""


async def feed(settings, hours: int) -> None:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(settings.service_dsn("metering"))
    try:
        await conn.execute(
            """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                                   address, contract_signed_on, installed_on)
               VALUES ($1, 'SP-BENCH', $2, 'U-BENCH', '{}', $3, $3)""",
            METER,
            CUSTOMER,
            START.date(),
        )
        rows = [
            {
                "meter_number": METER,
                "read_at": (START + timedelta(hours=h)).isoformat(),
                "value": f"{1000 + h * 0.021:.3f}",
                "source": "remote",
            }
            for h in range(hours)
        ]
        async with IntegrationClient(settings.amqp_url, settings.namespace, "reading") as client:
            for i in range(0, len(rows), 5000):
                batch = reading.ReadingBatchRecorded(readings=rows[i : i + 5000])
                await client.publish("reading.batch.recorded", batch)
        deadline = time.monotonic() + 300
        while await conn.fetchval("SELECT count(*) FROM readings") < hours:
            if time.monotonic() > deadline:
                raise SystemExit("the readings were not stored within 5 minutes")
            await asyncio.sleep(0.2)
        await conn.execute("ANALYZE readings")
    finally:
        await conn.close()


def figures(name: str, times_ms: list[float], rows: int) -> str:
    ordered = sorted(times_ms)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name:<36} {rows:5d} rows   median {statistics.median(ordered):7.2f} ms   "
        f"p95 {p95:7.2f} ms"
    )


async def pages(session: aiohttp.ClientSession, base: str, limit: int) -> dict[str, str]:
    """The URLs of the first page, one from the middle and the last, by following cursors."""
    url = f"{base}?limit={limit}"
    found = [url]
    while True:
        async with session.get(url) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        if not body["next_cursor"]:
            break
        url = f"{base}?limit={limit}&cursor={body['next_cursor']}"
        found.append(url)
    return {"first": found[0], "middle": found[len(found) // 2], "last": found[-1]}


async def time_service(settings, requests: int) -> list[str]:  # type: ignore[no-untyped-def]
    token, _ = TokenSigner(settings).issue(
        Principal(account_id="bench", role="customer", login="bench", customer_ids=(CUSTOMER,))
    )
    base = f"http://127.0.0.1:{PORT}/meters/{METER}/readings"
    lines = []
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for limit in (100, 1000):
            for name, url in (await pages(session, base, limit)).items():
                times = []
                for n in range(requests + 10):
                    started = time.perf_counter()
                    async with session.get(url) as resp:
                        body = await resp.json()
                        assert resp.status == 200, body
                    if n >= 10:  # after a warm-up
                        times.append((time.perf_counter() - started) * 1000)
                label = f"cursor, limit {limit}, {name} page"
                lines.append(figures(label, times, len(body["items"])))
    return lines


async def timed(requests: int, call) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    """Milliseconds of `requests` awaits of `call()` after ten to warm up, and its last answer."""
    times = []
    for n in range(requests + 10):
        started = time.perf_counter()
        answer = await call()
        if n >= 10:
            times.append((time.perf_counter() - started) * 1000)
    return times, answer


async def time_sql(settings, hours: int, requests: int) -> list[str]:  # type: ignore[no-untyped-def]
    """The keyset statement (repository.readings_page) and the OFFSET ones it replaced, alone."""
    conn = await asyncpg.connect(
        settings.service_dsn("metering"), server_settings={"plan_cache_mode": "force_generic_plan"}
    )
    lines = []
    try:
        for limit in (100, 1000):
            # The last page by OFFSET starts at row (hours - 1) // limit * limit, newest first:
            # its cursor is the reading just newer than its first.
            last = START + timedelta(hours=hours - (hours - 1) // limit * limit)
            for name, position in (("first", None), ("last", Position((last,)))):
                times, (rows, _) = await timed(
                    requests,
                    lambda p=position, n=limit: repository.readings_page(
                        conn, METER, START, START, None, p, n
                    ),
                )
                lines.append(figures(f"keyset, limit {limit}, {name} page (SQL)", times, len(rows)))
        page = await conn.prepare(OFFSET_PAGE)
        count = await conn.prepare(OFFSET_COUNT)
        for limit in (100, 1000):
            for name, offset in (("first", 0), ("last", (hours - 1) // limit * limit)):
                times, rows = await timed(
                    requests,
                    lambda n=limit, o=offset: page.fetch(METER, START, None, n, o, START),
                )
                lines.append(figures(f"OFFSET, limit {limit}, {name} page (SQL)", times, len(rows)))
        times, _ = await timed(requests, lambda: count.fetchval(METER, START, None))
        lines.append(figures("OFFSET's count of all rows (SQL)", times, 1))
    finally:
        await conn.close()
    return lines


async def main(hours: int, requests: int) -> None:
    env, settings = bench_environment(metering_port=str(PORT))
    platform = Platform(settings)
    proc = spawn("services.metering", env, LOGS / "metering-paging.log")
    try:
        await wait_ready(f"http://127.0.0.1:{PORT}/health/ready")
        await feed(settings, hours)
        service = await time_service(settings, requests)
        sql = await time_sql(settings, hours, requests)
    finally:
        stop([proc])
        await platform.remove_namespace()
    print(f"readings paging: one meter, {hours} hourly readings, {requests} sequential requests")
    print("through metering's HTTP API (token verification, query, JSON):")
    for line in service:
        print("  " + line)
    print("the keyset statement, and the statements of the OFFSET paging before, alone:")
    for line in sql:
        print("  " + line)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=5 * 365 * 24)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.hours, args.requests))
