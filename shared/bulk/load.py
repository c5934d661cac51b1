"""The machinery every service's first-load importer shares (docs/bulk-load.md).

A service's importer (services/<name>/bulk_load.py) names the files of the ERP's export it reads
(`Source`: the file, the feed model each line must be, the key that makes two lines one record,
and how a chunk of records becomes rows of its tables) and the steps that finish the load
(`Finish`: billing's settlement). `run_load` does the rest:

- migrates the service's database as the service does (plus `bulk_load_progress`), and works on
  it as the database's owner role (EBOK_DATABASE_URL's role, the one that runs the migrations):
  the owner may ANALYZE, the service's own `…_app` role may not;
- reads each file in chunks of lines; parsing processes (`Options.parse_processes`, spawned:
  a script that calls `load` does so under `if __name__ == "__main__"`) validate every line with
  the feed's pydantic model (`model_validate_json`) and make the staging rows of the good ones,
  a few chunks ahead, while this process copies each chunk into the staging tables and applies
  it in one transaction together with the chunk's checkpoint (file, byte offset, line, counts):
  a stopped load goes on from its last committed chunk, `restart=True` starts over; refused
  lines go to the rejects file with their line number and the reason naming the field;
- a chunk the database refuses (a value pydantic let through but PostgreSQL cannot store) is
  applied again record by record, each in a savepoint, so only the bad records are rejected;
- reports progress (lines, percentage, rate, time left) every few seconds and returns a
  `Summary` of what each file did to each table;
- ANALYZEs a table each time it has doubled during the load, and every table it loaded at the
  end.

Nothing goes to the outbox: the first load announces nothing; each service loads its own
projection from the same export (decision 51).
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import hashlib
import importlib
import io
import itertools
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import asyncpg
from pydantic import ValidationError

from shared.db import SHARED_MIGRATIONS, migrate, owner_role
from shared.events.common import Contract
from shared.leader import try_session_lock
from shared.logs import configure_logging
from shared.messaging.consumer import describe_validation_error
from shared.settings import ROOT, Settings

BULK_MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_CHUNK_LINES = 20_000
# The exit status of a load that rejected lines and loaded the rest (2 is a wrong command line).
REJECTED = 3
# A rejected line is kept in the rejects file up to this many characters.
REJECTED_TEXT_MAX = 2_000


@dataclass
class TableCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def add(self, other: TableCounts) -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.deleted += other.deleted

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


Counts = dict[str, TableCounts]


def merge(into: Counts, more: Counts) -> None:
    for table, counts in more.items():
        into.setdefault(table, TableCounts()).add(counts)


@dataclass(frozen=True)
class Context:
    """What an apply function may need besides the records."""

    settings: Settings
    today: date


# A chunk's rows for the staging tables: table -> (columns, rows).
Staged = dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]]


@dataclass(frozen=True)
class Source:
    """A file of the export: each line one `model` payload. Within a chunk, lines with the same
    `key` are one record (the last line wins, as the later message would). `rows` turns a
    chunk of records (in file order, keys unique) into rows of the service's staging tables (a
    pure function: it runs in the parsing process), and `apply` moves them from the staging
    tables into the service's tables and returns what it did to which table."""

    file: str
    model: type[Contract]
    key: Callable[[Any], Hashable]
    rows: Callable[[list[Any]], Staged]
    apply: Callable[[asyncpg.Connection, Context], Awaitable[Counts]]
    # The table with one row per record: the summary counts records unchanged from it.
    table: str | None


@dataclass(frozen=True)
class Finish:
    """A step after the files, in resumable pieces: `step(conn, position, ctx)` does the next
    piece after `position` (None: from the start) and returns its last position, None when
    nothing was left."""

    name: str
    step: Callable[[asyncpg.Connection, str | None, Context], Awaitable[tuple[str | None, Counts]]]


@dataclass
class PhaseSummary:
    phase: str
    state: str = "loaded"  # loaded | already loaded | absent
    lines: int = 0
    rejected: int = 0
    tables: Counts = field(default_factory=dict)
    main_table: str | None = None
    seconds: float = 0.0

    @property
    def unchanged(self) -> int | None:
        """Records whose main row was neither inserted nor updated."""
        if self.main_table is None:
            return None
        main = self.tables.get(self.main_table, TableCounts())
        return max(self.lines - self.rejected - main.inserted - main.updated, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "state": self.state,
            "lines": self.lines,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
            "tables": {t: c.__dict__ for t, c in self.tables.items()},
            "seconds": round(self.seconds, 1),
        }


@dataclass
class Summary:
    service: str
    phases: list[PhaseSummary] = field(default_factory=list)
    rejects_file: Path | None = None
    analyzed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return sum(p.rejected for p in self.phases)

    @property
    def changed(self) -> int:
        return sum(c.changed for p in self.phases for c in p.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "phases": [p.as_dict() for p in self.phases],
            "rejected": self.rejected,
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
            "analyzed": self.analyzed,
            "seconds": round(self.seconds, 1),
        }

    def render(self) -> str:
        out = [f"{self.service}: {self.seconds:.0f} s"]
        for p in self.phases:
            head = f"  {p.phase}: {p.state}"
            if p.state != "absent":
                head += f", {p.lines:,} lines, {p.rejected:,} rejected"
                if p.unchanged is not None:
                    head += f", {p.unchanged:,} unchanged"
                head += f" ({p.seconds:.0f} s)"
            out.append(head)
            for table, c in p.tables.items():
                out.append(
                    f"    {table}: {c.inserted:,} inserted, {c.updated:,} updated, "
                    f"{c.deleted:,} deleted"
                )
        if self.rejected:
            out.append(f"  {self.rejected:,} lines rejected, with reasons in {self.rejects_file}")
        return "\n".join(out)


class LoadInterrupted(Exception):
    """Raised by `stop_after_chunks` (tests): the load stops as if killed after a commit."""


@dataclass(frozen=True)
class Options:
    chunk_lines: int = DEFAULT_CHUNK_LINES
    restart: bool = False
    rejects: Path | None = None
    progress: IO[str] | None = None
    progress_seconds: float = 5.0
    stop_after_chunks: int | None = None
    # Lines are validated in processes of their own (0: in the loading process, in turns).
    parse_processes: int = 2


def service_migrations(service: str) -> list[tuple[str, Path]]:
    return [
        ("shared", SHARED_MIGRATIONS),
        (service, ROOT / "services" / service / "migrations"),
        ("bulk_load", BULK_MIGRATIONS),
    ]


async def connect_as_owner(settings: Settings, service: str) -> asyncpg.Connection:
    database = settings.database_name(service)
    conn = await asyncpg.connect(settings.database_dsn(database), timeout=10)
    await conn.execute(f'SET ROLE "{owner_role(database)}"')
    # Each chunk's commit carries its own checkpoint: a commit lost in a crash loses the chunk
    # and its checkpoint together, and the rerun does that chunk again.
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET work_mem = '64MB'")
    # A chunk's staging tables hold thousands of rows and the tables millions: every join
    # between them must look the big side up by its index, row by staged row, whatever the
    # planner guesses of staging tables it has no statistics for (a hash join read the whole
    # table once per chunk, which grows with the table).
    await conn.execute("SET enable_hashjoin = off")
    await conn.execute("SET enable_mergejoin = off")
    # Row estimates of tables still loading are far off: JIT compiled for 0.4 s statements of
    # 0.05 s.
    await conn.execute("SET jit = off")
    await conn.execute("SET client_min_messages = warning")  # no 'already exists, skipping'
    return conn


def fingerprint(path: Path) -> str:
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as f:
        digest.update(f.read(65536))
        if size > 65536:
            f.seek(max(size - 65536, 65536))
            digest.update(f.read())
    return f"{size}:{digest.hexdigest()[:32]}"


class _Rejects:
    """The rejects file, kept as long as the committed checkpoints say."""

    def __init__(self, path: Path, keep_bytes: int) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._f = path.open("ab")
        self._f.truncate(keep_bytes)
        self._f.seek(keep_bytes)

    def write(self, phase: str, line: int, reason: str, text: bytes) -> None:
        self._f.write(
            json.dumps(
                {
                    "file": phase,
                    "line": line,
                    "reason": reason,
                    "text": text.decode("utf-8", "replace").rstrip("\r\n")[:REJECTED_TEXT_MAX],
                },
                ensure_ascii=False,
            ).encode()
            + b"\n"
        )

    def flush(self) -> int:
        self._f.flush()
        os.fsync(self._f.fileno())
        return self._f.tell()

    def close(self) -> None:
        self._f.close()


class _Progress:
    def __init__(self, out: IO[str] | None, every: float, service: str, phase: str, size: int):
        self.out, self.every, self.label, self.size = out, every, f"{service} {phase}", size
        self.started = self.last = time.monotonic()
        self.first_offset: int | None = None

    def report(self, lines: int, offset: int, *, final: bool = False) -> None:
        if self.out is None:
            return
        now = time.monotonic()
        if self.first_offset is None:
            self.first_offset = offset
            return
        if not final and now - self.last < self.every:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-6)
        rate = (offset - self.first_offset) / elapsed
        share = offset / self.size * 100 if self.size else 100.0
        eta = (self.size - offset) / rate if rate > 0 else 0.0
        per_line = offset / lines if lines else 0
        line_rate = rate / per_line if per_line else 0
        print(
            f"{self.label}: {lines:,} lines ({share:.1f} %), {line_rate:,.0f} lines/s, "
            f"{'done in' if final else 'about'} {_duration(elapsed if final else eta)}"
            f"{'' if final else ' left'}",
            file=self.out,
            flush=True,
        )


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


async def _progress_row(conn: asyncpg.Connection, phase: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM bulk_load_progress WHERE phase = $1", phase)


def _counts_from(raw: str | None) -> Counts:
    return {t: TableCounts(**c) for t, c in json.loads(raw or "{}").items()}


def _counts_json(counts: Counts) -> str:
    return json.dumps({t: c.__dict__ for t, c in counts.items()})


async def _save(
    conn: asyncpg.Connection,
    phase: str,
    *,
    fingerprint: str = "",
    offset: int = 0,
    lines: int = 0,
    rejected: int = 0,
    counts: Counts,
    position: str | None = None,
    rejects_bytes: int,
    done: bool,
) -> None:
    await conn.execute(
        """INSERT INTO bulk_load_progress (phase, fingerprint, byte_offset, lines, rejected,
                                          counts, position, rejects_bytes, done)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
           ON CONFLICT (phase) DO UPDATE SET fingerprint = EXCLUDED.fingerprint,
               byte_offset = EXCLUDED.byte_offset, lines = EXCLUDED.lines,
               rejected = EXCLUDED.rejected, counts = EXCLUDED.counts,
               position = EXCLUDED.position, rejects_bytes = EXCLUDED.rejects_bytes,
               done = EXCLUDED.done, updated_at = now()""",
        phase,
        fingerprint,
        offset,
        lines,
        rejected,
        _counts_json(counts),
        position,
        rejects_bytes,
        done,
    )


def _dedupe(
    records: list[tuple[int, Any]], key: Callable[[Any], Hashable]
) -> list[tuple[int, Any]]:
    """One record per key, the last line's, in the order of those last lines."""
    keys = [key(record) for _, record in records]
    if len(set(keys)) == len(keys):
        return records
    last: dict[Hashable, tuple[int, Any]] = {}
    for k, numbered in zip(keys, records, strict=True):
        last.pop(k, None)  # re-inserting moves it to the end: file order of the last lines
        last[k] = numbered
    return list(last.values())


@dataclass
class _Parsed:
    """A chunk of lines read: where it ends, its last line's number, how many records it held,
    the refused lines (line number, text, reason), and the staging tables' rows as COPY text."""

    offset: int
    lines: int
    records: int = 0
    bad: list[tuple[int, bytes, str]] = field(default_factory=list)
    staged: dict[str, tuple[tuple[str, ...], bytes]] = field(default_factory=dict)


def _copy_field(value: Any) -> str:
    """A value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = (
                value.replace("\\", "\\\\")
                .replace("\t", "\\t")
                .replace("\n", "\\n")
                .replace("\r", "\\r")
            )
        return value
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)  # numbers, Decimals, dates: their text is PostgreSQL's input


def _copy_text(staged: Staged) -> dict[str, tuple[tuple[str, ...], bytes]]:
    return {
        table: (columns, "".join("\t".join(map(_copy_field, row)) + "\n" for row in rows).encode())
        for table, (columns, rows) in staged.items()
        if rows
    }


_SOURCES: dict[tuple[str, str], Source] = {}


def _source(module: str, file: str) -> Source:
    """The importer's Source for `file`, found by module name (what a parsing process gets)."""
    if (module, file) not in _SOURCES:
        sources = importlib.import_module(module).SOURCES
        _SOURCES[(module, file)] = next(s for s in sources if s.file == file)
    return _SOURCES[(module, file)]


def _read(path: str, offset: int, size: int) -> list[bytes]:
    with open(path, "rb") as f:
        f.seek(offset)
        return list(itertools.islice(f, size))


def _validated(
    source: Source, offset: int, first_line: int, lines: list[bytes]
) -> tuple[_Parsed, list[tuple[int, Any]], dict[int, bytes]]:
    parsed = _Parsed(offset, first_line + len(lines))
    validate = source.model.model_validate_json
    good: list[tuple[int, Any]] = []
    texts: dict[int, bytes] = {}
    for number, text in enumerate(lines, start=first_line + 1):
        parsed.offset += len(text)
        if not text.strip():
            continue  # a blank line is no record
        try:
            good.append((number, validate(text)))
            texts[number] = text
        except ValidationError as exc:
            parsed.bad.append((number, text, describe_validation_error(exc)))
    return parsed, _dedupe(good, source.key), texts


def parse_chunk(module: str, file: str, offset: int, first_line: int, lines: list[bytes]):
    """Validate a chunk's lines (read from `offset`, the first being line `first_line + 1`)
    and make their staging rows: what a parsing process does."""
    source = _source(module, file)
    parsed, records, _ = _validated(source, offset, first_line, lines)
    parsed.records = len(records)
    parsed.staged = _copy_text(source.rows([r for _, r in records]))
    return parsed


def parse_records(
    module: str, file: str, path: str, offset: int, first_line: int, size: int
) -> list[tuple[int, bytes, dict[str, tuple[tuple[str, ...], bytes]]]]:
    """The same chunk record by record: (line number, line, staging rows) for each."""
    source = _source(module, file)
    _, records, texts = _validated(source, offset, first_line, _read(path, offset, size))
    return [(n, texts[n], _copy_text(source.rows([r]))) for n, r in records]


class _Loader:
    def __init__(
        self,
        conn: asyncpg.Connection,
        service: str,
        ctx: Context,
        options: Options,
        rejects: _Rejects,
        parser: concurrent.futures.Executor | None,
    ) -> None:
        self.conn, self.service, self.ctx, self.options = conn, service, ctx, options
        self.rejects = rejects
        self.parser = parser
        self.chunks_committed = 0
        # Rows a table had when it was last analyzed, and rows inserted since (see _keep_stats).
        self.analyzed: dict[str, float] = {}
        self.grown: dict[str, int] = {}

    async def keep_statistics(self, tables: Sequence[str]) -> None:
        rows = await self.conn.fetch(
            "SELECT relname, greatest(reltuples, 0) FROM pg_class WHERE relname = ANY($1::text[])"
            " AND relnamespace = 'public'::regnamespace",
            list(tables),
        )
        self.analyzed = {r[0]: r[1] for r in rows}

    async def _keep_stats(self, done: Counts) -> None:
        """ANALYZE a table each time it has doubled since it was last analyzed: a table that
        grows from nothing to millions within one load otherwise keeps the statistics of its
        empty self, and the planner reads all of it, for each chunk, as if it were a few rows
        (metering's meters by contract went from 0.05 s to 30 s a chunk)."""
        for table, counts in done.items():
            if table not in self.analyzed:
                continue
            self.grown[table] = self.grown.get(table, 0) + counts.inserted
            if self.grown[table] >= max(self.analyzed[table], 10_000):
                # Table names come from the importer.
                await self.conn.execute(f'ANALYZE "{table}"')
                self.analyzed[table] += self.grown.pop(table)

    def _committed(self) -> None:
        self.chunks_committed += 1
        stop = self.options.stop_after_chunks
        if stop is not None and self.chunks_committed >= stop:
            raise LoadInterrupted(f"stopped after {self.chunks_committed} chunks")

    async def source(self, directory: Path, source: Source) -> PhaseSummary:
        path = directory / source.file
        summary = PhaseSummary(source.file, main_table=source.table)
        if not path.exists():
            summary.state = "absent"
            return summary
        started = time.monotonic()
        print_to = self.options.progress
        mark = fingerprint(path)
        row = await _progress_row(self.conn, source.file)
        if row is not None and row["fingerprint"] != mark:
            if print_to is not None:
                print(
                    f"{self.service} {source.file}: not the file of the last run; "
                    "loading it from the start",
                    file=print_to,
                )
            row = None
        if row is not None and row["done"]:
            summary.state = "already loaded"
            summary.lines, summary.rejected = row["lines"], row["rejected"]
            summary.tables = _counts_from(row["counts"])
            return summary
        offset = row["byte_offset"] if row else 0
        lines = row["lines"] if row else 0
        rejected = row["rejected"] if row else 0
        counts = _counts_from(row["counts"]) if row else {}
        if row is not None and print_to is not None and offset:
            print(f"{self.service} {source.file}: resuming at line {lines + 1:,}", file=print_to)
        size = path.stat().st_size
        progress = _Progress(
            print_to, self.options.progress_seconds, self.service, source.file, size
        )
        progress.report(lines, offset)
        # The next chunks are validated (in the parsing processes) while the database applies
        # this one; they come back in file order.
        module, name, where = source.rows.__module__, source.file, str(path)
        ahead: collections.deque[asyncio.Future[_Parsed]] = collections.deque()
        with path.open("rb") as f:
            f.seek(offset)
            read_to, read_lines = offset, lines

            def read_ahead() -> None:
                nonlocal read_to, read_lines
                while len(ahead) < max(self.options.parse_processes, 1) + 1:
                    chunk_lines = list(itertools.islice(f, self.options.chunk_lines))
                    if not chunk_lines:
                        return
                    ahead.append(
                        self._parse(parse_chunk, module, name, read_to, read_lines, chunk_lines)
                    )
                    read_to += sum(len(line) for line in chunk_lines)
                    read_lines += len(chunk_lines)

            read_ahead()
            try:
                while ahead:
                    chunk = await ahead.popleft()
                    read_ahead()
                    start, first = offset, lines
                    async with self.conn.transaction():
                        at = (module, name, where, start, first)
                        done, refused = await self._apply(source, chunk, at)
                        for number, text, reason in chunk.bad:
                            self.rejects.write(source.file, number, reason, text)
                        for number, text, reason in refused:
                            self.rejects.write(source.file, number, reason, text)
                        offset, lines = chunk.offset, chunk.lines
                        rejected += len(chunk.bad) + len(refused)
                        merge(counts, done)
                        await _save(
                            self.conn,
                            source.file,
                            fingerprint=mark,
                            offset=offset,
                            lines=lines,
                            rejected=rejected,
                            counts=counts,
                            rejects_bytes=self.rejects.flush(),
                            done=False,
                        )
                    progress.report(lines, offset)
                    await self._keep_stats(done)
                    self._committed()
            finally:
                for pending in ahead:
                    pending.cancel()
        await _save(
            self.conn,
            source.file,
            fingerprint=mark,
            offset=offset,
            lines=lines,
            rejected=rejected,
            counts=counts,
            rejects_bytes=self.rejects.flush(),
            done=True,
        )
        progress.report(lines, offset, final=True)
        summary.lines, summary.rejected, summary.tables = lines, rejected, counts
        summary.seconds = time.monotonic() - started
        return summary

    def _parse(self, work: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        if self.parser is None:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_result(work(*args))
            return future
        return asyncio.get_running_loop().run_in_executor(self.parser, work, *args)

    async def _stage(self, staged: dict[str, tuple[tuple[str, ...], bytes]]) -> None:
        for table, (columns, data) in staged.items():
            await self.conn.copy_to_table(
                table, source=io.BytesIO(data), columns=list(columns), format="text"
            )

    async def _apply(
        self, source: Source, chunk: _Parsed, where: tuple[str, str, str, int, int]
    ) -> tuple[Counts, list[tuple[int, bytes, str]]]:
        """Apply the chunk; if the database refuses it, record by record in savepoints."""
        if not chunk.records:
            return {}, []
        try:
            async with self.conn.transaction():  # a savepoint
                await self._stage(chunk.staged)
                return await source.apply(self.conn, self.ctx), []
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
            pass
        module, name, path, offset, first = where
        lines = chunk.lines - first
        counts: Counts = {}
        refused: list[tuple[int, bytes, str]] = []
        for number, text, staged in parse_records(module, name, path, offset, first, lines):
            try:
                async with self.conn.transaction():
                    await self._stage(staged)
                    merge(counts, await source.apply(self.conn, self.ctx))
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                refused.append((number, text, f"(database) {type(exc).__name__}: {exc}"))
        return counts, refused

    async def finish(self, step: Finish) -> PhaseSummary:
        summary = PhaseSummary(step.name)
        row = await _progress_row(self.conn, step.name)
        if row is not None and row["done"]:
            summary.state = "already loaded"
            summary.tables = _counts_from(row["counts"])
            return summary
        started = time.monotonic()
        position = row["position"] if row else None
        counts = _counts_from(row["counts"]) if row else {}
        last_report = time.monotonic()
        while True:
            async with self.conn.transaction():
                position_after, done = await step.step(self.conn, position, self.ctx)
                merge(counts, done)
                finished = position_after is None
                await _save(
                    self.conn,
                    step.name,
                    counts=counts,
                    position=position if finished else position_after,
                    rejects_bytes=self.rejects.flush(),
                    done=finished,
                )
            if finished:
                break
            position = position_after
            out = self.options.progress
            if out is not None and time.monotonic() - last_report >= self.options.progress_seconds:
                last_report = time.monotonic()
                print(f"{self.service} {step.name}: up to {position}", file=out, flush=True)
            self._committed()
        summary.tables, summary.seconds = counts, time.monotonic() - started
        if self.options.progress is not None:
            print(
                f"{self.service} {step.name}: done in {_duration(summary.seconds)}",
                file=self.options.progress,
                flush=True,
            )
        return summary


LOAD_LOCK = "ebok-bulk-load"


class LoadRunning(Exception):
    """Another load of the same service holds its lock."""


async def run_load(
    settings: Settings,
    service: str,
    directory: Path,
    sources: Sequence[Source],
    *,
    staging: str,
    finish: Sequence[Finish] = (),
    analyze: Sequence[str],
    options: Options,
) -> Summary:
    """Load `sources` from `directory` into the service's database (its temporary staging
    tables made by the `staging` SQL), then the `finish` steps, then ANALYZE `analyze`."""
    started = time.monotonic()
    await migrate(settings, service, service_migrations(service))
    conn = await connect_as_owner(settings, service)
    # One load of a service at a time: two would read the same checkpoints and load every chunk
    # twice. The lock goes with this connection (closed below, or by the server if we die).
    if not await try_session_lock(conn, LOAD_LOCK):
        await conn.close()
        raise LoadRunning(f"another first load of {service} is running; wait for it to end")
    rejects_path = options.rejects or directory / f"rejects-{service}.jsonl"
    summary = Summary(service, rejects_file=rejects_path)
    parser = (
        concurrent.futures.ProcessPoolExecutor(
            options.parse_processes, mp_context=multiprocessing.get_context("spawn")
        )
        if options.parse_processes
        else None
    )
    try:
        await conn.execute(staging)
        if options.restart:
            await conn.execute("DELETE FROM bulk_load_progress")
        keep = await conn.fetchval("SELECT coalesce(max(rejects_bytes), 0) FROM bulk_load_progress")
        rejects = _Rejects(rejects_path, keep)
        try:
            ctx = Context(settings, settings.today())
            loader = _Loader(conn, service, ctx, options, rejects, parser)
            await loader.keep_statistics(analyze)
            for source in sources:
                phase = await loader.source(directory, source)
                if phase.state == "loaded" and finish:
                    # New rows: the finishing steps run again, from the start.
                    await conn.execute(
                        "DELETE FROM bulk_load_progress WHERE phase = ANY($1::text[])",
                        [f.name for f in finish],
                    )
                summary.phases.append(phase)
            for step in finish:
                summary.phases.append(await loader.finish(step))
        finally:
            size = rejects.flush()
            rejects.close()
            if size == 0:
                rejects_path.unlink(missing_ok=True)
        for table in analyze:
            # Table names come from the importer, not from the export.
            await conn.execute(f'ANALYZE "{table}"')
        summary.analyzed = list(analyze)
    finally:
        await conn.close()
        if parser is not None:
            parser.shutdown(cancel_futures=True)
    summary.seconds = time.monotonic() - started
    return summary


# --- helpers for the importers' SQL -----------------------------------------------------------


async def upsert(
    conn: asyncpg.Connection,
    table: str,
    key: Sequence[str],
    columns: Sequence[str],
    staged: str,
    *,
    casts: dict[str, str] | None = None,
    touch: str = "",
) -> TableCounts:
    """INSERT the `columns` of the staging table `staged` (`casts`: column -> type) into
    `table`, ON CONFLICT (`key`) DO UPDATE the other columns where any of them differs, so that
    a repeated load changes no row; `touch` adds assignments made only with a change
    (`updated_at = now()`)."""
    casts = casts or {}
    others = [c for c in columns if c not in key]
    select = ", ".join(f"{c}::{casts[c]}" if c in casts else c for c in columns)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in others) + (f", {touch}" if touch else "")
    differs = (
        f"({', '.join(f't.{c}' for c in others)}) IS DISTINCT FROM "
        f"({', '.join(f'EXCLUDED.{c}' for c in others)})"
    )
    # Every name here is the importer's own constant; the rows come through COPY.
    row = await conn.fetchrow(
        f"""WITH w AS (
               INSERT INTO {table} AS t ({", ".join(columns)}) SELECT {select} FROM {staged}
               ON CONFLICT ({", ".join(key)}) DO UPDATE SET {sets}
               WHERE {differs}
               RETURNING (xmax = 0) AS inserted)
            SELECT count(*) FILTER (WHERE inserted) AS inserted,
                   count(*) FILTER (WHERE NOT inserted) AS updated FROM w"""  # noqa: S608
    )
    return TableCounts(inserted=row["inserted"], updated=row["updated"])


def deleted(status: str) -> TableCounts:
    """The count of a DELETE's status line ("DELETE 3")."""
    return TableCounts(deleted=int(status.split()[-1]))


# --- the command line every importer shares ----------------------------------------------------


def add_arguments(parser: Any) -> None:
    parser.add_argument("directory", type=Path, help="the ERP's export: a directory of .jsonl")
    parser.add_argument(
        "--restart", action="store_true", help="forget the checkpoints and read every file again"
    )
    parser.add_argument(
        "--chunk-lines", type=int, default=DEFAULT_CHUNK_LINES, help="lines per transaction"
    )
    parser.add_argument(
        "--rejects-dir",
        type=Path,
        default=None,
        help="where rejects-<service>.jsonl go (default: the export directory)",
    )
    parser.add_argument(
        "--parse-processes",
        type=int,
        default=Options.parse_processes,
        help="processes that validate lines (0: the loading process itself)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the summary as JSON instead of text"
    )


def options_from(args: Any, service: str) -> Options:
    rejects = args.rejects_dir / f"rejects-{service}.jsonl" if args.rejects_dir else None
    return Options(
        chunk_lines=args.chunk_lines,
        restart=args.restart,
        rejects=rejects,
        progress=sys.stderr,
        parse_processes=args.parse_processes,
    )


def render_summaries(summaries: Sequence[Summary], *, as_json: bool) -> tuple[int, str]:
    """The summaries as text (or JSON), and the exit status: 0 when every line was loaded,
    REJECTED when some were rejected (everything else was loaded)."""
    if as_json:
        text = json.dumps([s.as_dict() for s in summaries], indent=2)
    else:
        text = "\n".join(s.render() for s in summaries)
    return (REJECTED if any(s.rejected for s in summaries) else 0), text


def run_command(main: Callable[[Settings], Awaitable[tuple[int, str]]]) -> None:
    """Run an importer's command: logs and progress on standard error, the summary alone on
    standard output, the exit status from `main`."""
    settings = Settings()
    configure_logging("bulk-load", settings.log_level, settings.log_format)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the logs print to sys.stdout of the moment
            code, text = asyncio.run(main(settings))
    except LoadRunning as exc:
        raise SystemExit(f"bulk load: {exc}") from None
    print(text)
    sys.exit(code)
