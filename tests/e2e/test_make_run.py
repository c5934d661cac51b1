"""`make run`'s runner starts everything with demo data, says where to look, and stops cleanly."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import aiohttp

from shared.settings import ROOT
from tests.conftest import free_port
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings, wait_until

QUEUES = (
    "billing.erp",
    "identity.billing-events",
    "identity.email-delivery",
    "metering.contracts",
    "metering.readings",
    "notifications.email-requests",
)


async def test_runner_starts_the_platform_with_demo_data(infra: Infra, keys: Path) -> None:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    ports = {
        name: free_port()
        for name in (
            "GATEWAY",
            "IDENTITY",
            "BILLING",
            "NOTIFICATIONS",
            "METERING",
            "SMTP",
            "MAILBOX_HTTP",
        )
    }
    env = {
        **os.environ,
        "EBOK_NAMESPACE": settings.namespace,
        "EBOK_DATABASE_URL": infra.database_url,
        "EBOK_AMQP_URL": infra.amqp_url,
        "EBOK_JWT_PRIVATE_KEY_FILE": str(keys / "private.pem"),
        "EBOK_JWT_PUBLIC_KEY_FILE": str(keys / "public.pem"),
        "EBOK_QUEUE_TYPE": "classic",
        **{f"EBOK_{name}_PORT": str(port) for name, port in ports.items()},
    }
    env.pop("EBOK_SMTP_HOST", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deploy.run_local",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []
    try:
        async with asyncio.timeout(120):
            while not any("e-BOK is running" in line for line in output):
                line = (await proc.stdout.readline()).decode()  # type: ignore[union-attr]
                assert line, "runner ended early:\n" + "".join(output)
                output.append(line)
            while not any("Walk-through" in line for line in output):
                output.append((await proc.stdout.readline()).decode())  # type: ignore[union-attr]
        text = "".join(output)
        gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
        assert f"{gateway}/api/v1" in text
        assert f"http://127.0.0.1:{ports['MAILBOX_HTTP']}/" in text
        invoice = re.search(r"invoice (FV/\S+)\s+gross (\d+\.\d\d) PLN", text)
        assert invoice, text
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{gateway}/health/ready") as resp:
                assert resp.status == 200
            async with session.post(f"{gateway}/api/v1/captcha") as resp:
                captcha = await resp.json()
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
            mailbox = f"http://127.0.0.1:{ports['MAILBOX_HTTP']}/messages.json"

            async def registration_mail() -> bool:
                async with session.get(mailbox) as resp:
                    return any(m["template"] == "registration" for m in await resp.json())

            await wait_until(registration_mail, what="the registration email in the mailbox")
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
            try:
                async with asyncio.timeout(40):
                    rest = await proc.stdout.read()  # type: ignore[union-attr]
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                raise
        platform = Platform(settings)
        platform.queue_names = {platform.names.queue(*q.split(".")) for q in QUEUES}
        await platform.remove_namespace()
    assert proc.returncode == 0, rest.decode()
    assert "[e-BOK] stopping" in rest.decode()
