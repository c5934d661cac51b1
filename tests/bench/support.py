"""Shared pieces of the benchmarks: processes, a load generator, figures."""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from shared.auth import generate_keypair
from shared.sealing import generate_sealing_key
from shared.settings import ROOT, Settings


def bench_environment(**variables: str) -> tuple[dict[str, str], Settings]:
    """EBOK_ variables for the processes of a benchmark (a namespace and keys of its own, quiet
    logs) with `variables` on top, and the Settings they amount to."""
    keys = Path(tempfile.mkdtemp())
    generate_keypair(keys / "private.pem", keys / "public.pem")
    generate_sealing_key(keys / "sealing.key")
    env = {
        "EBOK_NAMESPACE": f"bench{secrets.token_hex(3)}",
        "EBOK_ENV": "test",
        "EBOK_LOG_LEVEL": "WARNING",
        "EBOK_JWT_PRIVATE_KEY_FILE": str(keys / "private.pem"),
        "EBOK_JWT_PUBLIC_KEY_FILE": str(keys / "public.pem"),
        "EBOK_SEALING_KEY_FILE": str(keys / "sealing.key"),
        "EBOK_DB_POOL_MAX": "20",
        **{f"EBOK_{name.upper()}": value for name, value in variables.items()},
    }
    settings = Settings(**{k.removeprefix("EBOK_").lower(): v for k, v in env.items()})
    return env, settings


def spawn(module: str, env: dict[str, str], log: Path, *args: str) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(url) as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} not ready after {timeout}s")
            await asyncio.sleep(0.2)


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]

    def line(self, name: str) -> str:
        mean = statistics.fmean(self.latencies_ms)
        return (
            f"{name:<28} {self.rps:9.0f} req/s   p50 {self.percentile(50):7.2f} ms   "
            f"p99 {self.percentile(99):7.2f} ms   mean {mean:7.2f} ms   errors {self.errors}"
        )


async def load(
    url: str, headers: dict[str, str], clients: int, seconds: float, warmup: float = 2.0
) -> LoadResult:
    """`clients` concurrent keep-alive clients calling GET url for `seconds` after a warm-up."""
    connector = aiohttp.TCPConnector(limit=clients)
    latencies: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        start = time.perf_counter()
        measure_from = start + warmup
        stop_at = measure_from + seconds

        async def client() -> None:
            nonlocal errors
            while (now := time.perf_counter()) < stop_at:
                async with session.get(url) as resp:
                    await resp.read()
                    ok = resp.status == 200
                done = time.perf_counter()
                if now >= measure_from:
                    latencies.append((done - now) * 1000)
                    errors += not ok

        await asyncio.gather(*(client() for _ in range(clients)))
    return LoadResult(len(latencies), errors, seconds, latencies)
