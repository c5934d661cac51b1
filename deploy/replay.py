"""Give a service again, from the journal, the messages its consumer queues took since a time:
after its database was restored to an earlier point (docs/operations.md, "Restore a service's
database and replay from the broker").

    python -m deploy.replay --service billing --since 2026-11-26T08:00:00Z \\
        [--until 2026-11-26T09:00:00Z] [--dry-run] --operator jkowalska

Reads the journal stream `<ns>.journal` (shared/messaging/journal.py) from `--since` (the time the
broker wrote the messages, to the second; a few messages written just before it may come too),
picks the messages whose exchange and routing key the service's consumer queues are bound to,
and publishes each, as it is (body, message id, content type and headers: a packed message stays
one message), to the queue(s) it reached then, through the default exchange, with publisher
confirms. The service's inbox skips every message its restored database has handled already, so
only what the restore lost is applied. Reading stops at the journal's end as it was when the
replay began (a marker it writes there), or at messages that occurred after `--until`. Run with
the service's EBOK_* settings (namespace, broker and database URLs); the broker user must read the
journal and write to the default exchange (an operator's user, not a service's).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aio_pika
import aiormq
import orjson
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from pydantic import ValidationError

from deploy.dead_letters import REPLAYED_AT_HEADER, DeadLetterError, connected
from deploy.dlq import OPERATOR_PATTERN
from shared.events.common import ExchangeName
from shared.logs import configure_logging, get_logger
from shared.messaging.broker import PUBLISH_ERRORS, republished
from shared.messaging.consumer import describe_validation_error
from shared.messaging.journal import MARKER_TYPE, routed_to
from shared.messaging.packing import ENVELOPES_CONTENT_TYPE
from shared.messaging.topology import Names
from shared.runtime import subscriptions_of
from shared.services import SERVICES
from shared.settings import Settings

log = get_logger(__name__)

# Messages read from the journal ahead (a stream consumer must have a prefetch and ack), and
# published before their confirms are awaited together.
PREFETCH = 500
WINDOW = 200
# The journal sends nothing for this long although its end marker has not come: give up.
IDLE_SECONDS = 60.0
PROGRESS_SECONDS = 5.0


class ReplayError(Exception):
    """Refused or failed; the message says why and what to do."""


@dataclass
class Summary:
    service: str
    since: datetime
    until: datetime | None
    dry_run: bool
    read: int = 0
    published: int = 0
    envelopes: int = 0
    after_until: int = 0
    by_queue: Counter[str] = field(default_factory=Counter)
    by_routing_key: Counter[str] = field(default_factory=Counter)
    first_offset: int | None = None
    last_offset: int | None = None
    seconds: float = 0.0

    def lines(self) -> list[str]:
        verb = "would publish" if self.dry_run else "published"
        found = [
            f"replay of {self.service} from {self.since.isoformat()}"
            + (f" until {self.until.isoformat()}" if self.until else "")
            + (" (dry run: nothing published)" if self.dry_run else ""),
            f"journal: {self.read} messages read"
            + (
                f" (offsets {self.first_offset}..{self.last_offset})"
                if self.first_offset is not None
                else ""
            ),
            f"{verb}: {self.published} messages ({self.envelopes} envelopes)"
            f" in {self.seconds:.1f} s",
        ]
        found += [f"  {queue}: {n}" for queue, n in sorted(self.by_queue.items())]
        found += [f"  {key}: {n}" for key, n in sorted(self.by_routing_key.items())]
        if self.after_until:
            found.append(f"left out (occurred after --until): {self.after_until}")
        return found


def consumer_queues(settings: Settings, service: str) -> dict[str, list[tuple[ExchangeName, str]]]:
    """The service's consumer queues and their bindings (shared/runtime.py subscriptions_of)."""
    if service not in {s.name for s in SERVICES}:
        raise ReplayError(f"no service {service!r}; one of {', '.join(s.name for s in SERVICES)}")
    names = Names(settings.namespace)
    queues = {names.queue(service, s.purpose): s.bindings for s in subscriptions_of(service)}
    if not queues:
        raise ReplayError(f"{service} consumes no queue: nothing to replay")
    return queues


def check_window(settings: Settings, since: datetime, until: datetime | None) -> None:
    """Refuse a window the inbox cannot make safe: a message handled before the inbox's
    retention is forgotten there, and would be applied twice."""
    now = datetime.now(UTC)
    oldest = now - timedelta(days=settings.inbox_retention_days)
    if since < oldest:
        raise ReplayError(
            f"--since {since.isoformat()} is older than the inbox keeps handled messages "
            f"(EBOK_INBOX_RETENTION_DAYS={settings.inbox_retention_days}: {oldest.isoformat()}); "
            "messages from before that could be applied twice"
        )
    if since > now:
        raise ReplayError(f"--since {since.isoformat()} is in the future")
    if until is not None and until <= since:
        raise ReplayError("--until must be later than --since")


def occurred_at(message: AbstractIncomingMessage) -> datetime | None:
    """When the message's (first) envelope occurred, if its body says so."""
    try:
        body = orjson.loads(message.body)
        envelope = body[0] if message.content_type == ENVELOPES_CONTENT_TYPE else body
        return datetime.fromisoformat(envelope["occurred_at"])
    except (orjson.JSONDecodeError, LookupError, TypeError, ValueError):
        return None


def envelope_count(message: AbstractIncomingMessage) -> int:
    if message.content_type != ENVELOPES_CONTENT_TYPE:
        return 1
    try:
        return len(orjson.loads(message.body))
    except (orjson.JSONDecodeError, TypeError):
        return 1


def replayed_copy(message: AbstractIncomingMessage, operator: str, at: str) -> aio_pika.Message:
    """The message as it was published (the stream's offset header left out), saying who
    replayed it and when."""
    headers = {k: v for k, v in (message.headers or {}).items() if k != "x-stream-offset"}
    headers.update({"x-ebok-replayed-by": operator, REPLAYED_AT_HEADER: at})
    return republished(message, headers)


async def replay(
    settings: Settings,
    service: str,
    since: datetime,
    *,
    operator: str,
    until: datetime | None = None,
    dry_run: bool = False,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    check_window(settings, since, until)
    queues = consumer_queues(settings, service)
    names = Names(settings.namespace)
    summary = Summary(service, since, until, dry_run)
    started = time.monotonic()
    log.info(
        "replay started",
        operator=operator,
        service=service,
        since=since.isoformat(),
        until=until.isoformat() if until else None,
        dry_run=dry_run,
        queues=sorted(queues),
    )
    async with connected(settings.amqp_url, "ebok-replay-tool") as connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=PREFETCH)
        try:
            journal = await channel.declare_queue(names.journal, passive=True)
        except aiormq.exceptions.ChannelNotFoundEntity:
            raise ReplayError(
                f"no journal {names.journal}: EBOK_JOURNAL was off, or no service has started "
                "since it was turned on; nothing can be replayed from the broker"
            ) from None
        marker = await write_end_marker(channel, names)
        await read_journal(
            channel, journal, names, queues, marker, operator, summary, progress, started
        )
    summary.seconds = time.monotonic() - started
    log.info(
        "replay finished",
        operator=operator,
        service=service,
        dry_run=dry_run,
        read=summary.read,
        published=summary.published,
        envelopes=summary.envelopes,
        by_queue=dict(summary.by_queue),
        seconds=round(summary.seconds, 1),
    )
    return summary


async def write_end_marker(channel: AbstractChannel, names: Names) -> str:
    """Append a marker to the journal: reading stops there, at the end as it is now (a stream
    never ends, and what is written during the replay reaches the service's queues anyway)."""
    marker = str(uuid.uuid4())
    await channel.default_exchange.publish(
        aio_pika.Message(b"{}", message_id=marker, type=MARKER_TYPE),
        routing_key=names.journal,
        mandatory=True,
    )
    return marker


async def read_journal(
    channel: AbstractChannel,
    journal: aio_pika.abc.AbstractQueue,
    names: Names,
    queues: dict[str, list[tuple[ExchangeName, str]]],
    marker: str,
    operator: str,
    summary: Summary,
    progress: Callable[[Summary], None] | None,
    started: float,
) -> None:
    at = datetime.now(UTC).isoformat()
    pending: list[tuple[str, aio_pika.Message]] = []
    unacked: list[AbstractIncomingMessage] = []
    reported = started

    async def flush() -> None:
        # Publish with confirms first, then ack what was read (which only gives the journal
        # credit for more: a stream removes nothing on ack). Confirmed: the queue has it.
        if pending and not summary.dry_run:
            await asyncio.gather(
                *(channel.default_exchange.publish(m, routing_key=q) for q, m in pending)
            )
        pending.clear()
        if unacked:
            await unacked[-1].ack(multiple=True)
            unacked.clear()

    arrived: asyncio.Queue[AbstractIncomingMessage] = asyncio.Queue()
    tag = await journal.consume(arrived.put, arguments={"x-stream-offset": summary.since})
    try:
        while True:
            try:
                message = await asyncio.wait_for(arrived.get(), IDLE_SECONDS)
            except TimeoutError:
                await flush()
                raise ReplayError(
                    f"the journal sent nothing for {IDLE_SECONDS:.0f} s before its end marker; "
                    f"{summary.published} messages were published up to offset "
                    f"{summary.last_offset} (run again: the inbox skips what was replayed)"
                ) from None
            unacked.append(message)
            if message.message_id == marker:
                break
            take(message, names, queues, operator, at, summary, pending)
            if len(unacked) >= WINDOW:
                await flush()
            if time.monotonic() - reported > PROGRESS_SECONDS:
                reported = time.monotonic()
                log.info(
                    "replay progress",
                    service=summary.service,
                    read=summary.read,
                    published=summary.published,
                    offset=summary.last_offset,
                )
                if progress is not None:
                    progress(summary)
        await flush()
    finally:
        await journal.cancel(tag)


def take(
    message: AbstractIncomingMessage,
    names: Names,
    queues: dict[str, list[tuple[ExchangeName, str]]],
    operator: str,
    at: str,
    summary: Summary,
    pending: list[tuple[str, aio_pika.Message]],
) -> None:
    """Count one message of the journal and, if the service's queues take it, queue its copy
    for each of them."""
    offset = (message.headers or {}).get("x-stream-offset")
    summary.read += 1
    if isinstance(offset, int):
        summary.first_offset = offset if summary.first_offset is None else summary.first_offset
        summary.last_offset = offset
    if message.type == MARKER_TYPE:
        return  # an earlier replay's
    targets = routed_to(names, queues, message.exchange or "", message.routing_key or "")
    if not targets:
        return
    if summary.until is not None:
        occurred = occurred_at(message)
        if occurred is not None and occurred > summary.until:
            summary.after_until += 1
            return
    copy = replayed_copy(message, operator, at)
    for queue in targets:
        pending.append((queue, copy))
        summary.by_queue[queue] += 1
    summary.published += 1
    summary.envelopes += envelope_count(message)
    summary.by_routing_key[message.routing_key or ""] += 1


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a time zone, e.g. {text}Z or +01:00")
    return value.astimezone(UTC)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--service", required=True, choices=[s.name for s in SERVICES])
    parser.add_argument("--since", required=True, type=parse_time, help="ISO time with zone")
    parser.add_argument("--until", type=parse_time, help="ISO time with zone (default: now)")
    parser.add_argument("--dry-run", action="store_true", help="count, publish nothing")
    parser.add_argument("--operator", required=True, help="who replays (logged)")
    args = parser.parse_args(argv)
    if not OPERATOR_PATTERN.fullmatch(args.operator.strip()):
        parser.error("--operator: 2-100 letters, digits, '.', '_', '@' or '-'")
    try:
        settings = Settings()
    except ValidationError as exc:
        parser.error(f"settings: {describe_validation_error(exc)}")
    configure_logging("replay", settings.log_level, settings.log_format)
    try:
        summary = asyncio.run(
            replay(
                settings,
                args.service,
                args.since,
                operator=args.operator,
                until=args.until,
                dry_run=args.dry_run,
            )
        )
    except (ReplayError, DeadLetterError) as exc:
        print(f"replay: {exc}", file=sys.stderr)
        return 1
    except PUBLISH_ERRORS as exc:
        # What was published before is in the log; a second run is harmless (the inbox skips
        # what arrived).
        print(
            f"replay: stopped, the broker failed ({type(exc).__name__}); run it again",
            file=sys.stderr,
        )
        return 1
    print("\n".join(summary.lines()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
