"""Run one service's database migrations and exit, as the service does when it starts.

    python -m deploy.migrate <service>

Configured by the same `EBOK_` variables as the service (EBOK_DATABASE_URL names the
provisioning role, EBOK_DATABASE_APP_PASSWORD the runtime role's password). On Kubernetes it is
each pod's init container (deploy/k8s), so a migration that fails stops the new pod before it
serves, with the error in the init container's log, while the previous release keeps serving.
Several pods may run it at once: the migrations are applied under an advisory lock, once.
"""

from __future__ import annotations

import asyncio
import sys

from shared.db import migrate, migration_components
from shared.logs import configure_logging, get_logger
from shared.services import SERVICES
from shared.settings import Settings

log = get_logger(__name__)

USAGE = "usage: python -m deploy.migrate <service>"


async def run(settings: Settings, service: str) -> dict[str, list[str]]:
    return await migrate(settings, service, migration_components(service))


def main(argv: list[str]) -> int:
    with_database = [s.name for s in SERVICES if s.owns_database]
    if len(argv) != 1 or argv[0] not in with_database:
        print(f"{USAGE} (one of: {', '.join(with_database)})", file=sys.stderr)
        return 2
    service = argv[0]
    try:
        settings = Settings()
    except ValueError as exc:
        print(f"{service}: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(service, settings.log_level, settings.log_format)
    applied = asyncio.run(run(settings, service))
    log.info(
        "migrations applied",
        database=settings.database_name(service),
        applied={component: files for component, files in applied.items() if files},
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
