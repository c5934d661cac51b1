"""ERP messages per second end to end: into billing, with identity's and metering's projections.

    .venv/bin/python -m tests.bench.bench_feed [--customers 1000] [--order customer|type]
                                                [--billing-alone] [--prefill]

Billing, identity, metering and payments run as separate processes (as in production). The feed of
`--customers` customers is published to the integration exchange as the ERP would send it: per
customer its customer record, its contract (one service point and meter), twelve monthly invoices
and six payments (20 messages). `--order customer` sends them customer by customer (the ERP's
order, the one where the per-customer settlement is contended), `--order type` all customers,
then all contracts, then all invoices, then all payments. The clock runs from the first message
published until billing has handled every message and identity and metering hold every customer,
contract and invoice the feed implies; the rate of billing alone is printed too. Removes its
databases and queues afterwards. `--billing-alone` runs billing without the projections (what
billing's own work costs on this machine); `--prefill` publishes the whole feed before the services
start (no publisher competes for the CPU): the clock is then read off the inboxes, from billing's
first transaction to the last transaction of any service (billing takes messages long before it
answers a readiness probe; an earlier version started its clock at that answer and counted
thousands of messages billing had already handled).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from datetime import date
from pathlib import Path

import aio_pika
import asyncpg

from deploy import erp_export_sample as sample
from deploy.integration_client import IntegrationClient
from shared.envelope import new_envelope
from shared.events import erp
from shared.messaging.broker import envelope_message
from shared.settings import ROOT
from tests.bench.support import bench_environment, spawn, stop, wait_ready
from tests.support.platform import Platform

LOGS = ROOT / "var" / "bench"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` so far (what it cost, whatever else ran)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:  # a server process that has ended since
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_processes() -> dict[int, str]:
    """The RabbitMQ and PostgreSQL server processes on this machine, by pid."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            name = stat.read_text().split("(", 1)[1].split(")", 1)[0]
        except (FileNotFoundError, IndexError):
            continue
        if name in ("beam.smp", "postgres"):
            found[int(stat.parent.name)] = "rabbitmq" if name == "beam.smp" else "postgresql"
    return found


def server_cpu_seconds(before: dict[int, float] | None = None) -> dict[int, float]:
    """CPU time of each server process so far, or since `before` (a process that started since
    counts whole; one that ended since is left out). All of them: other work on the machine
    counts too."""
    return {pid: cpu_seconds(pid) - (before or {}).get(pid, 0.0) for pid in server_processes()}


# Payments takes billing's customers, contracts, invoices and paid amounts (billing.invoice.settled,
# whose only consumer it is: without it those events would wait unroutable in billing's outbox).
PORTS = {"billing": 18402, "identity": 18401, "metering": 18404, "payments": 18405}
PER_CUSTOMER = 20
# How often the counts are polled: each poll counts tens of thousands of rows in three
# databases, CPU taken from the services measured; the clock is at most this late.
POLL_SECONDS = 0.2
LAST_MONTH = date(2026, 10, 1)


def customer_feed(i: int) -> list[tuple[str, erp.Feed]]:
    """The 20 messages of customer `i` of the sample export (deploy/erp_export_sample): customer,
    contract, and its 12 invoices, each of the first six followed by its payment."""
    issued = sample.invoices(i, LAST_MONTH)
    payments = sample.payments(i, issued)
    feed: list[tuple[str, erp.Feed]] = [
        ("erp.customer.upserted", erp.CustomerUpserted.model_validate(sample.customer(i))),
        ("erp.contract.upserted", erp.ContractUpserted.model_validate(sample.contract(i))),
    ]
    for n, invoice in enumerate(issued):
        feed.append(("erp.invoice.issued", erp.InvoiceIssued.model_validate(invoice)))
        if n < len(payments):
            feed.append(("erp.payment.booked", erp.PaymentBooked.model_validate(payments[n])))
    return feed


def messages(customers: int, order: str, first: int = 1) -> list[tuple[str, aio_pika.Message]]:
    """The feed of customers `first`, `first` + 1, … of the sample export, as AMQP messages."""
    feeds = [customer_feed(i) for i in range(first, first + customers)]
    if order == "type":
        rank = {"erp.customer.upserted": 0, "erp.contract.upserted": 1, "erp.invoice.issued": 2}
        flat = sorted(
            (m for feed in feeds for m in feed), key=lambda m: rank.get(m[0], 3)
        )  # stable: within a type, customer by customer
    else:
        flat = [m for feed in feeds for m in feed]
    return [
        (event_type, envelope_message(new_envelope(event_type, payload, "erp")))
        for event_type, payload in flat
    ]


async def counts(conns: dict[str, asyncpg.Connection]) -> tuple[int, int, int, int]:
    billed = await conns["billing"].fetchval("SELECT count(*) FROM inbox")
    if "identity" not in conns:
        return billed, 0, 0, 0
    customers = await conns["identity"].fetchval("SELECT count(*) FROM customers")
    invoices = await conns["identity"].fetchval("SELECT count(*) FROM invoices")
    meters = await conns["metering"].fetchval("SELECT count(*) FROM meters")
    return billed, customers, invoices, meters


async def main(customers: int, order: str, billing_alone: bool, prefill: bool) -> None:
    env, settings = bench_environment(
        **{f"{name}_port": str(port) for name, port in PORTS.items()},
        **{
            k.removeprefix("EBOK_").lower(): v
            for k, v in os.environ.items()
            if k.startswith("EBOK_")
        },
    )
    platform = Platform(settings)
    services = ["billing"] if billing_alone else list(PORTS)
    feed = messages(customers, order)
    if prefill:  # queues declared, then the whole feed waits in them while nothing consumes
        procs = [spawn(f"services.{name}", env, LOGS / f"feed-{name}.log") for name in services]
        try:
            for name in services:
                await wait_ready(f"http://127.0.0.1:{PORTS[name]}/health/ready")
        finally:
            stop(procs)
        async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
            for i in range(0, len(feed), 1000):
                await asyncio.gather(*(client.publish_raw(rk, m) for rk, m in feed[i : i + 1000]))
    # Billing last: the projections are ready before the first ERP message is taken. With a
    # filled queue, billing takes messages from its start on, long before it answers a
    # readiness probe (its loop is busy): the clock is then read off the inboxes (below), and
    # billing's CPU counts from its start (its start-up included: about 0.5 s).
    order = [name for name in services if name != "billing"] + ["billing"]
    procs = []
    try:
        for name in order:
            if name == "billing":
                servers_before = server_cpu_seconds()
                cpu_before = [cpu_seconds(proc.pid) for proc in procs] + [0.0]
                started = time.perf_counter()
            procs.append(spawn(f"services.{name}", env, LOGS / f"feed-{name}.log"))
            if name != "billing" or not prefill:
                await wait_ready(f"http://127.0.0.1:{PORTS[name]}/health/ready")
        services = order
        conns = {name: await asyncpg.connect(settings.service_dsn(name)) for name in services}
        try:
            billing_done = None
            if not prefill:  # the clock runs from the first message published
                cpu_before = [cpu_seconds(proc.pid) for proc in procs]
                servers_before = server_cpu_seconds()
                started = time.perf_counter()
            measured = len(feed)
            if not prefill:
                async with IntegrationClient(settings.amqp_url, settings.namespace) as client:
                    for i in range(0, len(feed), 1000):
                        await asyncio.gather(
                            *(client.publish_raw(rk, m) for rk, m in feed[i : i + 1000])
                        )
            published = time.perf_counter() - started
            want = (
                (len(feed), 0, 0, 0)
                if billing_alone
                else (len(feed), customers, customers * 12, customers)
            )
            last_report = started
            while True:
                got = await counts(conns)
                now = time.perf_counter()
                if billing_done is None and got[0] >= want[0]:
                    billing_done = now - started
                if all(g >= w for g, w in zip(got, want, strict=True)):
                    done = now - started
                    cpu = [cpu_seconds(p.pid) - b for p, b in zip(procs, cpu_before, strict=True)]
                    kinds = server_processes()
                    servers = {"rabbitmq": 0.0, "postgresql": 0.0}
                    for pid, seconds in server_cpu_seconds(servers_before).items():
                        servers[kinds.get(pid, "postgresql")] += seconds
                    # Messages per transaction: the inbox rows one transaction wrote share xmin.
                    batches = {
                        name: await conn.fetchrow(
                            "SELECT count(*) AS messages, count(DISTINCT xmin::text) AS tx"
                            " FROM inbox"
                        )
                        for name, conn in conns.items()
                    }
                    if prefill:  # from billing's first transaction to the last one anywhere
                        first, billing_last = await conns["billing"].fetchrow(
                            "SELECT min(handled_at), max(handled_at) FROM inbox"
                        )
                        last = max(
                            [
                                await c.fetchval("SELECT max(handled_at) FROM inbox")
                                for c in conns.values()
                            ]
                        )
                        billing_done = (billing_last - first).total_seconds()
                        done = (last - first).total_seconds()
                    break
                if now - last_report > 5:
                    print(
                        f"  {now - started:6.1f} s: billing {got[0]}/{want[0]}, "
                        f"identity invoices {got[2]}/{want[2]}, meters {got[3]}/{want[3]}"
                    )
                    last_report = now
                if now - started > 1800:
                    raise SystemExit(f"not done after 30 min: {got} of {want}")
                await asyncio.sleep(POLL_SECONDS)
        finally:
            for conn in conns.values():
                await conn.close()
    finally:
        stop(procs)
        await platform.remove_namespace()
    assert billing_done is not None
    print(
        f"ERP feed benchmark: {customers} customers x {PER_CUSTOMER} messages = {len(feed)}, "
        f"order by {order}, {'billing alone' if billing_alone else 'with the projections'}, "
        f"prefetch {settings.amqp_prefetch}, "
        f"{settings.consumer_transactions} transactions x batches of "
        f"{settings.consumer_batch_size}"
    )
    if not prefill:
        print(f"published in {published:6.2f} s ({len(feed) / published:8.0f} msg/s)")
    print(f"billing      {measured / billing_done:8.0f} msg/s ({billing_done:6.2f} s)")
    print(f"end to end   {measured / done:8.0f} msg/s ({done:6.2f} s, projections included)")
    for name, seconds in zip(services, cpu, strict=True):
        print(
            f"CPU {name:<9} {seconds:6.2f} s = {seconds / measured * 1e6:5.0f} µs per ERP message"
            f" (alone on a core: {measured / max(seconds, 1 / TICKS):6.0f} msg/s); "
            f"{batches[name]['messages']} messages in {batches[name]['tx']} transactions"
        )
    for name, seconds in servers.items():
        print(
            f"CPU {name:<9} {seconds:6.2f} s = {seconds / measured * 1e6:5.0f} µs per ERP message"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--order", choices=("customer", "type"), default="customer")
    parser.add_argument("--billing-alone", action="store_true")
    parser.add_argument("--prefill", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.order, args.billing_alone, args.prefill))
