"""Correspondence through the gateway: cases written, listed and read, files uploaded.

    .venv/bin/python -m tests.bench.bench_cases [--clients 20] [--seconds 10] [--customers 50]

Starts correspondence and the gateway as processes in a namespace of their own (the other
upstreams are not called), signs access tokens for `--customers` customers, then for `--seconds`
each, with `--clients` concurrent keep-alive clients:
1. POST /api/v1/cases (questions, each with a new Idempotency-Key): numbered, stored, told to the
   back office (the outbox relay publishes them meanwhile);
2. GET /api/v1/cases (the first page of one customer's cases, now hundreds);
3. GET /api/v1/cases/{number};
4. POST /api/v1/attachments of a 1 MB PNG (streamed through the gateway into 256 KiB chunks).
Prints the figures; removes its databases and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import time
from urllib.parse import quote

import aiohttp

from shared.auth import Principal, TokenSigner
from shared.settings import ROOT, Settings
from tests.bench.support import LoadResult, bench_environment, load, spawn, stop, wait_ready
from tests.support.platform import Platform

PORTS = {"correspondence": 18106, "gateway": 18080}
LOGS = ROOT / "var" / "bench"
PHOTO = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(1024 * 1024)


def tokens(settings: Settings, customers: int) -> list[str]:
    signer = TokenSigner(settings)
    return [
        signer.issue(
            Principal(
                account_id=f"00000000-0000-4000-8000-{n:012d}",
                role="customer",
                login=f"bench{n}",
                customer_ids=(f"C-BENCH-{n}",),
            )
        )[0]
        for n in range(customers)
    ]


async def drive(
    clients: int, seconds: float, call: object, warmup: float = 1.0
) -> tuple[LoadResult, list[object]]:
    """`clients` loops of `call(session, client_no)` (→ (ok, result)) for `seconds`."""
    latencies: list[float] = []
    results: list[object] = []
    errors = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:
        measure_from = time.perf_counter() + warmup
        stop_at = measure_from + seconds

        async def client(n: int) -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop_at:
                ok, result = await call(session, n)  # type: ignore[operator]
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append((done - now) * 1000)
                    errors += not ok
                    results.append(result)

        await asyncio.gather(*(client(n) for n in range(clients)))
    return LoadResult(len(latencies), errors, seconds, latencies), results


async def main(clients: int, seconds: float, customers: int) -> None:
    dead = "http://127.0.0.1:9"
    env, settings = bench_environment(
        gateway_port=str(PORTS["gateway"]),
        gateway_ops_port="18180",
        correspondence_port=str(PORTS["correspondence"]),
        billing_url=dead,
        identity_url=dead,
        metering_url=dead,
        payments_url=dead,
    )
    gateway = f"http://127.0.0.1:{PORTS['gateway']}"
    signed = tokens(settings, customers)
    procs = [spawn(f"services.{name}", env, LOGS / f"{name}.log") for name in PORTS]
    try:
        for port in PORTS.values():
            await wait_ready(f"http://127.0.0.1:{port}/health/live")

        async def create(session: aiohttp.ClientSession, n: int) -> tuple[bool, object]:
            headers = {
                "Authorization": f"Bearer {signed[n % customers]}",
                "Idempotency-Key": secrets.token_hex(12),
            }
            body = {"kind": "question", "subject": "Bench", "description": "A question"}
            async with session.post(f"{gateway}/api/v1/cases", json=body, headers=headers) as r:
                answer = await r.json(content_type=None)
                return r.status == 201, answer.get("number")

        created, numbers = await drive(clients, seconds, create)
        print(created.line("POST /cases"))
        per_customer = created.requests / customers
        first = {"Authorization": f"Bearer {signed[0]}"}
        listed = await load(f"{gateway}/api/v1/cases?limit=20", first, clients, seconds)
        print(listed.line(f"GET /cases ({per_customer:.0f} each)"))
        async with (
            aiohttp.ClientSession(headers=first) as session,
            session.get(f"{gateway}/api/v1/cases?limit=1") as r,
        ):
            number = (await r.json())["items"][0]["number"]
        one = await load(
            f"{gateway}/api/v1/cases/{quote(str(number), safe='')}", first, clients, seconds
        )
        print(one.line("GET /cases/{number}"))

        async def upload(session: aiohttp.ClientSession, n: int) -> tuple[bool, object]:
            headers = {"Authorization": f"Bearer {signed[n % customers]}"}
            async with session.post(
                f"{gateway}/api/v1/attachments?filename=photo.png", data=PHOTO, headers=headers
            ) as r:
                await r.read()
                return r.status == 201, None

        uploads, _ = await drive(max(1, clients // 4), seconds, upload)
        print(uploads.line(f"POST /attachments {len(PHOTO) // 1024} KiB"))
        print(f"{'':<28} {uploads.rps * len(PHOTO) / 1e6:9.1f} MB/s uploaded")
        print(f"cases made in all: {sum(1 for n in numbers if n)}; errors: {created.errors}")
    finally:
        stop(procs)
        await Platform(settings).remove_namespace()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--customers", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.clients, args.seconds, args.customers))
