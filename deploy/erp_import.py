"""The first load of a utility: every service's importer over one ERP export (docs/bulk-load.md).

    python -m deploy.erp_import <export-dir> [--restart] [--only billing,metering] [--json]

Each service loads its own tables (services/<name>/bulk_load.py, also runnable alone, each with
its own database credentials); this runs billing, identity and metering one after the other, or
with `--parallel` each in a process of its own at the same time.
Exit status 0: every line loaded; 3: some lines were rejected (see rejects-<service>.jsonl),
everything else loaded; 1: the load failed (run it again to go on from its last checkpoint);
2: the command line was wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from services.billing import bulk_load as billing
from services.identity import bulk_load as identity
from services.metering import bulk_load as metering
from shared.bulk.load import (
    REJECTED,
    Options,
    Summary,
    add_arguments,
    options_from,
    render_summaries,
    run_command,
)
from shared.settings import Settings

LOADERS = {"billing": billing.load, "identity": identity.load, "metering": metering.load}


async def load_all(
    settings: Settings,
    directory: Path,
    options: Options | None = None,
    *,
    services: list[str] | None = None,
    options_for: dict[str, Options] | None = None,
) -> list[Summary]:
    """Load each service's tables from the export in `directory`, one service after another."""
    summaries = []
    for service in services or list(LOADERS):
        chosen = (options_for or {}).get(service, options or Options())
        summaries.append(await LOADERS[service](settings, directory, chosen))
    return summaries


async def _main(settings: Settings) -> tuple[int, str]:
    parser = argparse.ArgumentParser(description="The first load of a utility from its ERP export.")
    add_arguments(parser)
    parser.add_argument(
        "--only",
        default=",".join(LOADERS),
        help="the services to load, separated by commas (default: all)",
    )
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="run each service's importer in a process of its own, all at once",
    )
    args: Any = parser.parse_args()
    services = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(services) - set(LOADERS))
    if unknown:
        parser.error(f"unknown services: {', '.join(unknown)}")
    if args.parallel:
        return await _in_processes(args, services)
    summaries = await load_all(
        settings,
        args.directory,
        services=services,
        options_for={s: options_from(args, s) for s in services},
    )
    return render_summaries(summaries, as_json=args.json)


async def _in_processes(args: Any, services: list[str]) -> tuple[int, str]:
    """Each importer as `python -m services.<name>.bulk_load`, at once; their progress goes
    to our standard error as they write it, their summaries to our standard output in order."""
    flags = ["--chunk-lines", str(args.chunk_lines), "--json"]
    flags += ["--parse-processes", str(args.parse_processes)]
    flags += ["--restart"] if args.restart else []
    flags += ["--rejects-dir", str(args.rejects_dir)] if args.rejects_dir else []
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"services.{service}.bulk_load",
            str(args.directory),
            *flags,
            stdout=asyncio.subprocess.PIPE,
        )
        for service in services
    ]
    outputs = await asyncio.gather(*(child.communicate() for child in children))
    summaries = [item for out, _ in outputs for item in json.loads(out or b"[]")]
    lines = [json.dumps(summaries, indent=2)] if args.json else []
    for s in [] if args.json else summaries:
        lines.append(f"{s['service']}: {s['seconds']:.0f} s, {s['rejected']:,} rejected")
        for p in s["phases"]:
            lines.append(
                f"  {p['phase']}: {p['state']}, {p['lines']:,} lines ({p['seconds']:.0f} s)"
            )
            lines += [
                f"    {table}: {c['inserted']:,} inserted, {c['updated']:,} updated, "
                f"{c['deleted']:,} deleted"
                for table, c in p["tables"].items()
            ]
    codes = [child.returncode for child in children]
    code = 1 if any(c not in (0, REJECTED) for c in codes) else REJECTED if REJECTED in codes else 0
    return code, "\n".join(lines)


if __name__ == "__main__":
    run_command(_main)
