"""`make run`'s runner starts everything with demo data, says where to look, and stops cleanly;
with EBOK_SMTP_HOST set it sends mail there instead of starting its own mailbox."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from deploy.mailbox import MailStore, start_smtp_server
from shared.services import SERVICES as REGISTERED_SERVICES
from shared.settings import ROOT
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until
from tests.support.stack import free_port

# EBOK_<NAME>_PORT for each: the services, the gateway's operations port, the mailbox page and
# the development Przelewy24.
SERVICES = (
    *(s.name.upper() for s in REGISTERED_SERVICES),
    "GATEWAY_OPS",
    "MAILBOX_HTTP",
    "P24_DEV",
)


async def run_platform(
    infra: Infra,
    keys: Path,
    extra_env: dict[str, str],
    check: Callable[[str, dict[str, int], aiohttp.ClientSession], Awaitable[None]],
) -> str:
    """Start the runner, wait for its welcome, run `check`, stop it; return all it printed."""
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    ports = {name: free_port() for name in SERVICES}
    env = {
        **os.environ,
        "EBOK_NAMESPACE": settings.namespace,
        "EBOK_DATABASE_URL": infra.database_url,
        "EBOK_AMQP_URL": infra.amqp_url,
        "EBOK_JWT_PRIVATE_KEY_FILE": str(keys / "private.pem"),
        "EBOK_JWT_PUBLIC_KEY_FILE": str(keys / "public.pem"),
        "EBOK_SEALING_KEY_FILE": str(keys / "sealing.key"),
        "EBOK_QUEUE_TYPE": "classic",
        "EBOK_SMTP_PORT": str(free_port()),
        **{f"EBOK_{name}_PORT": str(port) for name, port in ports.items()},
    }
    env.pop("EBOK_SMTP_HOST", None)
    env.update(extra_env)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.run_local",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []
    rest = b""
    try:
        async with asyncio.timeout(120):
            while not any("Walk-through" in line for line in output):
                line = (await proc.stdout.readline()).decode()
                assert line, "runner ended early:\n" + "".join(output)
                output.append(line)
        async with aiohttp.ClientSession() as session:
            await check("".join(output), ports, session)
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(40):
                    rest = await proc.stdout.read()
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                raise
        await Platform(settings).remove_namespace()
    assert proc.returncode == 0, rest.decode()
    assert "[e-BOK] stopping" in rest.decode()
    return "".join(output)


async def register_demo_customer(text: str, gateway: str, session: aiohttp.ClientSession) -> None:
    invoice = re.search(r"invoice (FV/\S+)\s+gross (\d+\.\d\d) PLN", text)
    assert invoice, text
    # As README.md's "Try it" does: the proof of work solved by deploy.captcha_proof.
    solver = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.captcha_proof",
        f"{gateway}/api/v1",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    proof, _ = await solver.communicate()
    assert solver.returncode == 0
    async with session.post(f"{gateway}/api/v1/captcha", json={"proof": json.loads(proof)}) as resp:
        captcha = await resp.json()
        assert resp.status == 201, captcha
    body = {
        "invoice_number": invoice.group(1),
        "invoice_amount": invoice.group(2),
        "email": "demo@example.com",
        "accept_terms": True,
        "terms_version": "2026-01",
        "captcha_id": captcha["captcha_id"],
        "captcha_answer": "DEMO1",
    }
    async with session.post(f"{gateway}/api/v1/registrations", json=body) as resp:
        assert resp.status == 202, await resp.text()


async def test_runner_starts_the_platform_with_demo_data(infra: Infra, keys: Path) -> None:
    async def check(text: str, ports: dict[str, int], session: aiohttp.ClientSession) -> None:
        gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
        ops = f"http://127.0.0.1:{ports['GATEWAY_OPS']}"
        assert f"{gateway}/api/v1" in text
        assert f"http://127.0.0.1:{ports['MAILBOX_HTTP']}/" in text
        # Readiness and metrics where it says: the operations port, not the public one.
        assert f"{ops}/health/ready" in text and f"{ops}/metrics" in text
        for path in ("/health/ready", "/metrics"):
            async with session.get(ops + path) as resp:
                assert resp.status == 200, path
            async with session.get(gateway + path) as resp:
                assert resp.status == 404, path
        # The development Przelewy24 runs where the welcome says (an unknown transaction: 404).
        provider = f"http://127.0.0.1:{ports['P24_DEV']}"
        assert f"{provider} (development Przelewy24)" in text
        async with session.get(provider + "/trnRequest/UNKNOWN") as resp:
            assert resp.status == 404
        await register_demo_customer(text, gateway, session)
        mailbox = f"http://127.0.0.1:{ports['MAILBOX_HTTP']}/messages.json"

        async def registration_mail() -> bool:
            async with session.get(mailbox) as resp:
                return any(m["template"] == "registration" for m in await resp.json())

        await wait_until(registration_mail, what="the registration email in the mailbox")

    await run_platform(infra, keys, {}, check)


async def test_runner_sends_mail_to_the_configured_smtp_server(infra: Infra, keys: Path) -> None:
    store = MailStore()
    smtp = await start_smtp_server(store, "127.0.0.1", 0)
    smtp_port = smtp.sockets[0].getsockname()[1]

    async def check(text: str, ports: dict[str, int], session: aiohttp.ClientSession) -> None:
        assert f"sent to 127.0.0.1:{smtp_port}" in text
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"http://127.0.0.1:{ports['MAILBOX_HTTP']}/"):
                pass
        await register_demo_customer(text, f"http://127.0.0.1:{ports['GATEWAY']}", session)
        await store.wait_for(lambda mails: any(m.template == "registration" for m in mails))

    try:
        await run_platform(
            infra, keys, {"EBOK_SMTP_HOST": "127.0.0.1", "EBOK_SMTP_PORT": str(smtp_port)}, check
        )
    finally:
        smtp.close()
