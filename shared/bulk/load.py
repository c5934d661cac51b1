"""The machinery every service's first-load importer shares (docs/bulk-load.md).

A service's importer (services/<name>/bulk_load.py) names the files of the ERP's export it reads
(`Source`: the file, the feed model each line must be, the key that makes two lines one record,
and how a chunk of records becomes rows of its tables) and the steps that finish the load
(`Finish`: billing's settlement). `run_load` does the rest:

- migrates the service's database as the service does (plus `bulk_load_progress`), and works on
  it as the database's owner role (EBOK_DATABASE_URL's role, the one that runs the migrations):
  the owner may ANALYZE, the service's own `…_app` role may not;
- reads each file in chunks of lines, validates every line with the feed's pydantic model
  (`model_validate_json`), writes refused lines to the rejects file with their line number and
  the reason naming the field, and applies the rest in one transaction per chunk together with
  the chunk's checkpoint (file, byte offset, line, counts): a stopped load goes on from its last
  committed chunk, `restart=True` starts over;
- a chunk the database refuses (a value pydantic let through but PostgreSQL cannot store) is
  applied again record by record, each in a savepoint, so only the bad records are rejected;
- reports progress (lines, percentage, rate, time left) every few seconds and returns a
  `Summary` of what each file did to each table;
- ends with ANALYZE of the tables it loaded.

Nothing goes to the outbox: the first load announces nothing; each service loads its own
projection from the same export (decision 51).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

import asyncpg
from pydantic import ValidationError

from shared.db import SHARED_MIGRATIONS, migrate, owner_role
from shared.events.common import Contract
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


@dataclass(frozen=True)
class Source:
    """A file of the export: each line one `model` payload. Within a chunk, lines with the same
    `key` are one record (the last line wins, as the later message would); `apply` writes a
    chunk of records (in file order, keys unique) and returns what it did to which table."""

    file: str
    model: type[Contract]
    key: Callable[[Any], Hashable]
    apply: Callable[[asyncpg.Connection, list[Any], Context], Awaitable[Counts]]
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


def _chunks(f: IO[bytes], first_line: int, size: int) -> Iterator[list[tuple[int, bytes]]]:
    """Lists of (line number, line) of up to `size` lines; blank lines are skipped but
    counted, so that line numbers stay those of the file."""
    chunk: list[tuple[int, bytes]] = []
    number = first_line
    for line in f:
        number += 1
        chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
    """A chunk of lines read: where it ends, its last line's number, what validated and what
    did not (line number, text, reason)."""

    offset: int
    lines: int
    good: list[tuple[int, Any]] = field(default_factory=list)
    bad: list[tuple[int, bytes, str]] = field(default_factory=list)


class _Loader:
    def __init__(
        self,
        conn: asyncpg.Connection,
        service: str,
        ctx: Context,
        options: Options,
        rejects: _Rejects,
    ) -> None:
        self.conn, self.service, self.ctx, self.options = conn, service, ctx, options
        self.rejects = rejects
        self.chunks_committed = 0

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
        # Lines are read and validated one chunk ahead, while the database applies the last
        # one: the parser yields to the event loop every few hundred lines, so the next
        # statement of the chunk being applied goes out as soon as its predecessor is done.
        parsed: asyncio.Queue[_Parsed | None] = asyncio.Queue(maxsize=1)
        reader = asyncio.create_task(self._parse(path, source, offset, lines, parsed))
        try:
            while (chunk := await parsed.get()) is not None:
                records = _dedupe(chunk.good, source.key)
                async with self.conn.transaction():
                    done, refused = await self._apply(source, records)
                    for number, text, reason in chunk.bad:
                        self.rejects.write(source.file, number, reason, text)
                    for (number, record), reason in refused:
                        self.rejects.write(
                            source.file, number, reason, record.model_dump_json().encode()
                        )
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
                self._committed()
            await reader
        finally:
            reader.cancel()
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

    async def _parse(
        self,
        path: Path,
        source: Source,
        offset: int,
        lines: int,
        out: asyncio.Queue[_Parsed | None],
    ) -> None:
        validate = source.model.model_validate_json
        with path.open("rb") as f:
            f.seek(offset)
            for chunk in _chunks(f, lines, self.options.chunk_lines):
                parsed = _Parsed(offset, chunk[-1][0])
                for n, (number, text) in enumerate(chunk, start=1):
                    parsed.offset += len(text)
                    if n % 500 == 0:
                        await asyncio.sleep(0)
                    if not text.strip():
                        continue  # a blank line is no record
                    try:
                        parsed.good.append((number, validate(text)))
                    except ValidationError as exc:
                        parsed.bad.append((number, text, describe_validation_error(exc)))
                offset = parsed.offset
                await out.put(parsed)
        await out.put(None)

    async def _apply(
        self, source: Source, records: list[tuple[int, Any]]
    ) -> tuple[Counts, list[tuple[tuple[int, Any], str]]]:
        """Apply the chunk; if the database refuses it, record by record in savepoints."""
        if not records:
            return {}, []
        try:
            async with self.conn.transaction():  # a savepoint
                return await source.apply(self.conn, [r for _, r in records], self.ctx), []
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError):
            pass
        counts: Counts = {}
        refused: list[tuple[tuple[int, Any], str]] = []
        for numbered in records:
            try:
                async with self.conn.transaction():
                    merge(counts, await source.apply(self.conn, [numbered[1]], self.ctx))
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                refused.append((numbered, f"(database) {type(exc).__name__}: {exc}"))
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


async def run_load(
    settings: Settings,
    service: str,
    directory: Path,
    sources: Sequence[Source],
    *,
    finish: Sequence[Finish] = (),
    analyze: Sequence[str],
    options: Options,
) -> Summary:
    started = time.monotonic()
    await migrate(settings, service, service_migrations(service))
    conn = await connect_as_owner(settings, service)
    rejects_path = options.rejects or directory / f"rejects-{service}.jsonl"
    summary = Summary(service, rejects_file=rejects_path)
    try:
        if options.restart:
            await conn.execute("DELETE FROM bulk_load_progress")
        keep = await conn.fetchval("SELECT coalesce(max(rejects_bytes), 0) FROM bulk_load_progress")
        rejects = _Rejects(rejects_path, keep)
        try:
            ctx = Context(settings, settings.today())
            loader = _Loader(conn, service, ctx, options, rejects)
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
    summary.seconds = time.monotonic() - started
    return summary


# --- helpers for the importers' SQL -----------------------------------------------------------


async def stage(
    conn: asyncpg.Connection, table: str, columns: Sequence[str], rows: list[tuple]
) -> None:
    """Copy rows into a temporary staging table (created by the importer, ON COMMIT DELETE
    ROWS, so each chunk's transaction starts with it empty)."""
    await conn.copy_records_to_table(table, records=rows, columns=list(columns))


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
        "--json", action="store_true", help="print the summary as JSON instead of text"
    )


def options_from(args: Any, service: str) -> Options:
    rejects = args.rejects_dir / f"rejects-{service}.jsonl" if args.rejects_dir else None
    return Options(
        chunk_lines=args.chunk_lines, restart=args.restart, rejects=rejects, progress=sys.stderr
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
    with contextlib.redirect_stdout(sys.stderr):  # the logs print to sys.stdout of the moment
        code, text = asyncio.run(main(settings))
    print(text)
    sys.exit(code)
