"""PostgreSQL: one database per service, a pool, and numbered SQL migrations under a lock."""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

from shared.logs import get_logger
from shared.retrying import connect_with_retry
from shared.settings import Settings

log = get_logger(__name__)

SHARED_MIGRATIONS = Path(__file__).parent / "migrations"
_MIGRATION_FILE = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


async def ensure_database(settings: Settings, database: str) -> None:
    """Create the database if it does not exist (servers are shared; databases are ours)."""
    conn = await connect_with_retry(
        lambda: asyncpg.connect(settings.database_dsn("postgres"), timeout=10),
        what="database",
        timeout=settings.broker_connect_timeout_seconds,
        errors=(OSError, asyncpg.CannotConnectNowError),
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            try:
                # Identifiers cannot be bound as parameters; the name is validated by Settings.
                await conn.execute(f'CREATE DATABASE "{database}"')
                log.info("database created", database=database)
            except asyncpg.DuplicateDatabaseError:
                pass
    finally:
        await conn.close()


async def drop_database(settings: Settings, database: str) -> None:
    conn = await asyncpg.connect(settings.database_dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def create_pool(settings: Settings, service: str) -> asyncpg.Pool:
    database = settings.database_name(service)
    await ensure_database(settings, database)
    pool = await asyncpg.create_pool(
        settings.database_dsn(database),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=30,
        reset=_keep_session,
        # Our statements are prepared once per connection and look rows up by key; PostgreSQL's
        # default re-plans each execution while custom plans look cheaper, which for the account
        # queries cost more than running them (1 ms planning against 0.4 ms execution).
        server_settings={"plan_cache_mode": "force_generic_plan"},
    )
    assert pool is not None
    return pool


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset on release (a round trip of UNLISTEN, RESET ALL, CLOSE ALL and
    unlocking): pooled connections carry no session state here. LISTEN runs on connections of
    its own (Notifier), locks are transaction-scoped, settings are never SET on a session, and
    the one session lock (migrations) is released before the connection goes back."""


def _migration_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if _MIGRATION_FILE.match(p.name))
    names = [p.name for p in directory.glob("*.sql")]
    stray = [n for n in names if not _MIGRATION_FILE.match(n)]
    if stray:
        raise RuntimeError(f"migration files must be named NNNN_name.sql: {stray}")
    return files


async def apply_migrations(pool: asyncpg.Pool, component: str, directory: Path) -> list[str]:
    """Apply the numbered .sql files of `directory` not applied yet, each in its own transaction.

    An advisory lock keeps two instances starting together from racing.
    """
    applied: list[str] = []
    lock_key = zlib.crc32(f"ebok-migrations:{component}".encode())
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       component text NOT NULL,
                       version text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now(),
                       PRIMARY KEY (component, version))"""
            )
            done = {
                r["version"]
                for r in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", component
                )
            }
            for path in _migration_files(directory):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    await conn.execute(
                        "INSERT INTO schema_migrations (component, version) VALUES ($1, $2)",
                        component,
                        path.name,
                    )
                applied.append(path.name)
                log.info("migration applied", component=component, migration=path.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied


class Notifier:
    """Wakes a background loop on a PostgreSQL NOTIFY channel, or after a polling interval.

    LISTEN needs its own connection (a pooled one would be lent to others); if that connection
    drops, the loop still runs on the polling interval and the listener is re-established.
    """

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    def _on_notify(self, *_args: object) -> None:
        self._event.set()

    async def _ensure_listening(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            return
        try:
            self._conn = await asyncpg.connect(self._dsn, timeout=5)
            await self._conn.add_listener(self._channel, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:
            self._conn = None
            log.warning("cannot LISTEN, polling instead", channel=self._channel, error=str(exc))

    async def wait(self, timeout: float) -> None:
        await self._ensure_listening()
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            pass
        self._event.clear()

    def wake(self) -> None:
        self._event.set()

    async def close(self) -> None:
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._conn = None


async def run_loop(
    name: str,
    step: Callable[[], Awaitable[bool]],
    notifier: Notifier,
    poll_seconds: float,
    stop: asyncio.Event,
) -> None:
    """Run `step` until `stop` is set; `step` returns True when more work is waiting at once."""
    while not stop.is_set():
        try:
            more = await step()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background loop step failed; will retry", loop=name)
            more = False
            await asyncio.sleep(min(poll_seconds, 1.0))
        if not more and not stop.is_set():
            await notifier.wait(poll_seconds)
