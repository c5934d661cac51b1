"""Reading ingestion with one metering instance against two (issue 14): competing consumers on
`<ns>.metering.readings`, each instance a process of its own.

    .venv/bin/python -m tests.bench.bench_readings_scale [--instances 1 2] [--batches 200]
                                [--batch-size 5000] [--singles 60000] [--batch-prefetch 4]

For each instance count and each kind of message the queue is filled while metering is stopped,
then that many metering processes start at once on one database and namespace; the time runs
from the first stored reading to the last. CPU seconds are read from /proc over that window for
each metering process, for the PostgreSQL backends serving the metering database, and for the
broker (beam.smp). Prints the figures; removes its databases and queues afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared.settings import Settings
from tests.bench.bench_readings import (
    LOGS,
    PORT,
    batch_messages,
    declare_and_stop,
    publish,
    single_messages,
)
from tests.bench.support import bench_environment, spawn, stop
from tests.support.platform import Platform

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@dataclass
class Run:
    label: str
    instances: int
    readings: int
    messages: int
    seconds: float
    metering_cpu: list[float]
    postgres_cpu: float
    broker_cpu: float
    # The machine's 1-minute load average at the end: other work skews the figures.
    load: float = 0.0

    def line(self) -> str:
        per_process = ", ".join(f"{c / self.seconds:.2f}" for c in self.metering_cpu)
        return (
            f"{self.label:<40} x{self.instances}  {self.readings / self.seconds:9.0f} readings/s "
            f"({self.messages / self.seconds:7.0f} msg/s, {self.seconds:6.2f} s)  "
            f"CPU cores: metering [{per_process}]  postgres {self.postgres_cpu / self.seconds:.2f}"
            f"  broker {self.broker_cpu / self.seconds:.2f}  (load {self.load:.1f})"
        )


async def drain(
    settings: Settings, env: dict[str, str], instances: int, expected: int
) -> tuple[float, list[float], float, float]:
    """Start `instances` metering processes on the full queue; the seconds from the first
    stored reading to the last, and the CPU seconds of each process, of metering's PostgreSQL
    backends and of the broker over that time."""
    procs: list[subprocess.Popen] = [
        spawn(
            "services.metering",
            {**env, "EBOK_METERING_PORT": str(PORT + n)},
            LOGS / f"metering-scale-{n}.log",
        )
        for n in range(instances)
    ]
    database = settings.database_name("metering")
    try:
        conn = await asyncpg.connect(settings.service_dsn("metering"))
        try:
            before = await conn.fetchval("SELECT count(*) FROM readings")
            started: dict[int, float] = {}
            first = 0.0
            while True:
                count = await conn.fetchval("SELECT count(*) FROM readings") - before
                now = time.perf_counter()
                if count and not first:
                    first = now
                    backends = [
                        r["pid"]
                        for r in await conn.fetch(
                            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> "
                            "pg_backend_pid()",
                            database,
                        )
                    ]
                    brokers = pids_named("beam.smp")
                    started = {p.pid: cpu_seconds(p.pid) for p in procs}
                    started |= {pid: cpu_seconds(pid) for pid in backends + brokers}
                if count >= expected:
                    seconds = now - first
                    metering = [cpu_seconds(p.pid) - started[p.pid] for p in procs]
                    postgres = sum(cpu_seconds(pid) - started[pid] for pid in backends)
                    broker = sum(cpu_seconds(pid) - started[pid] for pid in brokers)
                    return seconds, metering, postgres, broker
                await asyncio.sleep(0.02)
        finally:
            await conn.close()
    finally:
        stop(procs)


async def main(
    counts: list[int], batches: int, size: int, singles: int, batch_prefetch: int
) -> None:
    env, settings = bench_environment(metering_port=str(PORT))
    platform = Platform(settings)
    runs: list[Run] = []
    try:
        await declare_and_stop(env)
        for label, routing_key, messages, readings, prefetch in (
            (
                f"{batches} batches x {size}",
                "reading.batch.recorded",
                batch_messages(batches, size),
                batches * size,
                batch_prefetch,
            ),
            (
                f"{singles} single messages",
                "reading.recorded",
                single_messages(singles),
                singles,
                settings.amqp_prefetch,
            ),
        ):
            for instances in counts:
                # The same readings each time: a fresh table, so every one is new again.
                conn = await asyncpg.connect(settings.service_dsn("metering"))
                try:
                    await conn.execute("TRUNCATE readings, inbox")
                    await conn.execute("VACUUM ANALYZE readings")
                finally:
                    await conn.close()
                await publish(settings, routing_key, messages)
                run_env = {**env, "EBOK_AMQP_PREFETCH": str(prefetch)}
                seconds, metering, postgres, broker = await drain(
                    settings, run_env, instances, readings
                )
                runs.append(
                    Run(
                        f"{label} (prefetch {prefetch})",
                        instances,
                        readings,
                        len(messages),
                        seconds,
                        metering,
                        postgres,
                        broker,
                        os.getloadavg()[0],
                    )
                )
                print(runs[-1].line(), flush=True)
    finally:
        await platform.remove_namespace()

    print(
        f"\nreading ingestion, metering instances {counts}: prefetch {settings.amqp_prefetch}, "
        f"{settings.queue_type} queues, {os.cpu_count()}-core machine"
    )
    for run in runs:
        print(run.line())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--singles", type=int, default=60000)
    # A backlog of big batches goes to the first consumer up to its prefetch: with the default
    # (500) one instance takes a 200-batch backlog whole and the other has nothing to do.
    parser.add_argument("--batch-prefetch", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(
        main(args.instances, args.batches, args.batch_size, args.singles, args.batch_prefetch)
    )
