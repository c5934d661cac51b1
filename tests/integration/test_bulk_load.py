"""The first load of a utility from its ERP export (docs/bulk-load.md), against real PostgreSQL:
the rows it writes are the rows the feed's handlers write for the same messages, a second run
changes nothing, bad lines are rejected with their reasons while the rest loads, an interrupted
load goes on from its last checkpoint, and the loaded tables are analyzed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from asyncio.subprocess import PIPE
from collections.abc import AsyncIterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from deploy.erp_export_sample import write_export
from deploy.erp_import import load_all
from services.billing import bulk_load as billing_load
from shared.bulk.load import LoadInterrupted, Options, Summary, render_summaries
from shared.db import drop_database
from shared.events import erp
from shared.settings import Settings
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra
from tests.support.platform import make_settings

SERVICES = ("billing", "identity", "metering")
CUSTOMERS = 100  # customer 97's contract is terminated, 50 has an interest note, 100 a credit
FEED = {
    "customers.jsonl": erp.CustomerUpserted,
    "contracts.jsonl": erp.ContractUpserted,
    "invoices.jsonl": erp.InvoiceIssued,
    "payments.jsonl": erp.PaymentBooked,
    "notes.jsonl": erp.NoteIssued,
}
# What the two paths may write differently: when a row was written.
TIMESTAMPS = ("updated_at", "received_at", "published_at")
# The feed's bookkeeping (messages handled and published) and the load's own.
BOOKKEEPING = ("inbox", "outbox", "bulk_load_progress", "schema_migrations")


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("export")
    write_export(directory, CUSTOMERS, date(2026, 10, 1), progress=None)
    return directory


@pytest_asyncio.fixture(loop_scope="session")
async def settings(infra: Infra, keys: Path) -> AsyncIterator[Settings]:
    """A namespace of its own for the loaded databases; dropped afterwards."""
    chosen = make_settings(infra.database_url, infra.amqp_url, keys)
    yield chosen
    for service in SERVICES:
        await drop_database(chosen, chosen.database_name(service))


async def rows(
    settings: Settings,
    service: str,
    *,
    skip_columns: Sequence[str] = TIMESTAMPS,
    skip_tables: Sequence[str] = BOOKKEEPING,
    with_xmin: bool = False,
) -> dict[str, list[str]]:
    """Every row of every table of the service's database (as ServiceHandlers.snapshot);
    `with_xmin` adds the transaction that wrote each row version."""
    conn = await asyncpg.connect(settings.service_dsn(service))
    try:
        found: dict[str, list[str]] = {}
        for (table,) in await conn.fetch(
            """SELECT tablename FROM pg_tables WHERE schemaname = 'public'
                  AND NOT tablename = ANY($1::text[]) ORDER BY 1""",
            list(skip_tables),
        ):
            xmin = " || jsonb_build_object('_xmin', t.xmin::text)" if with_xmin else ""
            # Table names come from the catalog.
            found[table] = sorted(
                r[0]
                for r in await conn.fetch(
                    f'SELECT ((to_jsonb(t) - $1::text[]){xmin})::text FROM "{table}" t',  # noqa: S608
                    list(skip_columns),
                )
            )
        return found
    finally:
        await conn.close()


def normalized(snapshot: dict[str, list[str]]) -> dict[str, list[str]]:
    return {t: sorted(json.dumps(json.loads(r)) for r in v) for t, v in snapshot.items()}


def quick(**overrides: Any) -> Options:
    """Small chunks, so that even this export takes several."""
    return Options(chunk_lines=overrides.pop("chunk_lines", 150), **overrides)


async def test_a_loaded_export_is_what_the_feed_writes_for_the_same_messages(
    infra: Infra, keys: Path, export: Path, settings: Settings
) -> None:
    summaries = await load_all(settings, export, quick())
    assert [s.service for s in summaries] == list(SERVICES)
    assert all(s.rejected == 0 for s in summaries)
    billing = summaries[0]
    invoices = next(p for p in billing.phases if p.phase == "invoices.jsonl")
    assert invoices.lines == CUSTOMERS * 12
    assert invoices.tables["invoices"].inserted == CUSTOMERS * 12
    assert invoices.tables["invoice_lines"].inserted == CUSTOMERS * 24
    settlement = next(p for p in billing.phases if p.phase == "settlement")
    assert settlement.tables["invoices.paid"].updated > 0

    # The same export, line by line, as feed messages through billing's handlers; billing's
    # events through identity's and metering's.
    async with (
        ServiceHandlers.open("billing", infra, keys) as billing_feed,
        ServiceHandlers.open("identity", infra, keys) as identity_feed,
        ServiceHandlers.open("metering", infra, keys) as metering_feed,
    ):
        for name, model in FEED.items():
            for line in (export / name).read_bytes().splitlines():
                assert await billing_feed.deliver(model.model_validate_json(line)) == "handled"
        for event in await billing_feed.published():
            for handlers in (identity_feed, metering_feed):
                if any(event.type == m.TYPE for s in handlers.subscriptions for m in s.handlers):
                    await handlers.deliver_raw(event.type, event.payload)
        loaded_billing = await rows(settings, "billing")
        for service, handlers in zip(
            SERVICES, (billing_feed, identity_feed, metering_feed), strict=True
        ):
            loaded = normalized(await rows(settings, service))
            feed = await handlers.snapshot(skip_tables=BOOKKEEPING, skip_columns=TIMESTAMPS)
            assert loaded == normalized(feed), service
            assert all(loaded[t] for t in ("customers", "invoices", "meters") if t in loaded)

    # The settlement paid what the feed paid: at least the six invoices each customer paid
    # (the snapshot compared every invoice's paid amount).
    paid = [json.loads(r)["paid"] for r in loaded_billing["invoices"]]
    assert sum(1 for p in paid if p > 0) >= CUSTOMERS * 6


async def test_a_second_run_changes_nothing_and_a_changed_file_is_loaded_again(
    export: Path, settings: Settings, tmp_path: Path
) -> None:
    await load_all(settings, export, quick())
    before = {s: await rows(settings, s, skip_columns=(), with_xmin=True) for s in SERVICES}

    again = await load_all(settings, export, quick())
    assert {p.state for s in again for p in s.phases} == {"already loaded"}

    redone = await load_all(settings, export, quick(restart=True))
    assert [p.state for p in redone[0].phases] == ["loaded"] * 6
    assert sum(s.changed for s in redone) == 0
    customers = next(p for p in redone[0].phases if p.phase == "customers.jsonl")
    assert customers.unchanged == CUSTOMERS
    # Not one row version rewritten: every row keeps the transaction that wrote it.
    assert {s: await rows(settings, s, skip_columns=(), with_xmin=True) for s in SERVICES} == before

    # A new export with one customer renamed: only that file is read again, one row changes.
    changed = tmp_path / "export"
    changed.mkdir()
    for name in FEED:
        (changed / name).write_bytes((export / name).read_bytes())
    lines = (changed / "customers.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0]) | {"name": "Anna Zmieniona"}
    (changed / "customers.jsonl").write_text(
        "\n".join([json.dumps(first), *lines[1:]]) + "\n", encoding="utf-8"
    )
    [billing] = await load_all(settings, changed, quick(), services=["billing"])
    states = {p.phase: p.state for p in billing.phases}
    assert states["customers.jsonl"] == "loaded"
    assert states["invoices.jsonl"] == "already loaded"
    assert states["settlement"] == "loaded"  # new rows: settled again
    phase = next(p for p in billing.phases if p.phase == "customers.jsonl")
    assert phase.tables["customers"].updated == 1
    assert phase.unchanged == CUSTOMERS - 1


async def test_bad_lines_are_rejected_with_reasons_and_the_rest_loads(
    export: Path, settings: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "export"
    directory.mkdir()
    good = (export / "customers.jsonl").read_text(encoding="utf-8").splitlines()[:10]
    customer = json.loads(good[0])
    bad = [
        "{not json",
        json.dumps({k: v for k, v in customer.items() if k != "name"} | {"customer_id": "X1"}),
        json.dumps(customer | {"customer_id": "X2", "email": "not-an-email"}),
        json.dumps(
            customer | {"customer_id": "X3", "address": customer["address"] | {"postal_code": "1"}}
        ),
        # pydantic takes it, PostgreSQL cannot store a NUL: refused by the database, alone.
        json.dumps(customer | {"customer_id": "X4", "name": "Zero\u0000Byte"}),
    ]
    (directory / "customers.jsonl").write_text(
        "\n".join(good[:3] + bad + good[3:]) + "\n", encoding="utf-8"
    )
    invoices = [json.loads(x) for x in (export / "invoices.jsonl").read_text().splitlines()[:3]]
    invoices[1]["gross"] = "1.00"  # not net + vat
    (directory / "invoices.jsonl").write_text(
        "\n".join(json.dumps(i) for i in invoices) + "\n", encoding="utf-8"
    )

    [summary] = await load_all(settings, directory, quick(chunk_lines=4), services=["billing"])
    assert summary.rejected == 6
    assert render_summaries([summary], as_json=True)[0] == 3  # the exit status says so
    rejects = [
        json.loads(line)
        for line in (directory / "rejects-billing.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    by_line = {(r["file"], r["line"]): r["reason"] for r in rejects}
    assert set(by_line) == {("customers.jsonl", n) for n in range(4, 9)} | {("invoices.jsonl", 2)}
    assert "Invalid JSON" in by_line[("customers.jsonl", 4)]
    assert by_line[("customers.jsonl", 5)].startswith("name: Field required")
    assert by_line[("customers.jsonl", 6)].startswith("email:")
    assert by_line[("customers.jsonl", 7)].startswith("address.postal_code:")
    assert "(database)" in by_line[("customers.jsonl", 8)]
    assert "gross must equal net + vat" in by_line[("invoices.jsonl", 2)]

    conn = await asyncpg.connect(settings.service_dsn("billing"))
    try:
        loaded = {r[0] for r in await conn.fetch("SELECT customer_id FROM customers")}
        assert loaded == {json.loads(line)["customer_id"] for line in good}
        assert await conn.fetchval("SELECT count(*) FROM invoices") == 2
    finally:
        await conn.close()


async def test_an_interrupted_load_goes_on_from_its_last_checkpoint(
    export: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch, infra: Infra, keys: Path
) -> None:
    monkeypatch.setattr(billing_load, "SETTLE_CUSTOMERS", 30)
    chunk = 100
    # Stopped in the invoices (customers 1, contracts 1, invoices 12 chunks: the 8th of them).
    with pytest.raises(LoadInterrupted):
        await billing_load.load(settings, export, quick(chunk_lines=chunk, stop_after_chunks=10))
    conn = await asyncpg.connect(settings.service_dsn("billing"))
    try:
        assert await conn.fetchval("SELECT count(*) FROM invoices") == 8 * chunk
        # ... and in the settlement, which goes in pieces of 30 customers (4 invoice chunks
        # left, 6 of payments, 1 of notes, then the first piece).
        with pytest.raises(LoadInterrupted):
            await billing_load.load(
                settings, export, quick(chunk_lines=chunk, stop_after_chunks=4 + 6 + 1 + 1)
            )
        progress = await conn.fetchrow(
            "SELECT position, done FROM bulk_load_progress WHERE phase = 'settlement'"
        )
        assert progress["position"] == "C00000030" and not progress["done"]
        resumed = await billing_load.load(settings, export, quick(chunk_lines=chunk))
    finally:
        await conn.close()
    states = {p.phase: p.state for p in resumed.phases}
    assert states["invoices.jsonl"] == "already loaded"
    assert states["settlement"] == "loaded"

    # The same rows as a load that ran through at once.
    whole = make_settings(infra.database_url, infra.amqp_url, keys)
    try:
        await billing_load.load(whole, export, quick(chunk_lines=chunk))
        assert await rows(settings, "billing") == await rows(whole, "billing")
    finally:
        await drop_database(whole, whole.database_name("billing"))


async def test_the_loaded_tables_are_analyzed(export: Path, settings: Settings) -> None:
    summaries: list[Summary] = await load_all(settings, export, quick())
    for summary in summaries:
        conn = await asyncpg.connect(settings.service_dsn(summary.service))
        try:
            analyzed = await conn.fetch(
                """SELECT relname, last_analyze FROM pg_stat_user_tables
                    WHERE relname = ANY($1::text[])""",
                summary.analyzed,
            )
        finally:
            await conn.close()
        assert summary.analyzed
        assert {r["relname"] for r in analyzed} == set(summary.analyzed)
        assert all(r["last_analyze"] is not None for r in analyzed), summary.service


async def test_the_command_reports_progress_and_says_when_lines_were_rejected(
    export: Path, settings: Settings, tmp_path: Path
) -> None:
    directory = tmp_path / "export"
    directory.mkdir()
    for name in FEED:
        (directory / name).write_bytes((export / name).read_bytes())
    with (directory / "payments.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"booking_id": "B-1", "customer_id": "C00000001"}\n')
    env = {
        **os.environ,
        "EBOK_ENV": "test",
        "EBOK_NAMESPACE": settings.namespace,
        "EBOK_DATABASE_URL": settings.database_url,
        "EBOK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "deploy.erp_import", str(directory), "--parallel"]
    process = await asyncio.create_subprocess_exec(
        *command, "--chunk-lines", "200", env=env, stdout=PIPE, stderr=PIPE
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 3, err.decode()
    progress = err.decode()
    for service in SERVICES:
        assert f"{service} contracts.jsonl: {CUSTOMERS:,} lines (100.0 %)" in progress
    summary = out.decode()
    assert "billing: " in summary and "1 rejected" in summary
    assert f"invoices: {CUSTOMERS * 12:,} inserted" in summary
    [reject] = (directory / "rejects-billing.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(reject)["line"] == CUSTOMERS * 6 + 1

    # Run again: nothing left to do, and the rejected line is still reported.
    process = await asyncio.create_subprocess_exec(*command, env=env, stdout=PIPE, stderr=PIPE)
    out, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode == 3
    assert "already loaded" in out.decode()
