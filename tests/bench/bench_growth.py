"""One customer's views as the utility grows: the same customer, 1,000 / 100,000 / 1,000,000 others.

    .venv/bin/python -m tests.bench.bench_growth [--sizes 1000,100000,1000000] [--seconds 5]
                                                  [--clients 20] [--keep-exports DIR]

For each size: a namespace of its own; an ERP export of that many customers (each with a
contract, a service point and meter, twelve monthly invoices, payments and notes:
deploy/erp_export_sample) loaded through the bulk path (deploy/erp_import, which ends with
ANALYZE); then billing, identity, metering and the gateway start as processes, one customer's
meter gets five years of hourly readings (43,800) through the reading feed, and the customer's
views are driven through the gateway by `--clients` keep-alive clients for `--seconds` each:
dashboard, invoices, readings (first and last page), consumption (a year by day, five years by
month). Rows read per request come from PostgreSQL's own counters (pg_stat_user_tables: tuples
returned by sequential and index scans, all tables of billing and metering) over 200 sequential
requests. The feed rate is 300 new customers' ERP feed (20 messages each) published into the
loaded platform, until billing has handled it. Prints a table per size and the ratio of the
largest size to the smallest for each view; removes its databases and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from deploy.erp_export_sample import write_export
from deploy.erp_import import load_all
from deploy.integration_client import IntegrationClient
from shared.auth import Principal, TokenSigner
from shared.events import reading
from shared.settings import ROOT, Settings
from tests.bench.bench_feed import messages as feed_messages
from tests.bench.support import LoadResult, bench_environment, load, spawn, stop, wait_ready
from tests.support.platform import Platform

LOGS = ROOT / "var" / "bench"
PORTS = {"billing": 18502, "identity": 18501, "metering": 18504, "gateway": 18580}
CUSTOMER = "C00000001"  # in every export: active contract, meter M00000001
METER = "M00000001"
HOURS = 5 * 365 * 24
FEED_CUSTOMERS = 300
STATS_IDLE_SECONDS = 11  # PostgreSQL 15 backends flush their table counters when idle 10 s


def hourly_readings(end: datetime) -> list[dict[str, str]]:
    start = end - timedelta(hours=HOURS)
    return [
        {
            "meter_number": METER,
            "read_at": (start + timedelta(hours=h)).isoformat(),
            "value": f"{1000 + h * 0.021:.3f}",
            "source": "remote",
        }
        for h in range(HOURS)
    ]


async def feed_readings(settings: Settings, end: datetime) -> None:
    rows = hourly_readings(end)
    async with IntegrationClient(settings.amqp_url, settings.namespace, "reading") as client:
        for i in range(0, len(rows), 5000):
            batch = reading.ReadingBatchRecorded(readings=rows[i : i + 5000])
            await client.publish("reading.batch.recorded", batch)
    conn = await asyncpg.connect(settings.service_dsn("metering"))
    try:
        deadline = time.monotonic() + 300
        while await conn.fetchval(
            "SELECT count(*) FROM readings WHERE meter_number = $1", METER
        ) < len(rows):
            if time.monotonic() > deadline:
                raise SystemExit("readings were not stored within 5 minutes")
            await asyncio.sleep(0.2)
        await conn.execute("ANALYZE readings")
    finally:
        await conn.close()


async def rows_read(settings: Settings) -> int:
    total = 0
    for service in ("billing", "metering"):
        conn = await asyncpg.connect(settings.service_dsn(service))
        try:
            total += await conn.fetchval(
                """SELECT coalesce(sum(coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0)), 0)
                     FROM pg_stat_user_tables"""
            )
        finally:
            await conn.close()
    return total


async def rows_per_request(settings: Settings, url: str, headers: dict[str, str]) -> float:
    await asyncio.sleep(STATS_IDLE_SECONDS)
    before = await rows_read(settings)
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(200):
            async with session.get(url) as resp:
                await resp.read()
                assert resp.status == 200, (url, resp.status)
    await asyncio.sleep(STATS_IDLE_SECONDS)
    return (await rows_read(settings) - before) / 200


async def last_page(base: str, headers: dict[str, str]) -> str:
    """The URL of the last page of the meter's readings, found by following the cursors."""
    url = f"{base}/meters/{METER}/readings?limit=100"
    async with aiohttp.ClientSession(headers=headers) as session:
        while True:
            async with session.get(url) as resp:
                body = await resp.json()
                assert resp.status == 200, body
            if not body.get("next_cursor"):
                return url
            url = f"{base}/meters/{METER}/readings?limit=100&cursor={body['next_cursor']}"


async def feed_rate(settings: Settings) -> float:
    """ERP messages per second into billing for new customers, into the loaded platform."""
    # Customers after any size measured: new to the platform.
    feed = feed_messages(FEED_CUSTOMERS, "customer", first=10_000_001)
    conn = await asyncpg.connect(settings.service_dsn("billing"))
    try:
        before = await conn.fetchval("SELECT count(*) FROM inbox")
        started = time.perf_counter()
        async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
            for i in range(0, len(feed), 1000):
                await asyncio.gather(*(client.publish_raw(rk, m) for rk, m in feed[i : i + 1000]))
        while await conn.fetchval("SELECT count(*) FROM inbox") - before < len(feed):
            if time.perf_counter() - started > 600:
                raise SystemExit("the feed was not handled within 10 minutes")
            await asyncio.sleep(0.05)
        return len(feed) / (time.perf_counter() - started)
    finally:
        await conn.close()


async def measure(size: int, clients: int, seconds: float, exports: Path) -> dict[str, object]:
    env, settings = bench_environment(
        **{f"{name}_port": str(port) for name, port in PORTS.items()},
        gateway_ops_port="18581",
        notifications_url="http://127.0.0.1:9",
    )
    platform = Platform(settings)
    today = date.today()
    directory = exports / f"export-{size}"
    figures: dict[str, object] = {"customers": size}
    procs = []
    try:
        if not (directory / "customers.jsonl").exists():
            started = time.perf_counter()
            write_export(directory, size, today.replace(day=1), progress=None)
            figures["export s"] = time.perf_counter() - started
        started = time.perf_counter()
        await load_all(settings, directory)
        figures["bulk load s"] = time.perf_counter() - started
        procs = [spawn(f"services.{name}", env, LOGS / f"growth-{name}.log") for name in PORTS]
        for name, port in PORTS.items():
            path = "/health/live" if name == "gateway" else "/health/ready"
            await wait_ready(f"http://127.0.0.1:{port}{path}", timeout=120)
        await feed_readings(settings, datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
        token, _ = TokenSigner(settings).issue(
            Principal(account_id="bench", role="customer", login="bench", customer_ids=(CUSTOMER,))
        )
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{PORTS['gateway']}/api/v1"
        year_ago = (today - timedelta(days=365)).isoformat()
        five_years_ago = (today - timedelta(days=5 * 365)).isoformat()
        views = {
            "dashboard": f"{base}/me/dashboard",
            "invoices": f"{base}/invoices",
            "readings, first page": f"{base}/meters/{METER}/readings?limit=100",
            "readings, last page": await last_page(base, headers),
            "consumption, year by day": (
                f"{base}/meters/{METER}/consumption?granularity=day"
                f"&from={year_ago}&to={today.isoformat()}"
            ),
            "consumption, 5 years by month": (
                f"{base}/meters/{METER}/consumption?granularity=month"
                f"&from={five_years_ago}&to={today.isoformat()}"
            ),
        }
        for view, url in views.items():
            result: LoadResult = await load(url, headers, clients, seconds, warmup=1.0)
            if result.errors:
                raise SystemExit(f"{view}: {result.errors} errors")
            figures[view] = (result, await rows_per_request(settings, url, headers))
        figures["feed msg/s"] = await feed_rate(settings)
    finally:
        stop(procs)
        await platform.remove_namespace()
    return figures


def report(results: list[dict[str, object]]) -> None:
    print("growth benchmark: one customer's views through the gateway, 2-core machine")
    for figures in results:
        print(f"\n{figures['customers']:,} customers")
        for key, value in figures.items():
            if isinstance(value, tuple):
                result, rows = value
                print(
                    f"  {key:<31} p50 {result.percentile(50):6.2f} ms  "
                    f"p99 {result.percentile(99):6.2f} ms  {result.rps:6.0f} req/s  "
                    f"{rows:8.1f} rows read/request"
                )
            elif key != "customers":
                print(f"  {key:<31} {value:,.1f}")
    if len(results) > 1:
        small, large = results[0], results[-1]
        print(f"\nratio {large['customers']:,} / {small['customers']:,} customers (p50; req/s)")
        for key, value in small.items():
            if isinstance(value, tuple):
                big = large[key]
                assert isinstance(big, tuple)
                print(
                    f"  {key:<31} p50 x{big[0].percentile(50) / value[0].percentile(50):4.2f}  "
                    f"req/s x{value[0].rps / big[0].rps:4.2f} (smaller/larger)  "
                    f"rows x{(big[1] or 1) / (value[1] or 1):4.2f}"
                )
        print(f"  {'feed msg/s':<31} x{small['feed msg/s'] / large['feed msg/s']:4.2f}")


async def main(sizes: list[int], clients: int, seconds: float, keep: Path | None) -> None:
    exports = keep or Path(tempfile.mkdtemp(prefix="ebok-growth-"))
    try:
        results = []
        for size in sizes:
            results.append(await measure(size, clients, seconds, exports))
            print(f"{size:,} customers measured", flush=True)
        report(results)
    finally:
        if keep is None:
            shutil.rmtree(exports, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--keep-exports", type=Path, default=None)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    asyncio.run(main(sizes, args.clients, args.seconds, args.keep_exports))
