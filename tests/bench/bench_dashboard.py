"""Dashboard throughput and latency through the gateway, beside a bare aiohttp fan-out baseline.

    .venv/bin/python -m tests.bench.bench_dashboard [--clients 50] [--seconds 15]

Starts billing, metering, correspondence (the open cases) and the gateway as processes in a
namespace of their own, loads the demo data through the integration exchange, then drives
GET /api/v1/me/dashboard with N concurrent keep-alive clients. The baseline
(tests/bench/baseline_app.py) is one aiohttp app calling two aiohttp apps that each run one
asyncpg query, driven the same way in the same run. Prints the figures; removes its databases
and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio

import asyncpg

from deploy import demo_data
from shared.auth import Principal, TokenSigner
from shared.settings import ROOT, Settings
from tests.bench.support import bench_environment, load, spawn, stop, wait_ready
from tests.support.platform import Platform

PORTS = {"gateway": 18080, "billing": 18102, "metering": 18104, "correspondence": 18106}
BASELINE = {"front": 18200, "back1": 18201, "back2": 18202}
LOGS = ROOT / "var" / "bench"


async def settled(settings: Settings) -> bool:
    billing = await asyncpg.connect(settings.service_dsn("billing"))
    metering = await asyncpg.connect(settings.service_dsn("metering"))
    try:
        invoices = await billing.fetchval("SELECT count(*) FROM invoices WHERE paid > 0")
        readings = await metering.fetchval("SELECT count(*) FROM readings")
    except asyncpg.PostgresError:
        return False
    finally:
        await billing.close()
        await metering.close()
    return invoices >= 20 and readings >= 3 * 365


async def main(clients: int, seconds: float) -> None:
    env, settings = bench_environment(
        gateway_port=str(PORTS["gateway"]),
        gateway_ops_port="18180",  # beside a `make run` platform's 8180
        billing_port=str(PORTS["billing"]),
        metering_port=str(PORTS["metering"]),
        correspondence_port=str(PORTS["correspondence"]),
        identity_url="http://127.0.0.1:9",  # not called by the dashboard
    )
    procs = [spawn(f"services.{name}", env, LOGS / f"{name}.log") for name in PORTS]
    try:
        for port in PORTS.values():
            await wait_ready(f"http://127.0.0.1:{port}/health/live")
        await demo_data.load(settings)
        deadline = asyncio.get_running_loop().time() + 120
        while not await settled(settings):
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit("demo data did not settle")
            await asyncio.sleep(0.5)
        token, _ = TokenSigner(settings).issue(
            Principal(account_id="bench", role="customer", login="bench", customer_ids=("C-1001",))
        )
        headers = {"Authorization": f"Bearer {token}"}
        url = f"http://127.0.0.1:{PORTS['gateway']}/api/v1/me/dashboard"
        ours = await load(url, headers, clients, seconds)
    finally:
        stop(procs)

    dsn = settings.database_dsn("postgres")
    baseline = [
        spawn(
            "tests.bench.baseline_app", {}, LOGS / "back1.log", "back", str(BASELINE["back1"]), dsn
        ),
        spawn(
            "tests.bench.baseline_app", {}, LOGS / "back2.log", "back", str(BASELINE["back2"]), dsn
        ),
        spawn(
            "tests.bench.baseline_app",
            {},
            LOGS / "front.log",
            "front",
            str(BASELINE["front"]),
            f"http://127.0.0.1:{BASELINE['back1']}/",
            f"http://127.0.0.1:{BASELINE['back2']}/",
        ),
    ]
    try:
        for port in BASELINE.values():
            await wait_ready(f"http://127.0.0.1:{port}/")
        bare = await load(f"http://127.0.0.1:{BASELINE['front']}/", {}, clients, seconds)
    finally:
        stop(baseline)
        await Platform(settings).remove_namespace()

    print(
        f"dashboard benchmark: {clients} concurrent clients, {seconds:.0f} s each, 2-core machine"
    )
    print(ours.line("e-BOK GET /me/dashboard"))
    print(bare.line("bare aiohttp fan-out"))
    print(f"e-BOK / baseline requests per second: {ours.rps / bare.rps:.0%}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds))
