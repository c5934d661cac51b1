"""Services as processes of their own (`python -m services.<name>`), so that a test can kill one
(SIGKILL: no cleanup, no goodbye) and start it again, as an orchestrator would.

Each process is told its settings as EBOK_* environment variables, from a Settings object (the
test platform's, with the instance's own port), and nothing else of the test's environment's
EBOK_* variables; its output goes to a log file the assertion messages quote the end of."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from shared.settings import ROOT, Settings
from tests.support.platform import wait_until
from tests.support.stack import free_port

LOG_TAIL_CHARACTERS = 6000


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps([v if isinstance(v, int | float) else str(v) for v in value])
    return str(value)


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting that has a value, as the EBOK_* variable it is read from."""
    return {
        f"EBOK_{name.upper()}": _env_value(value)
        for name in type(settings).model_fields
        if (value := getattr(settings, name)) is not None
    }


@dataclass
class ServiceProcess:
    """One instance of a service as a process: `settings` are its own (its port among them)."""

    service: str
    settings: Settings
    log: Path
    label: str = ""
    process: subprocess.Popen | None = None
    starts: int = field(default=0)

    def __post_init__(self) -> None:
        self.label = self.label or self.service

    @classmethod
    def instance(
        cls, service: str, settings: Settings, log_dir: Path, label: str, **overrides: object
    ) -> ServiceProcess:
        """An instance on free ports of its own (the gateway: its operations port too), with
        `overrides` to the platform's settings."""
        ports: dict[str, object] = {f"{service}_port": free_port()}
        if service == "gateway":
            ports["gateway_ops_port"] = free_port()
        own = settings.model_copy(update={**ports, **overrides})
        return cls(service, own, log_dir / f"{label}.log", label)

    @property
    def port(self) -> int:
        return self.settings.service_port(self.service)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ops_url(self) -> str:
        """Where it answers /health/ready and /metrics."""
        if self.service == "gateway":
            return self.settings.gateway_ops_url()
        return self.url

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        assert not self.running, f"{self.label} is running already"
        env = {k: v for k, v in os.environ.items() if not k.startswith("EBOK_")}
        env.update(settings_env(self.settings))
        with self.log.open("ab") as out:  # the child keeps its own copy of the handle
            out.write(f"--- start {self.starts + 1} of {self.label}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.service}"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.starts += 1

    async def ready(self, timeout: float = 60.0) -> None:
        async def answers() -> bool:
            assert self.running, f"{self.label} exited\n{self.tail()}"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
                    async with s.get(self.ops_url + "/health/ready") as resp:
                        return resp.status == 200
            except (TimeoutError, aiohttp.ClientError):
                return False

        await wait_until(answers, what=f"{self.label} to be ready", timeout=timeout, interval=0.1)

    def kill(self) -> None:
        """SIGKILL: the process ends at once, whatever it was doing."""
        assert self.process is not None and self.running, f"{self.label} is not running"
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def restart(self, timeout: float = 60.0) -> None:
        """Start it again after a kill (or a stop) and wait until it is ready."""
        if self.running:
            self.kill()
        self.start()
        await self.ready(timeout)

    async def stop(self) -> None:
        """SIGTERM (a graceful shutdown), SIGKILL if it does not end in time. Waited for off
        the event loop: the test's own servers (the SMTP mailbox) go on answering the process
        while it finishes its work."""
        if self.process is not None and self.running:
            self.process.terminate()
            try:
                await asyncio.to_thread(self.process.wait, 20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                await asyncio.to_thread(self.process.wait)

    def tail(self, characters: int = LOG_TAIL_CHARACTERS) -> str:
        """The end of its log, for assertion messages."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"{self.label}'s log:\n{text[-characters:]}"

    async def metrics(self) -> str:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            async with session.get(self.ops_url + "/metrics") as resp:
                assert resp.status == 200, f"{self.label}: /metrics answered {resp.status}"
                return await resp.text()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` (e.g. ebok_messages_total) whose labels include
    `labels`, in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample, _, label_text = head.partition("{")
        if sample != name:
            continue
        found = dict(
            part.split("=", 1) for part in label_text.rstrip("}").split(",") if "=" in part
        )
        if all(found.get(k, "").strip('"') == v for k, v in labels.items()):
            total += float(value)
    return total
