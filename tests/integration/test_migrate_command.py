"""`python -m deploy.migrate <service>` (the init container of each pod on Kubernetes) migrates
the service's database as the service would at start, also as a provisioning role that is no
superuser (CREATEDB CREATEROLE: what deploy/k8s gives CloudNativePG's managed role)."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp import web
from pydantic import SecretStr

from deploy.migrate import main, run
from services.metering.app import build_app
from shared.db import app_dsn, drop_database
from shared.db import migration_components as components
from shared.runtime import POOL, NotMigrated
from shared.settings import ROOT
from tests.support.infra import Infra
from tests.support.platform import Platform, make_settings


def _migration_files(service: str) -> dict[str, list[str]]:
    return {
        component: sorted(p.name for p in directory.glob("[0-9][0-9][0-9][0-9]_*.sql"))
        for component, directory in components(service)
    }


async def test_the_command_applies_every_migration_once(
    infra: Infra, keys: Path, tmp_path: Path
) -> None:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("EBOK_")},
        "EBOK_ENV": "test",
        "EBOK_NAMESPACE": settings.namespace,
        "EBOK_DATABASE_URL": infra.database_url,
        "EBOK_LOG_FORMAT": "json",
    }
    try:
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "deploy.migrate", "metering"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert '"migrations applied"' in done.stdout
        conn = await asyncpg.connect(settings.service_dsn("metering"))
        try:
            recorded = await conn.fetch(
                "SELECT component, version FROM schema_migrations ORDER BY component, version"
            )
        finally:
            await conn.close()
        wanted = _migration_files("metering")
        assert {c for c, _ in recorded} == {c for c, files in wanted.items() if files}
        assert len(recorded) == sum(len(files) for files in wanted.values())
        # A second run (the next pod's init container, or the service's own start) finds
        # nothing left to do.
        assert await run(settings, "metering") == {"shared": [], "metering": []}
    finally:
        await drop_database(settings, settings.database_name("metering"))


async def test_a_provisioning_role_without_superuser_is_enough(infra: Infra, keys: Path) -> None:
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    role, password = f"{settings.namespace}_provisioner", secrets.token_hex(16)
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f"CREATE ROLE \"{role}\" LOGIN CREATEDB CREATEROLE PASSWORD '{password}'")
    parts = urlsplit(infra.database_url)
    host = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    as_provisioner = settings.model_copy(
        update={
            "database_url": urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}")),
            "database_app_password": SecretStr(secrets.token_hex(16)),
        }
    )
    try:
        applied = await run(as_provisioner, "payments")
        assert applied["payments"] == _migration_files("payments")["payments"]
        # The runtime role logs in with its password and may read the tables it was granted.
        conn = await asyncpg.connect(app_dsn(as_provisioner, "payments"))
        try:
            tables = await conn.fetchval(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
                " AND has_table_privilege(c.oid, 'SELECT, INSERT')"
            )
            assert tables > 1
        finally:
            await conn.close()
    finally:
        await drop_database(settings, settings.database_name("payments"))
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


def test_only_a_service_with_a_database_is_accepted() -> None:
    assert main(["gateway"]) == 2
    assert main([]) == 2
    assert main(["no-such-service"]) == 2


async def test_a_service_that_does_not_migrate_needs_no_provisioning_credentials(
    infra: Infra, keys: Path
) -> None:
    """EBOK_MIGRATE_ON_START=false (the pods on Kubernetes, whose init container migrated): the
    service refuses a database that lacks migrations, naming the command, and otherwise runs as
    its runtime role with EBOK_DATABASE_URL holding no usable provisioning credentials."""
    settings = make_settings(
        infra.database_url, infra.amqp_url, keys, database_app_password=secrets.token_hex(16)
    )
    parts = urlsplit(infra.database_url)
    host = f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
    without_provisioning = settings.model_copy(
        update={
            "database_url": urlunsplit(parts._replace(netloc=f"nobody:wrong@{host}")),
            "migrate_on_start": False,
        }
    )

    async def start() -> web.AppRunner:
        runner = web.AppRunner(build_app(without_provisioning))
        await runner.setup()
        return runner

    try:
        with pytest.raises(NotMigrated) as refused:
            await start()
        assert "python -m deploy.migrate metering" in str(refused.value)
        assert "metering/0001_meters_readings.sql" in str(refused.value)

        await run(settings, "metering")
        runner = await start()
        try:
            app = runner.app
            assert (
                await app[POOL].fetchval("SELECT current_user")
                == f"{settings.database_name('metering')}_app"
            )
        finally:
            await runner.cleanup()
    finally:
        await drop_database(settings, settings.database_name("metering"))
        await Platform(settings).remove_namespace()
