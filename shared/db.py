"""PostgreSQL: one database per service, a pool, and numbered SQL migrations under a lock."""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

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
            except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
                # Another instance created it meanwhile (two that start at once: the loser of
                # the race gets the catalogue's unique violation, not "already exists").
                pass
    finally:
        await conn.close()


async def drop_database(settings: Settings, database: str) -> None:
    conn = await asyncpg.connect(settings.database_dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for role in (owner_role(database), app_role(database)):
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


def owner_role(database: str) -> str:
    """Owns the database's schema and tables; no one logs in as it (migrations SET ROLE)."""
    return f"{database}_owner"


def app_role(database: str) -> str:
    """What the service runs as: reads and writes rows, changes no schema, sees no other
    service's database."""
    return f"{database}_app"


async def migrate(
    settings: Settings, service: str, components: list[tuple[str, Path]]
) -> dict[str, list[str]]:
    """Make the service's database ready, as EBOK_DATABASE_URL's role (which creates databases
    and roles): the database, its owner role (which every migration runs as, so that it owns
    what it creates), the numbered migrations of each component, and the service's
    least-privileged login role with rights on rows only. Returns what was applied."""
    database = settings.database_name(service)
    await ensure_database(settings, database)
    owner, app = owner_role(database), app_role(database)
    password = settings.database_app_password
    admin = await asyncpg.connect(settings.database_dsn(database), timeout=10)
    try:
        lock_key = zlib.crc32(f"ebok-roles:{database}".encode())
        await admin.execute("SELECT pg_advisory_lock($1)", lock_key)
        for role, login in ((owner, False), (app, True)):
            if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
                try:
                    await admin.execute(f'CREATE ROLE "{role}" {"LOGIN" if login else "NOLOGIN"}')
                except asyncpg.DuplicateObjectError:
                    pass
        if password is not None:
            # A password cannot be a bound parameter of ALTER ROLE: quote it as a literal.
            literal = await admin.fetchval("SELECT quote_literal($1)", password.get_secret_value())
            await admin.execute(f'ALTER ROLE "{app}" PASSWORD {literal}')
        await admin.execute(f'GRANT "{owner}" TO CURRENT_USER')
        await admin.execute(f'ALTER DATABASE "{database}" OWNER TO "{owner}"')
        await admin.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await admin.execute(f'GRANT CONNECT, TEMPORARY ON DATABASE "{database}" TO "{app}"')
        await admin.execute(f'ALTER SCHEMA public OWNER TO "{owner}"')
        await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # What older versions created as EBOK_DATABASE_URL's role passes to the owner.
        for kind, name in await admin.fetch(
            """SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                          ELSE 'TABLE' END, c.relname
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v')
                  AND pg_get_userbyid(c.relowner) <> $1
                  AND NOT (c.relkind = 'S' AND EXISTS (
                      SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'a'))""",
            owner,
        ):
            await admin.execute(f'ALTER {kind} public."{name}" OWNER TO "{owner}"')
        # Still under the lock (to the end: closing the connection releases it on any error):
        # two instances that start at once would otherwise grant on the same catalogue rows
        # together ("tuple concurrently updated").
        await admin.execute(f'SET ROLE "{owner}"')
        applied = {
            component: await apply_migrations(admin, component, directory)
            for component, directory in components
        }
        await admin.execute(f'GRANT USAGE ON SCHEMA public TO "{app}"')
        await admin.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{app}"'
        )
        await admin.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{app}"')
        await admin.execute("RESET ROLE")
        await admin.execute("SELECT pg_advisory_unlock($1)", lock_key)
    finally:
        await admin.close()
    return applied


def app_dsn(settings: Settings, service: str) -> str:
    """The service's database as its least-privileged role (EBOK_DATABASE_APP_PASSWORD)."""
    database = settings.database_name(service)
    parts = urlsplit(settings.database_dsn(database))
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    credentials = quote(app_role(database), safe="")
    if settings.database_app_password is not None:
        credentials += ":" + quote(settings.database_app_password.get_secret_value(), safe="")
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}{port}"))


async def create_pool(settings: Settings, service: str) -> asyncpg.Pool:
    """A pool on the service's database as its least-privileged role (after `migrate`)."""
    pool = await asyncpg.create_pool(
        app_dsn(settings, service),
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=30,
        reset=_keep_session,
        # Our statements are prepared once per connection and look rows up by key; PostgreSQL's
        # default re-plans each execution while custom plans look cheaper, which for the account
        # queries cost more than running them (1 ms planning against 0.4 ms execution).
        # A sequential scan is the last resort (decision 56): a generic plan made while a table
        # was small scans it whole once it is large, and is kept for the connection's life
        # (and without autovacuum, statistics never tell the planner the table grew).
        server_settings={"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"},
    )
    assert pool is not None
    return pool


async def _keep_session(_conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset on release (a round trip of UNLISTEN, RESET ALL, CLOSE ALL and
    unlocking): pooled connections carry no session state here. LISTEN runs on connections of
    its own (Notifier), locks are transaction-scoped, settings are never SET on a session, and
    the session locks (migrations; shared/leader.py `leading`) are released before the
    connection goes back, or the connection is ended."""


def _migration_files(directory: Path) -> list[Path]:
    files = sorted(p for p in directory.glob("*.sql") if _MIGRATION_FILE.match(p.name))
    names = [p.name for p in directory.glob("*.sql")]
    stray = [n for n in names if not _MIGRATION_FILE.match(n)]
    if stray:
        raise RuntimeError(f"migration files must be named NNNN_name.sql: {stray}")
    return files


def migration_components(service: str) -> list[tuple[str, Path]]:
    """What a service migrates: the shared migrations, then its own (services/<name>/migrations)."""
    own = Path(str(resources.files(f"services.{service}") / "migrations"))
    return [("shared", SHARED_MIGRATIONS), (service, own)]


async def pending_migrations(
    settings: Settings, service: str, components: list[tuple[str, Path]]
) -> list[str]:
    """The migrations of `components` not yet applied to the service's database, asked as its
    runtime role (no provisioning credentials); every one of them when the database, the role
    or the migrations' table is not there yet."""
    wanted = [(c, p.name) for c, directory in components for p in _migration_files(directory)]
    try:
        conn = await asyncpg.connect(app_dsn(settings, service), timeout=10)
    except asyncpg.InvalidPasswordError:
        raise  # a wrong EBOK_DATABASE_APP_PASSWORD, not a database left to migrate
    except asyncpg.InvalidCatalogNameError:
        return [f"{c}/{name}" for c, name in wanted]  # no database yet
    except asyncpg.InvalidAuthorizationSpecificationError as exc:
        if "does not exist" not in str(exc):
            raise  # refused by pg_hba.conf, say
        return [f"{c}/{name}" for c, name in wanted]  # no runtime role yet
    try:
        done = {
            (r["component"], r["version"])
            for r in await conn.fetch("SELECT component, version FROM schema_migrations")
        }
    except asyncpg.UndefinedTableError:
        done = set()
    finally:
        await conn.close()
    return [f"{c}/{name}" for c, name in wanted if (c, name) not in done]


async def apply_migrations(
    target: asyncpg.Pool | asyncpg.Connection, component: str, directory: Path
) -> list[str]:
    """Apply the numbered .sql files of `directory` not applied yet, each in its own transaction.

    An advisory lock keeps two instances starting together from racing.
    """
    if isinstance(target, asyncpg.Pool):
        async with target.acquire() as conn:
            return await apply_migrations(conn, component, directory)
    conn = target
    applied: list[str] = []
    lock_key = zlib.crc32(f"ebok-migrations:{component}".encode())
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

    def __init__(self, dsn: str, channel: str | None) -> None:
        """`channel` None: polling only (no connection of its own)."""
        self._dsn = dsn
        self._channel = channel
        self._event = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    def _on_notify(self, *_args: object) -> None:
        self._event.set()

    async def _ensure_listening(self) -> None:
        if self._channel is None or (self._conn is not None and not self._conn.is_closed()):
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
