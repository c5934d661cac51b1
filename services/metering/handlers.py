"""Metering's message handlers: contracts say where meters are; the reading system feeds
readings, one at a time or in batches of thousands."""

from __future__ import annotations

from pydantic import ValidationError

from services.metering import repository
from shared.envelope import Envelope
from shared.events import billing, metering, reading
from shared.logs import get_logger
from shared.messaging.consumer import Subscription, describe_validation_error
from shared.tx import Tx

log = get_logger(__name__)


async def contract_upserted(tx: Tx, _env: Envelope, c: billing.ContractChanged) -> None:
    await repository.apply_contract(tx.conn, c, tx.today())


async def reading_recorded(tx: Tx, _env: Envelope, r: reading.ReadingRecorded) -> None:
    await repository.insert_readings(tx.conn, [r.meter_number], [r.read_at], [r.value], [r.source])


async def batch_recorded(tx: Tx, env: Envelope, batch: reading.ReadingBatchRecorded) -> None:
    """Store the well-formed readings in one statement; dead-letter the rest, with reasons,
    in the same transaction (through the outbox), so neither half can be lost."""
    meters, moments, values, sources = [], [], [], []
    rejected: list[metering.RejectedReading] = []
    validate = reading.ReadingRecorded.model_validate
    for index, raw in enumerate(batch.readings):
        try:
            item = validate(raw)
        except ValidationError as exc:
            rejected.append(
                metering.RejectedReading(
                    index=index, reading=raw, reason=describe_validation_error(exc)
                )
            )
            continue
        meters.append(item.meter_number)
        moments.append(item.read_at)
        values.append(item.value)
        sources.append(item.source)
    stored = await repository.insert_readings(tx.conn, meters, moments, values, sources)
    if rejected:
        await tx.dead_letter(
            metering.ReadingsRejected(source_message_id=env.id, rejected=rejected),
            f"{len(rejected)} of {len(batch.readings)} readings malformed; first: "
            f"#{rejected[0].index}: {rejected[0].reason}",
        )
    log.info(
        "reading batch stored",
        readings=len(batch.readings),
        new=stored,
        duplicates=len(meters) - stored,
        rejected=len(rejected),
    )


SUBSCRIPTIONS = (
    Subscription("contracts", {billing.ContractChanged: contract_upserted}, in_order=True),
    Subscription(
        "readings",
        {reading.ReadingRecorded: reading_recorded, reading.ReadingBatchRecorded: batch_recorded},
    ),
)
