"""Metering's message handlers: contracts say where meters are; the reading system feeds
readings, one at a time or in batches of thousands."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from pydantic import ValidationError

from services.metering import repository
from shared.envelope import Envelope
from shared.events import billing, metering, reading
from shared.logs import get_logger
from shared.messaging.consumer import REASON_HEADER, describe_validation_error
from shared.messaging.outbox import add_to_outbox
from shared.settings import Settings

log = get_logger(__name__)

PRODUCER = "metering"


@dataclass(frozen=True)
class MeteringHandlers:
    settings: Settings
    readings_queue: str

    async def contract_upserted(
        self, conn: asyncpg.Connection, _env: Envelope, c: billing.ContractChanged
    ) -> None:
        await repository.apply_contract(conn, c, self.settings.today())

    async def reading_recorded(
        self, conn: asyncpg.Connection, _env: Envelope, r: reading.ReadingRecorded
    ) -> None:
        await repository.insert_readings(conn, [r.meter_number], [r.read_at], [r.value], [r.source])

    async def batch_recorded(
        self, conn: asyncpg.Connection, env: Envelope, batch: reading.ReadingBatchRecorded
    ) -> None:
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
        stored = await repository.insert_readings(conn, meters, moments, values, sources)
        if rejected:
            summary = (
                f"{len(rejected)} of {len(batch.readings)} readings malformed; first: "
                f"#{rejected[0].index}: {rejected[0].reason}"
            )
            await add_to_outbox(
                conn,
                "metering.readings.rejected",
                metering.ReadingsRejected(source_message_id=env.id, rejected=rejected),
                PRODUCER,
                "dead-letter",
                routing_key=self.readings_queue,
                headers={REASON_HEADER: summary[:4000], "x-ebok-queue": self.readings_queue},
            )
        log.info(
            "reading batch stored",
            readings=len(batch.readings),
            new=stored,
            duplicates=len(meters) - stored,
            rejected=len(rejected),
        )

    def contract_handlers(self) -> dict:
        return {"billing.contract.upserted": self.contract_upserted}

    def feed_handlers(self) -> dict:
        return {
            "reading.recorded": self.reading_recorded,
            "reading.batch.recorded": self.batch_recorded,
        }
