"""Metering's part of the first load of a utility (docs/bulk-load.md): the meters on the service
points of the contracts in the ERP's export, as repository.apply_contract writes them from
billing's contract events.

    python -m services.metering.bulk_load <export-dir> [--restart] [--chunk-lines N]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import asyncpg

from shared.bulk.load import (
    Context,
    Counts,
    Options,
    Source,
    Staged,
    Summary,
    TableCounts,
    add_arguments,
    options_from,
    render_summaries,
    run_command,
    run_load,
)
from shared.events import erp
from shared.settings import Settings

SERVICE = "metering"

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS stage_meters (
    meter_number text, service_point_id text, customer_id text, contract_number text,
    address text, signed_on date, terminated boolean, installed_on date) ON COMMIT DELETE ROWS;
-- what the anti-join looks up (joins go by index: shared/bulk/load.py)
CREATE INDEX IF NOT EXISTS stage_meters_key ON stage_meters (contract_number, meter_number);
"""
STAGE_COLUMNS = (
    "meter_number",
    "service_point_id",
    "customer_id",
    "contract_number",
    "address",
    "signed_on",
    "terminated",
    "installed_on",
)


def contract_rows(batch: list[erp.ContractUpserted]) -> Staged:
    meters: dict[str, tuple] = {}
    for c in batch:
        for sp in c.service_points:
            earlier = meters.get(sp.meter_number)
            # Within the chunk as between messages: an older contract keeps no meter from a
            # newer one.
            if earlier is not None and earlier[3] != c.contract_number and earlier[5] > c.signed_on:
                continue
            meters.pop(sp.meter_number, None)
            meters[sp.meter_number] = (
                sp.meter_number,
                sp.service_point_id,
                c.customer_id,
                c.contract_number,
                sp.address.model_dump_json(),
                c.signed_on,
                c.status == "terminated",
                c.signed_on,
            )
    return {"stage_meters": (STAGE_COLUMNS, list(meters.values()))}


async def apply_contracts(conn: asyncpg.Connection, ctx: Context) -> Counts:
    """repository.apply_contract for a chunk of contracts, as one set against the meters as
    they were before the chunk: a meter replaced on its service point counts from today, one
    no longer listed is taken off today, a meter passing to another contract counts from that
    contract's day, an older contract does not take a meter from a newer one, and a terminated
    contract's meters come off today (or keep the day they came off)."""
    today = ctx.today
    # A service point whose active meter is another one: the meter was exchanged today.
    await conn.execute(
        """UPDATE stage_meters s SET installed_on = $1
            WHERE EXISTS (SELECT 1 FROM meters m
                           WHERE m.service_point_id = s.service_point_id
                             AND m.removed_on IS NULL AND m.meter_number <> s.meter_number)""",
        today,
    )
    removed = await conn.execute(
        """WITH stage_contracts AS (SELECT DISTINCT contract_number FROM stage_meters),
                candidates AS (
               SELECT m.meter_number, s.contract_number
                 FROM stage_contracts s JOIN meters m ON m.contract_number = s.contract_number
                WHERE m.removed_on IS NULL
               UNION
               SELECT m.meter_number, s.contract_number
                 FROM stage_meters s JOIN meters m ON m.service_point_id = s.service_point_id
                WHERE m.removed_on IS NULL)
           UPDATE meters SET removed_on = $1 FROM candidates c
            WHERE meters.meter_number = c.meter_number AND meters.removed_on IS NULL
              AND NOT EXISTS (SELECT 1 FROM stage_meters x
                               WHERE x.contract_number = c.contract_number
                                 AND x.meter_number = c.meter_number)""",
        today,
    )
    row = await conn.fetchrow(
        """WITH w AS (
               INSERT INTO meters AS t (meter_number, service_point_id, customer_id,
                                        contract_number, address, contract_signed_on,
                                        installed_on, removed_on)
               SELECT meter_number, service_point_id, customer_id, contract_number,
                      address::jsonb, signed_on, installed_on,
                      CASE WHEN terminated THEN $1::date END
                 FROM stage_meters
               ON CONFLICT (meter_number) DO UPDATE SET
                   service_point_id = EXCLUDED.service_point_id,
                   customer_id = EXCLUDED.customer_id,
                   contract_number = EXCLUDED.contract_number, address = EXCLUDED.address,
                   contract_signed_on = EXCLUDED.contract_signed_on,
                   installed_on = CASE WHEN t.contract_number = EXCLUDED.contract_number
                                       THEN t.installed_on ELSE EXCLUDED.installed_on END,
                   removed_on = CASE WHEN EXCLUDED.removed_on IS NOT NULL
                                     THEN coalesce(t.removed_on, EXCLUDED.removed_on) END
               WHERE (t.contract_number = EXCLUDED.contract_number
                      OR t.contract_signed_on <= EXCLUDED.contract_signed_on)
                 AND (t.service_point_id, t.customer_id, t.contract_number, t.address,
                      t.contract_signed_on, t.installed_on, t.removed_on)
                     IS DISTINCT FROM
                     (EXCLUDED.service_point_id, EXCLUDED.customer_id, EXCLUDED.contract_number,
                      EXCLUDED.address, EXCLUDED.contract_signed_on,
                      CASE WHEN t.contract_number = EXCLUDED.contract_number
                           THEN t.installed_on ELSE EXCLUDED.installed_on END,
                      CASE WHEN EXCLUDED.removed_on IS NOT NULL
                           THEN coalesce(t.removed_on, EXCLUDED.removed_on) END)
               RETURNING (xmax = 0) AS inserted)
           SELECT count(*) FILTER (WHERE inserted) AS inserted,
                  count(*) FILTER (WHERE NOT inserted) AS updated FROM w""",
        today,
    )
    return {
        "meters": TableCounts(
            inserted=row["inserted"], updated=row["updated"] + int(removed.split()[-1])
        )
    }


SOURCES = (
    Source(
        "contracts.jsonl",
        erp.ContractUpserted,
        lambda c: c.contract_number,
        contract_rows,
        apply_contracts,
        None,
    ),
)
TABLES = ("meters",)


async def load(settings: Settings, directory: Path, options: Options | None = None) -> Summary:
    """Load metering's meters from the contracts of the export in `directory`, ANALYZE."""
    return await run_load(
        settings,
        SERVICE,
        directory,
        SOURCES,
        staging=STAGING,
        analyze=TABLES,
        options=options or Options(),
    )


async def _main(settings: Settings) -> tuple[int, str]:
    parser = argparse.ArgumentParser(description="Metering's first load from the ERP's export.")
    add_arguments(parser)
    args: Any = parser.parse_args()
    summary = await load(settings, args.directory, options_from(args, SERVICE))
    return render_summaries([summary], as_json=args.json)


if __name__ == "__main__":
    run_command(_main)
