"""Numbered migrations, applied at start under an advisory lock."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from shared.db import (
    app_dsn,
    app_role,
    apply_migrations,
    create_pool,
    drop_database,
    ensure_database,
    migrate,
)
from tests.support.infra import Infra
from tests.support.platform import make_settings


async def test_instances_starting_together_apply_each_migration_once(
    infra: Infra, keys: Path, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE things (id int PRIMARY KEY);")
    (tmp_path / "0002_second.sql").write_text(
        "SELECT pg_sleep(0.2); ALTER TABLE things ADD COLUMN name text;"
    )
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    service = f"mig{secrets.token_hex(3)}"
    await ensure_database(settings, settings.database_name(service))
    pools = [await asyncpg.create_pool(settings.service_dsn(service)) for _ in range(3)]
    try:
        applied = await asyncio.gather(*(apply_migrations(p, "probe", tmp_path) for p in pools))
        assert sorted(len(a) for a in applied) == [0, 0, 2]
        async with pools[0].acquire() as conn:
            await conn.execute("INSERT INTO things (id, name) VALUES (1, 'x')")
            assert (
                await conn.fetchval(
                    "SELECT count(*) FROM schema_migrations WHERE component = 'probe'"
                )
                == 2
            )
        (tmp_path / "0003_third.sql").write_text("ALTER TABLE things ADD COLUMN size int;")
        assert await apply_migrations(pools[1], "probe", tmp_path) == ["0003_third.sql"]
    finally:
        for pool in pools:
            await pool.close()
        await drop_database(settings, settings.database_name(service))


async def test_a_failing_migration_leaves_nothing_half_done(
    infra: Infra, keys: Path, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE a (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE b (id int); SELECT no_such_function();")
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    service = f"mig{secrets.token_hex(3)}"
    await ensure_database(settings, settings.database_name(service))
    pool = await asyncpg.create_pool(settings.service_dsn(service))
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await apply_migrations(pool, "probe", tmp_path)
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT to_regclass('a') IS NOT NULL")
            assert await conn.fetchval("SELECT to_regclass('b') IS NULL")
            assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == 1
    finally:
        await pool.close()
        await drop_database(settings, settings.database_name(service))


def test_migration_files_must_be_numbered(tmp_path: Path) -> None:
    from shared.db import _migration_files

    (tmp_path / "create.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match=r"NNNN_name\.sql"):
        _migration_files(tmp_path)


async def test_a_service_runs_as_a_role_that_changes_rows_not_schemas(
    infra: Infra, keys: Path, tmp_path: Path
) -> None:
    (tmp_path / "0001_things.sql").write_text(
        "CREATE TABLE things (id bigserial PRIMARY KEY, name text);"
    )
    settings = make_settings(infra.database_url, infra.amqp_url, keys)
    service, other = f"mig{secrets.token_hex(3)}", f"mig{secrets.token_hex(3)}"
    await migrate(settings, service, [("probe", tmp_path)])
    await migrate(settings, other, [("probe", tmp_path)])
    pool = await create_pool(settings, service)
    try:
        async with pool.acquire() as conn:
            user, superuser = await conn.fetchrow(
                "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            assert (user, superuser) == (app_role(settings.database_name(service)), False)
            # rows: yes
            await conn.execute("INSERT INTO things (name) VALUES ('x')")
            await conn.execute("UPDATE things SET name = 'y'")
            assert await conn.fetchval("SELECT count(*) FROM things") == 1
            await conn.execute("DELETE FROM things")
            # schemas: no
            for statement in (
                "CREATE TABLE mine (id int)",
                "ALTER TABLE things ADD COLUMN size int",
                "DROP TABLE things",
                "TRUNCATE things",
                "DELETE FROM schema_migrations WHERE false; DROP TABLE schema_migrations",
            ):
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        # another service's database: no
        mine = urlsplit(app_dsn(settings, service))
        elsewhere = urlunsplit(mine._replace(path="/" + settings.database_name(other)))
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await asyncpg.connect(elsewhere)
        # a migration added later is granted to it too
        (tmp_path / "0002_more.sql").write_text("CREATE TABLE more_things (id int);")
        assert await migrate(settings, service, [("probe", tmp_path)]) == {
            "probe": ["0002_more.sql"]
        }
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO more_things VALUES (1)")
    finally:
        await pool.close()
        for name in (service, other):
            await drop_database(settings, settings.database_name(name))
        conn = await asyncpg.connect(settings.database_dsn("postgres"))
        try:
            left = await conn.fetchval(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE $1",
                f"{settings.namespace}_mig%",
            )
        finally:
            await conn.close()
        assert left == 0, "dropping a database drops its roles"
