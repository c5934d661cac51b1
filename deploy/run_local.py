"""Start the whole platform on this machine: databases, every service, a development mailbox,
a development Przelewy24 (deploy/p24_dev_provider.py), and demo data; print where to look; stop
everything on Ctrl-C.

    python -m deploy.run_local          (what `make run` does)

Honours the EBOK_ settings. When EBOK_SMTP_HOST is set, mail goes there and no mailbox starts.
When EBOK_P24_BASE_URL is set, or EBOK_ENV=production, payments go there and no development
provider starts (it is never started in production).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import aio_pika
import aiohttp
import asyncpg

from deploy import demo_data
from deploy.keys import ensure_keys
from shared.services import SERVICES, Service
from shared.settings import ROOT, Settings

MAILBOX_HTTP_PORT = int(os.environ.get("EBOK_MAILBOX_HTTP_PORT", "8090"))
P24_DEV_PORT = int(os.environ.get("EBOK_P24_DEV_PORT", "8091"))
DEV_MERCHANT_ID = "100001"
DEMO_CAPTCHA_ANSWER = "DEMO1"
LOG_DIR = ROOT / "var" / "log"


def say(text: str) -> None:
    print(f"[e-BOK] {text}", flush=True)


async def _reachable(settings: Settings) -> tuple[bool, bool]:
    db_ok = mq_ok = False
    try:
        conn = await asyncpg.connect(settings.database_dsn("postgres"), timeout=3)
        await conn.close()
        db_ok = True
    except (OSError, asyncpg.PostgresError) as exc:
        say(f"PostgreSQL not reachable: {exc!r}")
    try:
        connection = await aio_pika.connect(settings.amqp_url, timeout=3)
        await connection.close()
        mq_ok = True
    except Exception as exc:  # any failure means "not reachable" here
        say(f"RabbitMQ not reachable: {exc!r}")
    return db_ok, mq_ok


def _start_local_servers(db_ok: bool, mq_ok: bool) -> None:
    """On a development machine with the servers installed, start them as CI does."""
    if not db_ok and shutil.which("pg_ctlcluster") and Path("/etc/postgresql").exists():
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        say(f"starting PostgreSQL {version}")
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False
        )
    if not mq_ok and shutil.which("rabbitmq-server"):
        say("starting RabbitMQ")
        subprocess.run(["rabbitmq-server", "-detached"], check=False)
        subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "120"], check=False)


async def _wait_ready(url: str, name: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{name} exited with {proc.returncode}; see {LOG_DIR / name}.log")
            try:
                async with session.get(
                    f"{url}/health/ready", timeout=aiohttp.ClientTimeout(2)
                ) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit(f"{name} not ready after {timeout}s; see {LOG_DIR / name}.log")
            await asyncio.sleep(0.3)


async def _wait_for_projection(
    settings: Settings, invoice_number: str, timeout: float = 60
) -> None:
    """Registration needs identity to know the invoice: wait until the feed has arrived there."""
    conn = await asyncpg.connect(settings.service_dsn("identity"))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not await conn.fetchval(
            "SELECT 1 FROM invoices WHERE invoice_number = $1", invoice_number
        ):
            if asyncio.get_running_loop().time() > deadline:
                raise SystemExit("the demo data did not reach identity; see var/log/*.log")
            await asyncio.sleep(0.3)
    finally:
        await conn.close()


def _spawn(args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = (LOG_DIR / f"{name}.log").open("ab")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


async def main() -> int:
    env = dict(os.environ)
    own_mailbox = "EBOK_SMTP_HOST" not in env
    # A local demo: development (and the CAPTCHA test answer) unless EBOK_ENV says otherwise.
    env.setdefault("EBOK_ENV", "development")
    if env["EBOK_ENV"] != "production":
        env.setdefault("EBOK_CAPTCHA_TEST_ANSWER", DEMO_CAPTCHA_ANSWER)
    # The gateway's credential towards the services: a new one each run unless given.
    if not env.get("EBOK_INTERNAL_TOKEN"):
        env["EBOK_INTERNAL_TOKEN"] = secrets.token_urlsafe(32)
    # The development Przelewy24, with credentials of this run (they reach it by environment,
    # not on its command line).
    own_provider = "EBOK_P24_BASE_URL" not in env and env["EBOK_ENV"] != "production"
    if own_provider:
        env["EBOK_P24_BASE_URL"] = f"http://127.0.0.1:{P24_DEV_PORT}"
        env.setdefault("EBOK_P24_MERCHANT_ID", DEV_MERCHANT_ID)
        env.setdefault("EBOK_P24_POS_ID", env["EBOK_P24_MERCHANT_ID"])
        env.setdefault("EBOK_P24_CRC", secrets.token_hex(8))
        env.setdefault("EBOK_P24_API_KEY", secrets.token_hex(16))
    os.environ.update(env)
    settings = Settings()

    if ensure_keys(settings):
        say(f"created a development JWT key pair in {settings.jwt_private_key_file.parent}")
    db_ok, mq_ok = await _reachable(settings)
    if not (db_ok and mq_ok):
        _start_local_servers(db_ok, mq_ok)
        db_ok, mq_ok = await _reachable(settings)
    if not db_ok:
        raise SystemExit(
            f"PostgreSQL is not reachable at {settings.database_url} (EBOK_DATABASE_URL)"
        )
    if not mq_ok:
        raise SystemExit(f"RabbitMQ is not reachable at {settings.amqp_url} (EBOK_AMQP_URL)")

    procs: dict[str, subprocess.Popen] = {}
    try:
        if own_mailbox:
            procs["mailbox"] = _spawn(
                [
                    sys.executable,
                    "-m",
                    "deploy.mailbox",
                    "--host",
                    "127.0.0.1",
                    "--smtp-port",
                    str(settings.smtp_port),
                    "--http-port",
                    str(MAILBOX_HTTP_PORT),
                    "--directory",
                    str(ROOT / "var" / "mailbox"),
                ],
                "mailbox",
                env,
            )
        if own_provider:
            procs["p24-dev"] = _spawn(
                [
                    sys.executable,
                    "-m",
                    "deploy.p24_dev_provider",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(P24_DEV_PORT),
                ],
                "p24-dev",
                env,
            )
        for service in SERVICES:
            procs[service.name] = _spawn([sys.executable, "-m", service.module], service.name, env)
        for service in SERVICES:
            await _wait_ready(_ops_url(settings, service), service.name, procs[service.name])
            say(f"{service.name} ready")

        invoices = await demo_data.load(settings)
        await _wait_for_projection(settings, invoices[-1].invoice_number)
        _print_welcome(settings, invoices, own_mailbox, own_provider)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            for name, proc in procs.items():
                if proc.poll() is not None:
                    say(
                        f"{name} stopped unexpectedly (exit {proc.returncode}); "
                        f"see {LOG_DIR / name}.log"
                    )
                    stop.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    finally:
        say("stopping")
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()  # SIGTERM: every child shuts down gracefully on it
        for proc in procs.values():
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0


def _ops_url(settings: Settings, service: Service) -> str:
    """Where `service` answers /health/ready and /metrics: the gateway on its operations port
    (on the internal bind host), every other service on its only port."""
    return settings.gateway_ops_url() if service.public else settings.service_url(service.name)


def _print_welcome(
    settings: Settings, invoices: list[demo_data.DemoInvoice], mailbox: bool, provider: bool
) -> None:
    gateway = settings.service_url("gateway")
    ops = _ops_url(settings, next(s for s in SERVICES if s.public))
    latest: dict[str, demo_data.DemoInvoice] = {}
    for invoice in invoices:
        latest[invoice.customer_name] = invoice
    built = (settings.web_dist / "index.html").is_file()
    lines = [
        "",
        "e-BOK is running. Ctrl-C stops it.",
        # First: the address a person opens (the gateway serves the web app at /).
        f"  Web app:                {gateway}/" + ("" if built else "   (not built: make web)"),
        f"  Gateway (public API):   {gateway}/api/v1   e.g. curl {gateway}/api/v1/terms",
        f"  Health, metrics:        {ops}/health/ready, {ops}/metrics"
        " (the gateway's operations port; each service's on its own port)",
    ]
    for service in SERVICES:
        if not service.public:
            lines.append(f"  {service.name + ':':<23} {settings.service_url(service.name)}")
    lines.append(
        f"  Emails:                 http://127.0.0.1:{MAILBOX_HTTP_PORT}/ (development mailbox)"
        if mailbox
        else f"  Emails:                 sent to {settings.smtp_host}:{settings.smtp_port}"
    )
    lines.append(
        f"  Payments:               {settings.p24_base_url} (development Przelewy24)"
        if provider
        else f"  Payments:               Przelewy24 at {settings.p24_base_url}"
    )
    lines.append(f"  Logs:                   {LOG_DIR}/<service>.log")
    if settings.captcha_test_answer is not None:
        lines.append(
            f"  CAPTCHA test answer:    {settings.captcha_test_answer.get_secret_value()}"
            " (accepted by every CAPTCHA; development only)"
        )
    lines.append("  Demo customers — register with an invoice number and its gross amount:")
    for invoice in latest.values():
        lines.append(
            f"    {invoice.customer_name:<20} invoice {invoice.invoice_number}"
            f"  gross {invoice.gross} PLN"
        )
    lines.append("  Walk-through of a registration with curl: see README.md, 'Try it'.")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main()))
    except KeyboardInterrupt:
        sys.exit(0)
