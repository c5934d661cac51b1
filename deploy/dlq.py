"""Look at dead-lettered messages, and replay or discard them, audited.

    python -m deploy.dlq list                      every dead-letter queue and its depth
    python -m deploy.dlq list QUEUE [--json]       its messages: id, age, routing key, size, reason
    python -m deploy.dlq show QUEUE MESSAGE_ID     one message: properties, headers, body
    python -m deploy.dlq replay QUEUE (MESSAGE_ID... | --all) [--reason-contains TEXT]
                         --operator NAME [--dry-run]
    python -m deploy.dlq discard QUEUE (MESSAGE_ID... | --all) [--reason-contains TEXT]
                         --operator NAME [--dry-run]

QUEUE is `<ns>.<service>.<purpose>.dlq`, or `<service>.<purpose>` for short. The broker and the
databases are EBOK_AMQP_URL and EBOK_DATABASE_URL with EBOK_DATABASE_APP_PASSWORD, as the
services have them; the namespace is EBOK_NAMESPACE (or --namespace).

A replay publishes each selected message to its original queue (x-ebok-queue) through the
default exchange with its id, body and headers, waits for the broker's confirm, records the
replay in the owning service's database (dead_letter_audit) and only then acknowledges the dead
letter; the consumer's inbox makes a message that comes twice a no-op. A discard records, then
acknowledges. Messages are never shown decrypted: sealed values stay sealed, and a field named
like a secret that is not sealed is shown as [redacted].

Exit status 0: done; 1: the queue, broker or database is not there, or the broker refused a copy
(what was done before stays done, and is audited); 2: the command line was wrong; 3: some
message ids were not in the queue (the others were acted on).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from deploy.dead_letter_audit import audit_in
from deploy.dead_letters import (
    Action,
    DeadLetterError,
    DeadLetterQueue,
    Letter,
    Outcome,
    Selection,
    browse,
    connected,
    depth,
    known_queues,
    settle,
)
from shared.logs import configure_logging
from shared.messaging.consumer import describe_validation_error
from shared.sealing import PREFIX as SEALED_PREFIX
from shared.settings import Settings

NOT_FOUND = 3
OPERATOR_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,99}$")
# A field named like a secret: "pan" and "card" only as words of a name (not "company").
_SECRET_NAME = re.compile(r"password|token|secret|cvv|(^|_)(card|pan)(_|$)", re.IGNORECASE)


def queue_of(text: str, namespace: str) -> DeadLetterQueue:
    """The queue named in full, or as `<service>.<purpose>`."""
    name = text if text.startswith(f"{namespace}.") else f"{namespace}.{text}"
    if not name.endswith(".dlq"):
        name += ".dlq"
    return DeadLetterQueue.parse(name, namespace)


def redacted(value: Any, name: str = "") -> Any:
    """`value` with every string under a secret-looking name that is not sealed replaced."""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, name) for v in value]
    if isinstance(value, str) and _SECRET_NAME.search(name) and not value.startswith(SEALED_PREFIX):
        return "[redacted]"
    return value


def readable_body(body: bytes) -> Any:
    try:
        return redacted(orjson.loads(body))
    except orjson.JSONDecodeError:
        return f"(not JSON, {len(body)} bytes)"


def age_text(age: timedelta | None) -> str:
    if age is None:
        return "?"
    seconds = max(int(age.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{seconds}s"


def letter_summary(letter: Letter, now: datetime) -> dict[str, Any]:
    return {
        "message_id": letter.message_id,
        "reason": letter.reason,
        "routing_key": letter.routing_key,
        "original_queue": letter.origin,
        "dead_lettered_at": letter.dead_lettered_at.isoformat()
        if letter.dead_lettered_at
        else None,
        "age_seconds": int(a.total_seconds()) if (a := letter.age(now)) is not None else None,
        "size": letter.size,
        "envelopes": letter.envelopes,
        "deliveries": letter.deliveries,
    }


def print_letters(queue: DeadLetterQueue, letters: list[Letter], as_json: bool) -> None:
    now = datetime.now(UTC)
    if as_json:
        print(json.dumps([letter_summary(x, now) for x in letters], indent=2))
        return
    print(f"{queue.name}: {len(letters)} message(s)")
    for x in letters:
        when = x.dead_lettered_at.strftime("%Y-%m-%d %H:%M:%S") if x.dead_lettered_at else "?"
        packed = f" ({x.envelopes} envelopes)" if x.envelopes > 1 else ""
        if x.deliveries:
            packed += f" (taken {x.deliveries}x)"
        print(
            f"  {x.id}  {when} ({age_text(x.age(now))} ago)  {x.routing_key or '-'}  "
            f"{x.size} B{packed}\n    reason: {x.reason[:300]}"
        )


def print_letter(letter: Letter) -> None:
    headers = {
        k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
        for k, v in letter.headers.items()
    }
    shown = {
        "queue": letter.queue,
        "message_id": letter.message_id,
        "reason": letter.reason,
        "properties": letter.properties,
        "headers": redacted(headers),
        "body": readable_body(letter.body),
    }
    print(json.dumps(shown, indent=2, ensure_ascii=False, default=str))


def print_outcome(queue: DeadLetterQueue, outcome: Outcome) -> None:
    verb = {"replayed": "replay", "discarded": "discard"}[outcome.action]
    if outcome.dry_run:
        print(f"dry run: would {verb} {len(outcome.acted)} message(s) of {queue.name}")
    else:
        print(f"{outcome.action} {len(outcome.acted)} message(s) of {queue.name}")
    for x in outcome.acted:
        print(f"  {x.id}  {x.routing_key or '-'}  {x.reason[:120]}")
    for missing in outcome.missing:
        print(f"no such message in {queue.name}: {missing}", file=sys.stderr)


async def list_queues(settings: Settings) -> int:
    async with connected(settings.amqp_url) as connection:
        total = 0
        for queue in known_queues(settings.namespace):
            count = await depth(connection, queue.name)
            total += count or 0
            print(f"{queue.name:60} {'(not declared)' if count is None else count:>8}")
        print(f"{'total':60} {total:>8}")
    return 0


async def list_letters(
    settings: Settings, queue: DeadLetterQueue, limit: int | None, as_json: bool
) -> int:
    async with connected(settings.amqp_url) as connection:
        print_letters(queue, await browse(connection, queue, limit), as_json)
    return 0


async def show_letter(settings: Settings, queue: DeadLetterQueue, message_id: str) -> int:
    async with connected(settings.amqp_url) as connection:
        letters = await browse(connection, queue)
    found = [x for x in letters if x.id == message_id]
    if not found:
        print(f"no such message in {queue.name}: {message_id}", file=sys.stderr)
        return NOT_FOUND
    for letter in found:
        print_letter(letter)
    return 0


async def act(
    settings: Settings,
    queue: DeadLetterQueue,
    selection: Selection,
    action: Action,
    operator: str,
    dry_run: bool,
) -> int:
    async with (
        audit_in(settings, queue.service, operator) as audit,
        connected(settings.amqp_url) as connection,
    ):
        outcome = await settle(
            connection, queue, selection, action, audit.record, operator=operator, dry_run=dry_run
        )
    print_outcome(queue, outcome)
    return NOT_FOUND if outcome.missing else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m deploy.dlq", description=__doc__.split("\n\n")[0]
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--namespace", help="default: EBOK_NAMESPACE")
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser(
        "list", parents=[common], help="dead-letter queues, or one queue's messages"
    )
    listing.add_argument("queue", nargs="?")
    listing.add_argument("--limit", type=int, help="at most this many messages")
    listing.add_argument("--json", action="store_true", help="one JSON array of messages")
    show = commands.add_parser(
        "show", parents=[common], help="one message: properties, headers and body"
    )
    show.add_argument("queue")
    show.add_argument("message_id")
    for name in ("replay", "discard"):
        command = commands.add_parser(
            name, parents=[common], help=f"{name} the selected messages, audited"
        )
        command.add_argument("queue")
        command.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID")
        command.add_argument("--all", action="store_true", help="every message of the queue")
        command.add_argument("--reason-contains", help="only messages whose reason has this text")
        command.add_argument("--operator", required=True, help="who does it (for the audit)")
        command.add_argument("--dry-run", action="store_true", help="say what, do nothing")
    return root


async def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "list" and args.queue is None:
        return await list_queues(settings)
    queue = queue_of(args.queue, settings.namespace)
    if args.command == "list":
        return await list_letters(settings, queue, args.limit, args.json)
    if args.command == "show":
        return await show_letter(settings, queue, args.message_id)
    selection = Selection(
        message_ids=frozenset(args.message_ids),
        everything=args.all,
        reason_contains=args.reason_contains,
    )
    action: Action = "replayed" if args.command == "replay" else "discarded"
    return await act(settings, queue, selection, action, args.operator.strip(), args.dry_run)


def main(argv: Sequence[str] | None = None) -> int:
    root = parser()
    args = root.parse_args(argv)
    if args.command in ("replay", "discard"):
        if not OPERATOR_PATTERN.fullmatch(args.operator.strip()):
            root.error("--operator: 2-100 letters, digits, '.', '_', '@' or '-'")
        if not (args.message_ids or args.all or args.reason_contains):
            root.error("select messages: MESSAGE_ID..., --all or --reason-contains")
        if args.message_ids and args.all:
            root.error("either MESSAGE_ID... or --all, not both")
    try:
        settings = Settings(namespace=args.namespace) if args.namespace else Settings()
    except ValidationError as exc:
        root.error(f"settings: {describe_validation_error(exc)}")
    configure_logging("dlq", settings.log_level, settings.log_format)
    try:
        return asyncio.run(run(args, settings))
    except DeadLetterError as exc:
        print(f"dlq: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
