"""Metering's message handlers against real PostgreSQL, without the broker: meters follow the
contracts, readings are stored once, and a batch's malformed readings are dead-lettered with
their reasons in the transaction that stores the rest."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from services.metering.handlers import SUBSCRIPTIONS
from shared.events import Event, billing, reading
from shared.events.metering import ReadingsRejected
from shared.messaging.topology import QUEUE_HEADER, REASON_HEADER
from tests.support.erp import address, daily_readings
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

SIGNED_ON = date(2023, 5, 1)
# The calendar's two ends (UTC-12 and UTC+14): their dates always differ, so delivering under
# one and then the other is delivering on two different days.
EARLIER_DAY, LATER_DAY = "Etc/GMT+12", "Etc/GMT-14"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def metering(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("metering", infra, keys) as handlers:
        yield handlers


def contract(
    suffix: str, meters: dict[int, str], status: str = "active"
) -> billing.ContractChanged:
    """Service point n of the contract carries meters[n]."""
    return billing.ContractChanged(
        contract_number=f"U-{suffix}",
        customer_id=f"C-{suffix}",
        signed_on=SIGNED_ON,
        status=status,
        service_points=[
            billing.ServicePoint(
                service_point_id=f"SP-{suffix}-{n}", address=address(), meter_number=meter
            )
            for n, meter in meters.items()
        ],
    )


async def meters(
    handlers: ServiceHandlers, suffix: str
) -> dict[str, tuple[str, date, date | None]]:
    """Each meter of the customer: its service point, installed and removed on."""
    rows = await handlers.fetch(
        """SELECT meter_number, service_point_id, installed_on, removed_on FROM meters
            WHERE customer_id = $1""",
        f"C-{suffix}",
    )
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def today(handlers: ServiceHandlers, timezone: str | None = None) -> date:
    settings = handlers.settings
    if timezone is not None:
        settings = settings.model_copy(update={"timezone": timezone})
    return settings.today()


def recorded(meter: str, value: str, day: int = 1) -> reading.ReadingRecorded:
    return reading.ReadingRecorded(
        meter_number=meter,
        read_at=datetime(2026, 3, day, 6, tzinfo=UTC),
        value=Decimal(value),
        source="remote",
    )


async def stored(handlers: ServiceHandlers, meter: str) -> list[tuple[datetime, Decimal, str]]:
    rows = await handlers.fetch(
        "SELECT read_at, value, source FROM readings WHERE meter_number = $1 ORDER BY read_at",
        meter,
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


def batch(readings: list[dict[str, Any]]) -> reading.ReadingBatchRecorded:
    return reading.ReadingBatchRecorded(readings=readings)


def malformed_batch(meter: str) -> tuple[reading.ReadingBatchRecorded, list[dict[str, Any]]]:
    """Five readings; #1 has no value and #3 a negative one."""
    good = daily_readings(meter, date(2026, 3, 1), 3, Decimal("10.000"), Decimal("0.250"))
    no_value = {"meter_number": meter, "read_at": "2026-03-10T06:00:00+00:00", "source": "remote"}
    negative = {**no_value, "value": "-1"}
    return batch([good[0], no_value, good[1], negative, good[2]]), good


CASES: dict[str, Callable[[str], Event]] = {
    billing.ContractChanged.TYPE: lambda s: contract(s, {1: f"M-{s}-1", 2: f"M-{s}-2"}),
    reading.ReadingRecorded.TYPE: lambda s: recorded(f"M-{s}", "12.345"),
    reading.ReadingBatchRecorded.TYPE: lambda s: malformed_batch(f"M-{s}")[0],
}
HANDLED = [model.TYPE for subscription in SUBSCRIPTIONS for model in subscription.handlers]


def test_every_handler_has_a_case() -> None:
    assert sorted(CASES) == sorted(HANDLED)


@pytest.mark.parametrize("event_type", HANDLED)
async def test_a_redelivered_message_changes_nothing(
    metering: ServiceHandlers, event_type: str
) -> None:
    payload = CASES[event_type](secrets.token_hex(4))

    await metering.assert_redelivery_changes_nothing(payload)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(lambda s: contract(s, {1: f"M-{s}-1", 2: f"M-{s}-2"}), id="contract"),
        pytest.param(lambda s: recorded(f"M-{s}", "12.345"), id="reading"),
        pytest.param(
            lambda s: batch(daily_readings(f"M-{s}", date(2026, 3, 1), 5, Decimal(1), Decimal(1))),
            id="batch",
        ),
    ],
)
async def test_the_same_fact_under_a_new_message_id_changes_nothing(
    metering: ServiceHandlers, payload: Callable[[str], Event]
) -> None:
    fact = payload(secrets.token_hex(4))
    await metering.deliver(fact)
    before = await metering.snapshot()

    assert await metering.deliver(fact) == "handled"

    assert await metering.snapshot() == before


# --- meters follow the contracts ---------------------------------------------------------------


async def test_a_contract_installs_its_meters_from_its_signing(metering: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    one, two = f"M-{suffix}-1", f"M-{suffix}-2"
    announced = len(await metering.published())

    assert await metering.deliver(contract(suffix, {1: one, 2: two})) == "handled"

    assert await meters(metering, suffix) == {
        one: (f"SP-{suffix}-1", SIGNED_ON, None),
        two: (f"SP-{suffix}-2", SIGNED_ON, None),
    }
    [row] = await metering.fetch(
        "SELECT contract_number, contract_signed_on, address FROM meters WHERE meter_number = $1",
        one,
    )
    assert (row[0], row[1], json.loads(row[2])) == (
        f"U-{suffix}",
        SIGNED_ON,
        address().model_dump(),
    )
    assert len(await metering.published()) == announced, "meters are announced to no one"


async def test_a_replacement_meter_counts_from_today_and_the_old_one_is_removed_today(
    metering: ServiceHandlers,
) -> None:
    suffix = secrets.token_hex(4)
    old, new, other = f"M-{suffix}-old", f"M-{suffix}-new", f"M-{suffix}-2"
    await metering.deliver(contract(suffix, {1: old, 2: other}))

    await metering.deliver(contract(suffix, {1: new, 2: other}))

    day = today(metering)
    assert await meters(metering, suffix) == {
        old: (f"SP-{suffix}-1", SIGNED_ON, day),
        new: (f"SP-{suffix}-1", day, None),
        other: (f"SP-{suffix}-2", SIGNED_ON, None),
    }


async def test_a_replacement_sent_again_on_a_later_day_changes_nothing(
    metering: ServiceHandlers,
) -> None:
    suffix = secrets.token_hex(4)
    old, new = f"M-{suffix}-old", f"M-{suffix}-new"
    await metering.deliver(contract(suffix, {1: old}), timezone=EARLIER_DAY)
    await metering.deliver(contract(suffix, {1: new}), timezone=EARLIER_DAY)
    before = await meters(metering, suffix)

    await metering.deliver(contract(suffix, {1: new}), timezone=LATER_DAY)

    assert await meters(metering, suffix) == before
    assert before[new][1] == today(metering, EARLIER_DAY)


async def test_a_service_point_left_out_of_the_contract_loses_its_meter_today(
    metering: ServiceHandlers,
) -> None:
    suffix = secrets.token_hex(4)
    one, two = f"M-{suffix}-1", f"M-{suffix}-2"
    await metering.deliver(contract(suffix, {1: one, 2: two}))

    await metering.deliver(contract(suffix, {2: two}))

    assert await meters(metering, suffix) == {
        one: (f"SP-{suffix}-1", SIGNED_ON, today(metering)),
        two: (f"SP-{suffix}-2", SIGNED_ON, None),
    }


async def test_a_terminated_contract_removes_its_meters_today(metering: ServiceHandlers) -> None:
    suffix = secrets.token_hex(4)
    one, two = f"M-{suffix}-1", f"M-{suffix}-2"
    await metering.deliver(contract(suffix, {1: one, 2: two}))

    await metering.deliver(contract(suffix, {1: one, 2: two}, status="terminated"))

    day = today(metering)
    assert await meters(metering, suffix) == {
        one: (f"SP-{suffix}-1", SIGNED_ON, day),
        two: (f"SP-{suffix}-2", SIGNED_ON, day),
    }


async def test_a_terminated_contract_sent_again_on_a_later_day_keeps_its_removal_day(
    metering: ServiceHandlers,
) -> None:
    suffix = secrets.token_hex(4)
    terminated = contract(suffix, {1: f"M-{suffix}-1"}, status="terminated")
    await metering.deliver(terminated, timezone=EARLIER_DAY)
    before = await meters(metering, suffix)

    await metering.deliver(terminated, timezone=LATER_DAY)

    assert await meters(metering, suffix) == before


async def test_a_meter_passes_to_the_next_holders_contract_in_either_order(
    metering: ServiceHandlers,
) -> None:
    for late_termination in (False, True):
        old, new = secrets.token_hex(4), secrets.token_hex(4)
        meter = f"M-{old}-1"
        ended = contract(old, {1: meter}, status="terminated")
        taken = contract(new, {1: meter}).model_copy(update={"signed_on": date(2024, 2, 1)})
        for event in (taken, ended) if late_termination else (ended, taken):
            await metering.deliver(event)

        assert await meters(metering, old) == {}, late_termination
        assert await meters(metering, new) == {meter: (f"SP-{new}-1", date(2024, 2, 1), None)}


# --- readings -------------------------------------------------------------------------------


async def test_a_reading_is_stored(metering: ServiceHandlers) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    announced = len(await metering.published())

    assert await metering.deliver(recorded(meter, "12.345")) == "handled"

    assert await stored(metering, meter) == [
        (datetime(2026, 3, 1, 6, tzinfo=UTC), Decimal("12.345"), "remote")
    ]
    assert len(await metering.published()) == announced


async def test_a_second_reading_of_the_same_moment_keeps_the_first(
    metering: ServiceHandlers,
) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    await metering.deliver(recorded(meter, "12.345"))

    assert await metering.deliver(recorded(meter, "99.000")) == "handled"
    await metering.deliver(recorded(meter, "13.000", day=2))

    assert [value for _, value, _ in await stored(metering, meter)] == [
        Decimal("12.345"),
        Decimal("13.000"),
    ]


async def test_a_batch_stores_its_good_readings_and_dead_letters_the_malformed_ones(
    metering: ServiceHandlers,
) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    payload, good = malformed_batch(meter)
    message_id = uuid.uuid4()
    queue = metering.queue(reading.ReadingBatchRecorded.TYPE)

    assert await metering.deliver(payload, message_id=message_id) == "handled"

    assert [(r[0].isoformat(), f"{r[1]:.3f}") for r in await stored(metering, meter)] == [
        (g["read_at"], g["value"]) for g in good
    ]
    [letter] = [
        d
        for d in await metering.dead_letters()
        if d.envelope.payload["source_message_id"] == str(message_id)
    ]
    assert (letter.routing_key, letter.envelope.type, letter.envelope.producer) == (
        queue,
        ReadingsRejected.TYPE,
        "metering",
    )
    assert letter.headers[QUEUE_HEADER] == queue
    assert (
        letter.headers[REASON_HEADER]
        == "2 of 5 readings malformed; first: #1: value: Field required"
    )
    rejected = letter.envelope.payload["rejected"]
    assert [(r["index"], r["reading"]) for r in rejected] == [
        (1, payload.readings[1]),
        (3, payload.readings[3]),
    ]
    assert rejected[1]["reason"].startswith("value: Input should be greater than or equal to 0")
    # One transaction: the readings, the dead letter and the inbox entry share its id.
    writers = {
        *(
            r[0]
            for r in await metering.fetch(
                "SELECT xmin::text FROM readings WHERE meter_number = $1", meter
            )
        ),
        await metering.fetchval(
            "SELECT xmin::text FROM outbox WHERE message_id = $1", letter.envelope.id
        ),
        await metering.fetchval("SELECT xmin::text FROM inbox WHERE message_id = $1", message_id),
    }
    assert len(writers) == 1


async def test_a_well_formed_batch_dead_letters_nothing(metering: ServiceHandlers) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    readings = daily_readings(meter, date(2026, 3, 1), 4, Decimal("1.5"), Decimal("0.5"))
    letters = len(await metering.dead_letters())

    assert await metering.deliver(batch(readings)) == "handled"

    assert len(await stored(metering, meter)) == 4
    assert len(await metering.dead_letters()) == letters


async def test_a_batch_of_nothing_but_malformed_readings_stores_none(
    metering: ServiceHandlers,
) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    message_id = uuid.uuid4()
    bad = [{"meter_number": meter, "value": "1"}, {"meter_number": "", "read_at": "x"}]

    assert await metering.deliver(batch(bad), message_id=message_id) == "handled"

    assert await stored(metering, meter) == []
    [letter] = [
        d
        for d in await metering.dead_letters()
        if d.envelope.payload["source_message_id"] == str(message_id)
    ]
    assert [r["index"] for r in letter.envelope.payload["rejected"]] == [0, 1]
    assert letter.headers[REASON_HEADER].startswith("2 of 2 readings malformed; first: #0: ")


async def test_a_batch_repeating_stored_readings_adds_only_the_new_ones(
    metering: ServiceHandlers,
) -> None:
    meter = f"M-{secrets.token_hex(4)}"
    readings = daily_readings(meter, date(2026, 3, 1), 4, Decimal("1"), Decimal("1"))
    await metering.deliver(batch(readings[:2]))
    await metering.deliver(recorded(meter, "50", day=3))  # the same moment as readings[2]

    await metering.deliver(batch(readings))

    assert [value for _, value, _ in await stored(metering, meter)] == [
        Decimal("1.000"),
        Decimal("2.000"),
        Decimal("50.000"),
        Decimal("4.000"),
    ]
