"""RabbitMQ users and permissions: one user for each service and each outside system, allowed
only what it uses (RabbitMQ permissions are three regular expressions on resource names per
virtual host: configure — declare, delete; write — publish to an exchange, bind a queue; read —
consume a queue, bind from an exchange).

    python -m deploy.rabbitmq [--namespace ebok] [--check]

writes deploy/rabbitmq-definitions.json (for `rabbitmqctl import_definitions`): the users, with
no password (none can log in until `rabbitmqctl change_password <user> …` gives one), and their
permissions on the default virtual host. docs/operations.md has the steps.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.services import SERVICES

DEFINITIONS = Path(__file__).with_name("rabbitmq-definitions.json")
VHOST = "/"
EXCHANGES = ("events", "integration", "dead-letter")
# The facts a service keeps for outside systems on durable `<ns>.backoffice.<fact>` queues (the
# `outbound` of its service_app; tests/unit/test_rabbitmq_permissions.py checks they agree).
OUTBOUND: dict[str, tuple[str, ...]] = {
    "billing": ("online-payments", "e-invoice"),
    "correspondence": ("cases", "case-messages"),
    "identity": ("manager-decisions", "manager-grants"),
    "metering": ("self-readings",),
}


@dataclass(frozen=True)
class Permissions:
    configure: str
    write: str
    read: str


def _alternatives(names: list[str]) -> str:
    return "^(" + "|".join(names) + ")$" if names else "^$"


def service_permissions(namespace: str, service: str) -> Permissions:
    """A service declares the exchanges and its own queues (and its outbound ones), publishes
    to the exchanges and, for retries, to the default exchange, and consumes its own queues. It
    declares the journal stream and binds it like its queues (shared/messaging/journal.py), but
    does not read it: only the operator's replay does."""
    ns = re.escape(namespace)
    exchanges = [f"{ns}\\.{name}" for name in EXCHANGES]
    own = [f"{ns}\\.{re.escape(service)}\\..+"]
    outbound = [f"{ns}\\.backoffice\\.{re.escape(fact)}" for fact in OUTBOUND.get(service, ())]
    journal = [f"{ns}\\.journal"]
    return Permissions(
        configure=_alternatives(exchanges + own + outbound + journal),
        write=_alternatives(["amq\\.default", *exchanges, *own, *outbound, *journal]),
        read=_alternatives(exchanges + own),
    )


def outside_permissions(namespace: str) -> dict[str, Permissions]:
    """The utility's other systems: the ERP and the reading system publish their feeds to the
    integration exchange; the back office reads the facts e-BOK keeps for it."""
    ns = re.escape(namespace)
    feed = Permissions(configure="^$", write=f"^{ns}\\.integration$", read="^$")
    facts = [
        f"{ns}\\.backoffice\\.{re.escape(fact)}" for facts in OUTBOUND.values() for fact in facts
    ]
    return {
        "erp": feed,
        "reading-system": feed,
        "backoffice": Permissions(configure="^$", write="^$", read=_alternatives(facts)),
    }


def users(namespace: str) -> dict[str, Permissions]:
    """User name (`<namespace>-<who>`) → permissions."""
    found = {
        f"{namespace}-{s.name}": service_permissions(namespace, s.name)
        for s in SERVICES
        if s.name != "gateway"  # the gateway speaks HTTP only
    }
    found.update({f"{namespace}-{who}": p for who, p in outside_permissions(namespace).items()})
    return found


def definitions(namespace: str) -> dict[str, object]:
    entries = users(namespace)
    return {
        "users": [
            {
                "name": name,
                "password_hash": "",
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
            for name in entries
        ],
        "permissions": [{"user": name, "vhost": VHOST, **vars(p)} for name, p in entries.items()],
    }


def render(namespace: str) -> str:
    return json.dumps(definitions(namespace), indent=2) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="ebok")
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args(argv)
    text = render(args.namespace)
    if args.check:
        if DEFINITIONS.read_text() != text:
            print(f"{DEFINITIONS} is stale: run python -m deploy.rabbitmq", file=sys.stderr)
            return 1
        return 0
    DEFINITIONS.write_text(text)
    print(f"wrote {DEFINITIONS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
