"""A manager of 5,000 service points over 1,000 customers: the portfolio and a selected
customer's dashboard against a customer's own dashboard, through the gateway.

    .venv/bin/python -m tests.bench.bench_portfolio [--clients 10] [--seconds 10]

Starts billing, metering and the gateway as processes in a namespace of their own and writes
1,000 customers into billing and metering (two contracts and six service points each, 24
invoices, 20 payments and 2 notes naming invoices, six meters with 12 readings each: 24,000
invoices, 72,000 readings). The manager's grants arrive as identity publishes them (1,000
`identity.grant.changed` on the events exchange): customers 1-500 full (six points each), 501-1000
partial (four of their six points), 5,000 service points in all. Then, each with `--clients`
concurrent keep-alive clients for `--seconds`: a customer's own GET /api/v1/me/dashboard (the
reference), the manager's GET /api/v1/portfolio (first page of 20, and a search), and the
manager's dashboard of a fully and of a partly granted customer (`?customer=`). Prints the p50s
and their ratio to the reference (issue 10: within 1.5); removes its namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg

from deploy.integration_client import IntegrationClient
from shared.auth import Principal, TokenSigner
from shared.events.identity import GrantChanged
from shared.settings import ROOT, Settings
from tests.bench.support import LoadResult, bench_environment, load, spawn, stop, wait_ready
from tests.support.platform import Platform

PORTS = {"billing": 18402, "metering": 18404, "gateway": 18480}
LOGS = ROOT / "var" / "bench"
CUSTOMERS = 1_000
FULL = 500  # customers 1..FULL fully granted, the rest partly (points 1-4 of 6)
MANAGER = uuid.uuid4()

BILLING = [
    """INSERT INTO customers (customer_id, name, kind, address)
       SELECT 'C-' || lpad(n::text, 4, '0'), 'Wspólnota ' || n, 'company',
              '{"street": "Wodna", "building": "1", "postal_code": "00-950", "city": "Warszawa"}'
         FROM generate_series(1, $1) n""",
    """INSERT INTO contracts (contract_number, customer_id, signed_on, status)
       SELECT 'U-' || n || '-' || k, 'C-' || lpad(n::text, 4, '0'), DATE '2024-01-01', 'active'
         FROM generate_series(1, $1) n, generate_series(1, 2) k""",
    """INSERT INTO service_points (service_point_id, contract_number, address, meter_number)
       SELECT 'SP-' || n || '-' || p, 'U-' || n || '-' || (1 + (p - 1) / 3),
              jsonb_build_object('street', 'Ulica ' || n, 'building', p::text,
                                 'postal_code', '00-950', 'city', 'Warszawa'),
              'M-' || n || '-' || p
         FROM generate_series(1, $1) n, generate_series(1, 6) p""",
    """INSERT INTO invoices (invoice_number, customer_id, contract_number, issued_on, due_on,
                             period_from, period_to, net, vat, gross, paid)
       SELECT 'FV/' || n || '/' || k || '/' || m, 'C-' || lpad(n::text, 4, '0'),
              'U-' || n || '-' || k, DATE '2025-01-31' + m * 30, DATE '2025-02-14' + m * 30,
              DATE '2025-01-01' + m * 30, DATE '2025-01-30' + m * 30, 100, 8, 108,
              CASE WHEN m <= 10 THEN 108 ELSE 0 END
         FROM generate_series(1, $1) n, generate_series(1, 2) k, generate_series(1, 12) m""",
    """INSERT INTO payments (booking_id, customer_id, booked_on, amount, invoice_number, channel)
       SELECT 'B-' || n || '-' || k || '-' || m, 'C-' || lpad(n::text, 4, '0'),
              DATE '2025-02-10' + m * 30, 108, 'FV/' || n || '/' || k || '/' || m, 'transfer'
         FROM generate_series(1, $1) n, generate_series(1, 2) k, generate_series(1, 10) m""",
    """INSERT INTO notes (note_number, customer_id, kind, issued_on, amount, description,
                          invoice_number)
       SELECT 'NO-' || n || '-' || k, 'C-' || lpad(n::text, 4, '0'), 'interest',
              DATE '2025-12-01', 2.5, 'Odsetki', 'FV/' || n || '/' || k || '/11'
         FROM generate_series(1, $1) n, generate_series(1, 2) k""",
]
METERING = [
    """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number, address,
                           contract_signed_on, installed_on)
       SELECT 'M-' || n || '-' || p, 'SP-' || n || '-' || p, 'C-' || lpad(n::text, 4, '0'),
              'U-' || n || '-' || (1 + (p - 1) / 3),
              jsonb_build_object('street', 'Ulica ' || n, 'building', p::text,
                                 'postal_code', '00-950', 'city', 'Warszawa'),
              DATE '2024-01-01', DATE '2024-01-01'
         FROM generate_series(1, $1) n, generate_series(1, 6) p""",
    """INSERT INTO readings (meter_number, read_at, value, source)
       SELECT 'M-' || n || '-' || p,
              TIMESTAMPTZ '2025-01-01 06:00+00' + make_interval(days => 30 * m), 10 * m, 'remote'
         FROM generate_series(1, $1) n, generate_series(1, 6) p, generate_series(1, 12) m""",
]


def customer(n: int) -> str:
    return f"C-{n:04d}"


async def write(settings: Settings, service: str, statements: list[str]) -> None:
    conn = await asyncpg.connect(settings.service_dsn(service))
    try:
        for sql in statements:
            await conn.execute(sql, CUSTOMERS)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def grants_held(settings: Settings) -> bool:
    for service in ("billing", "metering"):
        conn = await asyncpg.connect(settings.service_dsn(service))
        try:
            held = await conn.fetchval(
                "SELECT count(*) FROM access_grants WHERE manager_account_id = $1", MANAGER
            )
        finally:
            await conn.close()
        if held < CUSTOMERS:
            return False
    return True


async def publish_grants(settings: Settings) -> int:
    points = 0
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="identity", exchange="events"
    ) as identity:
        for n in range(1, CUSTOMERS + 1):
            partial = n > FULL
            granted = [f"SP-{n}-{p}" for p in range(1, 5)] if partial else []
            points += len(granted) if partial else 6
            await identity.publish(
                GrantChanged.TYPE,
                GrantChanged(
                    manager_account_id=MANAGER,
                    customer_id=customer(n),
                    scope="partial" if partial else "full",
                    service_point_ids=granted,
                    revision=1,
                    changed_at=datetime.now(UTC),
                    changed_by="operator",
                ),
            )
    deadline = asyncio.get_running_loop().time() + 120
    while not await grants_held(settings):
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit("the grants did not arrive")
        await asyncio.sleep(0.2)
    return points


async def main(clients: int, seconds: float) -> None:
    env, settings = bench_environment(
        gateway_port=str(PORTS["gateway"]),
        gateway_ops_port="18481",
        billing_port=str(PORTS["billing"]),
        metering_port=str(PORTS["metering"]),
        identity_url="http://127.0.0.1:9",  # not called by these routes
    )
    procs = [spawn(f"services.{name}", env, LOGS / f"portfolio-{name}.log") for name in PORTS]
    results: dict[str, LoadResult] = {}
    try:
        for port in PORTS.values():
            await wait_ready(f"http://127.0.0.1:{port}/health/live")
        await write(settings, "billing", BILLING)
        await write(settings, "metering", METERING)
        points = await publish_grants(settings)
        signer = TokenSigner(settings)
        as_customer, _ = signer.issue(
            Principal(account_id="bench", role="customer", login="c", customer_ids=(customer(1),))
        )
        as_manager, _ = signer.issue(Principal(account_id=str(MANAGER), role="manager", login="m"))
        base = f"http://127.0.0.1:{PORTS['gateway']}/api/v1"
        calls = {
            "customer's own dashboard": (f"{base}/me/dashboard", as_customer),
            "portfolio, first page": (f"{base}/portfolio", as_manager),
            "portfolio, search": (f"{base}/portfolio?q=ulica%20777", as_manager),
            "dashboard, full grant": (f"{base}/me/dashboard?customer={customer(1)}", as_manager),
            "dashboard, partial grant": (
                f"{base}/me/dashboard?customer={customer(700)}",
                as_manager,
            ),
        }
        for name, (url, token) in calls.items():
            results[name] = await load(url, {"Authorization": f"Bearer {token}"}, clients, seconds)
    finally:
        stop(procs)
        await Platform(settings).remove_namespace()

    print(
        f"portfolio benchmark: a manager of {points:,} service points over {CUSTOMERS:,} "
        f"customers; {clients} concurrent clients, {seconds:.0f} s each"
    )
    reference = results["customer's own dashboard"].percentile(50)
    for name, result in results.items():
        ratio = result.percentile(50) / reference
        print(f"{result.line(name)}   p50 / customer's dashboard {ratio:4.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds))
