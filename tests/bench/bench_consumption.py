"""A meter's consumption series through the gateway, for one meter with five years of hourly
readings (43,800): an hour of each of a week, a day of each of a year, a month of each of five
years.

    .venv/bin/python -m tests.bench.bench_consumption [--clients 20] [--seconds 10]

Starts metering and the gateway as processes in a namespace of their own, puts one meter and its
readings straight into metering's database (the feed's speed is bench_readings'), then drives
GET /api/v1/meters/{meter}/consumption with N concurrent keep-alive clients for each granularity.
Prints the figures; removes its databases and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import date

import aiohttp
import asyncpg

from shared.auth import Principal, TokenSigner
from shared.settings import ROOT
from tests.bench.support import bench_environment, load, spawn, stop, wait_ready
from tests.support.platform import Platform

PORTS = {"gateway": 18085, "metering": 18114}
LOGS = ROOT / "var" / "bench"
METER, CUSTOMER = "M-BENCH-1", "C-BENCH"
HOURS = 5 * 8760
SERIES = {
    "hour, one week": ("hour", "2025-06-02", "2025-06-08", 168),
    "day, one year": ("day", "2025-01-01", "2025-12-31", 365),
    "month, five years": ("month", "2021-01-01", "2025-12-31", 60),
}


async def one_meter_five_years(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                                   address, contract_signed_on, installed_on)
               VALUES ($1, 'SP-BENCH-1', $2, 'U-BENCH', $3, $4, $4)""",
            METER,
            CUSTOMER,
            '{"street": "Wodna", "building": "1", "postal_code": "00-950", "city": "Warszawa"}',
            date(2021, 1, 1),
        )
        await conn.execute(
            """INSERT INTO readings (meter_number, read_at, value, source)
               SELECT $1, TIMESTAMPTZ '2021-01-01 00:20Z' + make_interval(hours => h),
                      h * 0.010 + (h / 24) * 0.050, 'remote'
                 FROM generate_series(0, $2 - 1) h""",
            METER,
            HOURS,
        )
        await conn.execute("ANALYZE readings")
    finally:
        await conn.close()


async def main(clients: int, seconds: float) -> None:
    env, settings = bench_environment(
        gateway_port=str(PORTS["gateway"]),
        gateway_ops_port="18185",  # beside a `make run` platform's 8180 and bench_dashboard's
        metering_port=str(PORTS["metering"]),
        identity_url="http://127.0.0.1:9",  # not called by the consumption route
        billing_url="http://127.0.0.1:9",
    )
    procs = [spawn(f"services.{name}", env, LOGS / f"{name}-consumption.log") for name in PORTS]
    results = []
    try:
        for port in PORTS.values():
            await wait_ready(f"http://127.0.0.1:{port}/health/live")
        await wait_ready(f"http://127.0.0.1:{PORTS['metering']}/health/ready")
        await one_meter_five_years(settings.service_dsn("metering"))
        token, _ = TokenSigner(settings).issue(
            Principal(account_id="bench", role="customer", login="bench", customer_ids=(CUSTOMER,))
        )
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{PORTS['gateway']}/api/v1/meters/{METER}/consumption"
        async with aiohttp.ClientSession(headers=headers) as session:
            for name, (granularity, from_, to, buckets) in SERIES.items():
                url = f"{base}?granularity={granularity}&from={from_}&to={to}"
                async with session.get(url) as resp:
                    body = await resp.read()
                    points = (await resp.json())["points"] if resp.status == 200 else []
                if resp.status != 200 or len(points) != buckets:
                    raise SystemExit(f"{url}: {resp.status} {body[:500]!r}")
                measured = await load(url, headers, clients, seconds)
                results.append((name, buckets, len(body), measured))
    finally:
        stop(procs)
        await Platform(settings).remove_namespace()

    print(
        f"consumption series benchmark: one meter, {HOURS} hourly readings, {clients} concurrent "
        f"clients, {seconds:.0f} s each, through the gateway, 2-core machine"
    )
    for name, buckets, size, measured in results:
        print(measured.line(f"{name} ({buckets} pts, {size / 1024:.1f} KB)"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds))
