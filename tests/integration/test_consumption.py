"""Metering's consumption series in SQL (services/metering/repository.py, CONSUMPTION_SQL)
against PostgreSQL: the rise of the register over each hour, day or month of the utility's
calendar, interpolated between readings that do not sit on the edges, spread over gaps, within
the customer's period on the meter; and read with a few index probes per bucket, however many
readings the meter has."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest_asyncio

from services.metering import domain, repository
from shared.api.metering import Granularity
from tests.integration.test_rows_read import rows_read
from tests.support.handlers import ServiceHandlers
from tests.support.infra import Infra

TODAY = date(2026, 1, 1)
METERS = itertools.count(1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def metering(infra: Infra, keys: Path) -> AsyncIterator[ServiceHandlers]:
    async with ServiceHandlers.open("metering", infra, keys) as handlers:
        yield handlers


async def meter(
    db: ServiceHandlers,
    readings: list[tuple[str, str]],
    installed: date = date(2024, 1, 10),
    removed: date | None = None,
) -> str:
    """A meter of its own with `readings` (UTC moment, value)."""
    number = f"M-{next(METERS)}"
    await db.pool.execute(
        """INSERT INTO meters (meter_number, service_point_id, customer_id, contract_number,
                               address, contract_signed_on, installed_on, removed_on)
           VALUES ($1, 'SP-' || $1, 'C-' || $1, 'U-' || $1, '{}', $2, $2, $3)""",
        number,
        installed,
        removed,
    )
    await db.pool.executemany(
        "INSERT INTO readings (meter_number, read_at, value, source) VALUES ($1, $2, $3, 'remote')",
        [(number, at(moment), Decimal(value)) for moment, value in readings],
    )
    return number


async def series(
    db: ServiceHandlers,
    number: str,
    granularity: Granularity,
    from_: date | None = None,
    to: date | None = None,
    zone: str = "Europe/Warsaw",
) -> list[tuple[str, str | None, bool]]:
    """(the bucket's start in the zone, its consumption, estimated) as the route computes them."""
    row = await db.pool.fetchrow(
        "SELECT installed_on, removed_on FROM meters WHERE meter_number = $1", number
    )
    period = domain.Period(row["installed_on"], row["removed_on"])
    found = domain.consumption_series(period, granularity, from_, to, TODAY, ZoneInfo(zone))
    assert isinstance(found, domain.Series), found
    since, until = period.window(None, None)
    async with db.pool.acquire() as conn:
        rows = await repository.consumption(conn, number, since, until, found.edges)
    return [
        (
            r["start_at"].astimezone(ZoneInfo(zone)).isoformat(),
            None if r["consumption"] is None else f"{r['consumption']:.3f}",
            r["estimated"],
        )
        for r in rows
    ]


def values(points: list[tuple[str, str | None, bool]]) -> list[str | None]:
    return [consumption for _, consumption, _ in points]


async def test_readings_on_the_edges_give_each_bucket_their_difference(
    metering: ServiceHandlers,
) -> None:
    number = await meter(
        metering,
        [
            ("2025-01-15T00:00", "10.000"),
            ("2025-01-15T01:00", "10.500"),
            ("2025-01-15T02:00", "11.500"),
            ("2025-01-15T03:00", "11.500"),
            ("2025-01-15T04:00", "13.000"),
            ("2025-01-15T05:00", "13.250"),
            ("2025-01-15T06:00", "14.000"),
        ],
    )
    points = await series(metering, number, "hour", date(2025, 1, 15), date(2025, 1, 15))
    assert len(points) == 24
    assert points[0][0] == "2025-01-15T00:00:00+01:00"
    # 00:00 local is 23:00 UTC the day before: no reading yet. Every hour with a reading on its
    # start edge is measured, not estimated; after the last reading nothing is known.
    assert values(points)[:8] == [None, "0.500", "1.000", "0.000", "1.500", "0.250", "0.750", None]
    assert values(points)[8:] == [None] * 16
    assert [estimated for _, _, estimated in points[1:7]] == [False] * 6


async def test_readings_between_the_edges_are_interpolated_in_time(
    metering: ServiceHandlers,
) -> None:
    # 0.5 m³ an hour from 09:00 UTC to 09:00 UTC the next day, then 1 m³ in 12 hours.
    number = await meter(
        metering,
        [
            ("2025-02-10T09:00", "100.000"),
            ("2025-02-11T09:00", "112.000"),
            ("2025-02-11T21:00", "113.000"),
        ],
    )
    points = await series(metering, number, "day", date(2025, 2, 9), date(2025, 2, 12))
    assert points == [
        ("2025-02-09T00:00:00+01:00", None, False),
        # from the first reading to midnight in Warsaw (23:00 UTC): 14 hours
        ("2025-02-10T00:00:00+01:00", "7.000", False),
        # the register at midnight (107) to the last reading (113)
        ("2025-02-11T00:00:00+01:00", "6.000", False),
        ("2025-02-12T00:00:00+01:00", None, False),
    ]


async def test_a_gap_is_spread_evenly_over_the_buckets_it_spans(
    metering: ServiceHandlers,
) -> None:
    # 20 m³ in 96 hours without a reading between: 5 m³ a day, told as estimated.
    number = await meter(
        metering, [("2025-03-01T11:00", "200.000"), ("2025-03-05T11:00", "220.000")]
    )
    points = await series(metering, number, "day", date(2025, 3, 1), date(2025, 3, 5))
    assert [(consumption, estimated) for _, consumption, estimated in points] == [
        ("2.500", False),  # 12 hours from the reading at noon (local) to midnight
        ("5.000", True),
        ("5.000", True),
        ("5.000", True),
        ("2.500", False),
    ]


async def test_months_are_the_utilitys_calendar_months(metering: ServiceHandlers) -> None:
    # Either side of midnight on 1 February in Warsaw (23:00 UTC), and of 1 July (22:00 UTC in
    # summer time): one cubic metre in each of the hours around it.
    winter = await meter(metering, [("2025-01-31T22:30", "10.000"), ("2025-01-31T23:30", "12.000")])
    summer = await meter(metering, [("2025-06-30T21:30", "30.000"), ("2025-06-30T22:30", "32.000")])
    assert await series(metering, winter, "month", date(2025, 1, 1), date(2025, 2, 28)) == [
        ("2025-01-01T00:00:00+01:00", "1.000", False),
        ("2025-02-01T00:00:00+01:00", "1.000", False),
    ]
    assert await series(metering, summer, "month", date(2025, 6, 1), date(2025, 7, 31)) == [
        ("2025-06-01T00:00:00+02:00", "1.000", False),
        ("2025-07-01T00:00:00+02:00", "1.000", False),
    ]
    # In UTC both hours would fall into January.
    in_utc = await series(metering, winter, "month", date(2025, 1, 1), date(2025, 2, 28), "UTC")
    assert values(in_utc) == ["2.000", None]


async def test_hours_of_the_day_the_clocks_go_back(metering: ServiceHandlers) -> None:
    start = at("2025-10-25T22:00")
    number = await meter(
        metering,
        [
            ((start + timedelta(hours=n)).isoformat()[:16], f"{100 + Decimal('0.1') * n:.3f}")
            for n in range(26)
        ],
    )
    points = await series(metering, number, "hour", date(2025, 10, 26), date(2025, 10, 26))
    assert len(points) == 25, "02:00 comes twice"
    assert [start for start, _, _ in points[2:5]] == [
        "2025-10-26T02:00:00+02:00",
        "2025-10-26T02:00:00+01:00",
        "2025-10-26T03:00:00+01:00",
    ]
    assert set(values(points)) == {"0.100"}


async def test_an_empty_range_and_a_meter_without_readings(metering: ServiceHandlers) -> None:
    number = await meter(metering, [("2025-01-15T00:00", "1.000"), ("2025-01-16T00:00", "2.000")])
    after = await series(metering, number, "day", date(2025, 12, 1), date(2025, 12, 3))
    assert after == [
        ("2025-12-01T00:00:00+01:00", None, False),
        ("2025-12-02T00:00:00+01:00", None, False),
        ("2025-12-03T00:00:00+01:00", None, False),
    ]
    unread = await meter(metering, [])
    assert set(values(await series(metering, unread, "month", date(2025, 1, 1)))) == {None}
    # Days before the meter came onto the contract: no buckets at all.
    period = domain.Period(date(2024, 1, 10), None)
    empty = domain.consumption_series(
        period, "day", date(2020, 1, 1), date(2023, 12, 31), TODAY, ZoneInfo("UTC")
    )
    assert empty == domain.Series(None, None, ())
    async with metering.pool.acquire() as conn:
        assert await repository.consumption(conn, number, at("2024-01-10T00:00"), None, ()) == []


async def test_only_the_customers_period_on_the_meter_counts(metering: ServiceHandlers) -> None:
    # One m³ a day at 06:00 UTC all April; the customer held the meter from the 10th to the 20th:
    # the readings before belong to the one before, those after to the one after.
    number = await meter(
        metering,
        [(f"2025-04-{day:02}T06:00", f"{day}.000") for day in range(1, 31)],
        installed=date(2025, 4, 10),
        removed=date(2025, 4, 20),
    )
    assert await series(metering, number, "month", date(2025, 1, 1), date(2025, 12, 31)) == [
        ("2025-04-01T00:00:00+02:00", "10.000", False)
    ]
    days = await series(metering, number, "day")
    assert days[0] == ("2025-04-10T00:00:00+02:00", "0.667", False)  # 06:00 to 22:00 UTC
    assert days[-1] == ("2025-04-20T00:00:00+02:00", "0.333", False)  # 22:00 to 06:00 UTC
    assert len(days) == 11


async def test_a_reading_below_the_one_before_is_negative_consumption(
    metering: ServiceHandlers,
) -> None:
    # An estimate the next real reading corrects downwards.
    number = await meter(
        metering,
        [
            ("2025-05-01T22:00", "50.000"),
            ("2025-05-02T22:00", "60.000"),
            ("2025-05-03T22:00", "58.000"),
        ],
    )
    points = await series(metering, number, "day", date(2025, 5, 2), date(2025, 5, 3))
    assert values(points) == ["10.000", "-2.000"]


async def hourly_for_five_years(db: ServiceHandlers, installed: date, removed: date | None) -> str:
    """A meter read every hour from 2021 to 2025 (43,800 readings), the register rising 10 litres
    an hour; the customer holds it from `installed` to `removed`."""
    number = await meter(db, [], installed=installed, removed=removed)
    await db.pool.execute(
        """INSERT INTO readings (meter_number, read_at, value, source)
           SELECT $1, TIMESTAMPTZ '2021-01-01 00:00Z' + make_interval(hours => h), h * 0.01,
                  'remote'
             FROM generate_series(0, 43799) h""",
        number,
    )
    await db.pool.execute("ANALYZE readings")
    return number


async def test_the_series_reads_a_few_rows_per_bucket_whatever_the_readings(
    metering: ServiceHandlers,
) -> None:
    """Five years of hourly readings: a week of hours, a year of days and five years of months
    each read at most two readings per edge and two more, counted by PostgreSQL — also when most
    of the readings are another holder's, before and after the customer's year on the meter."""
    whole = await hourly_for_five_years(metering, date(2021, 1, 1), None)
    year = await hourly_for_five_years(metering, date(2023, 1, 1), date(2023, 12, 31))
    zone = ZoneInfo("Europe/Warsaw")
    async with metering.pool.acquire() as conn:  # plan_cache_mode=force_generic_plan
        for number, granularity, from_, to, buckets in (
            (whole, "hour", date(2023, 6, 5), date(2023, 6, 11), 168),
            (whole, "day", date(2023, 1, 1), date(2023, 12, 31), 365),
            (whole, "month", date(2021, 1, 1), date(2025, 12, 31), 60),
            (year, "month", date(2021, 1, 1), date(2025, 12, 31), 12),
            (year, "day", date(2023, 12, 1), date(2024, 6, 30), 31),
        ):
            row = await conn.fetchrow(
                "SELECT installed_on, removed_on FROM meters WHERE meter_number = $1", number
            )
            period = domain.Period(row["installed_on"], row["removed_on"])
            since, until = period.window(None, None)
            found = domain.consumption_series(period, granularity, from_, to, TODAY, zone)
            assert isinstance(found, domain.Series) and len(found.edges) == buckets + 1

            async def call(c, n=number, s=since, u=until, edges=found.edges):  # type: ignore[no-untyped-def]
                return await repository.consumption(c, n, s, u, edges)

            rows = await call(conn)  # prepared (generic plan) before it is measured
            assert len(rows) == buckets
            assert all(r["consumption"] is not None for r in rows)
            read = await rows_read(conn, call)
            assert read.keys() <= {"readings"}, read
            assert read["readings"] <= 2 * (buckets + 1) + 2, (granularity, buckets, read)
    # The five years' months add up to the whole rise, to the litre; the customer's year to its
    # own: from its first reading (2023-01-01 00:00 UTC) to its last (2023-12-31 23:00 UTC).
    for number, rise in ((whole, "437.990"), (year, "87.590")):
        months = await series(metering, number, "month", date(2021, 1, 1), date(2025, 12, 31))
        assert sum(Decimal(v) for v in values(months) if v is not None) == Decimal(rise)
