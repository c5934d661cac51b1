"""A meter's consumption series through the gateway: two years of hourly readings fed by the
reading system in batches come back as monthly, daily and hourly points of the utility's
calendar; bad parameters are 422 problems naming them; another customer's meter is 404."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from shared.events import reading
from tests.support.erp import Household, publish_household
from tests.support.flows import access_token, registered_account
from tests.support.openapi import OpenApi
from tests.support.platform import wait_until
from tests.support.stack import Stack

# Two years of hourly readings at twenty past each hour (never on a bucket's edge), the register
# rising by a different amount each hour of a four-hour cycle.
FIRST = datetime(2024, 2, 1, 0, 20, tzinfo=UTC)
HOURS = 2 * 8760
STEPS = (Decimal("0.004"), Decimal("0.012"), Decimal("0.020"), Decimal("0.008"))
BATCH = 2500
ZONE = ZoneInfo("Europe/Warsaw")


@dataclass
class World:
    stack: Stack
    mine: Household
    theirs: Household
    token: str
    moments: list[datetime]
    values: list[Decimal]

    def register(self, moment: datetime) -> Decimal:
        """What the register showed at `moment`: interpolated between the readings around it,
        held at the first and the last — the test's own account of the series."""
        if moment <= self.moments[0]:
            return self.values[0]
        if moment >= self.moments[-1]:
            return self.values[-1]
        after = bisect.bisect_left(self.moments, moment)
        if self.moments[after] == moment:
            return self.values[after]
        t0, t1 = self.moments[after - 1], self.moments[after]
        v0, v1 = self.values[after - 1], self.values[after]
        share = Decimal((moment - t0).total_seconds()) / Decimal((t1 - t0).total_seconds())
        return v0 + (v1 - v0) * share

    def expected(self, start: datetime, end: datetime) -> str | None:
        if end <= self.moments[0] or start >= self.moments[-1]:
            return None
        litre = Decimal("0.001")
        rise = self.register(end).quantize(litre, ROUND_HALF_UP) - self.register(start).quantize(
            litre, ROUND_HALF_UP
        )
        return f"{rise:.3f}"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(stack: Stack) -> AsyncIterator[World]:
    today = stack.platform.settings.today()
    mine = await publish_household(stack.erp, today)
    theirs = await publish_household(stack.erp, today)
    token = await access_token(stack, await registered_account(stack, customer=mine.customer))
    moments = [FIRST + timedelta(hours=h) for h in range(HOURS)]
    values = [Decimal("100.000")]
    for h in range(1, HOURS):
        values.append(values[-1] + STEPS[h % len(STEPS)])
    readings = [
        {
            "meter_number": mine.meters[0],
            "read_at": moment.isoformat(),
            "value": f"{value:.3f}",
            "source": "remote",
        }
        for moment, value in zip(moments, values, strict=True)
    ]
    settings = stack.platform.settings
    async with IntegrationClient(settings.amqp_url, settings.namespace, "reading") as feed:
        for start in range(0, HOURS, BATCH):
            await feed.publish(
                "reading.batch.recorded",
                reading.ReadingBatchRecorded(readings=readings[start : start + BATCH]),
            )
    conn = await stack.platform.db("metering")
    try:
        await wait_until(
            lambda: conn.fetchval(
                """SELECT (SELECT count(*) FROM readings WHERE meter_number = $1) = $2
                      AND EXISTS (SELECT 1 FROM meters WHERE meter_number = $3)""",
                mine.meters[0],
                HOURS,
                theirs.meters[0],
            ),
            timeout=60,
            what="the reading batches and the other customer's meter",
        )
    finally:
        await conn.close()
    yield World(stack, mine, theirs, token, moments, values)


async def consumption(world: World, query: str, meter: str | None = None) -> tuple[int, dict]:
    path = f"/api/v1/meters/{meter or world.mine.meters[0]}/consumption?{query}"
    return await world.stack.api.request("GET", path, token=world.token)  # type: ignore[return-value]


def month_starts(first: date, count: int) -> list[datetime]:
    index = first.year * 12 + first.month - 1
    return [datetime((index + n) // 12, (index + n) % 12 + 1, 1, tzinfo=ZONE) for n in range(count)]


async def test_two_years_of_hourly_readings_as_months(world: World) -> None:
    status, body = await consumption(world, "granularity=month&from=2023-06-01&to=2026-03-31")
    assert status == 200, body
    # From the day the meter came onto the contract (2024-01-10), whole months of Warsaw.
    assert (body["first_day"], body["last_day"]) == ("2024-01-10", "2026-03-31")
    assert (body["granularity"], body["time_zone"]) == ("month", "Europe/Warsaw")
    edges = month_starts(date(2024, 1, 1), 27 + 1)
    assert [p["start"] for p in body["points"]] == [e.isoformat() for e in edges[:-1]]
    expected = [world.expected(s, e) for s, e in itertools.pairwise(edges)]
    assert [p["consumption"] for p in body["points"]] == expected
    # January 2024 before the first reading, the months after the last one: nothing known.
    assert expected[0] is None and expected[-2:] == [None, None]
    assert not any(p["estimated"] for p in body["points"])
    assert body["total"] == f"{world.values[-1] - world.values[0]:.3f}"
    # Months start at midnight in Warsaw, in winter time and in summer time.
    march, october = body["points"][14], body["points"][21]
    assert march["start"] == "2025-03-01T00:00:00+01:00"
    assert october["start"] == "2025-10-01T00:00:00+02:00"


async def test_days_and_hours_of_the_utilitys_calendar(world: World) -> None:
    status, body = await consumption(world, "granularity=day&from=2025-03-29&to=2025-03-31")
    assert status == 200, body
    edges = [datetime(2025, 3, d, tzinfo=ZONE) for d in (29, 30, 31)] + [
        datetime(2025, 4, 1, tzinfo=ZONE)
    ]
    assert [(p["start"], p["consumption"]) for p in body["points"]] == [
        (s.isoformat(), world.expected(s, e)) for s, e in itertools.pairwise(edges)
    ]
    status, body = await consumption(world, "granularity=hour&from=2025-10-26&to=2025-10-26")
    assert status == 200, body
    assert len(body["points"]) == 25, "the clocks go back: 02:00 twice"
    for point in body["points"]:
        start = datetime.fromisoformat(point["start"])
        assert point["consumption"] == world.expected(start, start + timedelta(hours=1))
        assert point["estimated"] is False


async def test_bad_parameters_are_problems_naming_them(world: World) -> None:
    for query, field, code in (
        ("granularity=week", "granularity", "literal_error"),
        ("from=2025-02-01&to=2025-01-31", "to", "to_before_from"),
        ("from=2025-02-30", "from", "date_from_datetime_parsing"),
        ("to=yesterday", "to", "value_error"),
        ("granularity=day&limit=5", "limit", "extra_forbidden"),
        ("granularity=hour&from=2025-01-01&to=2025-01-31", "from", "range_too_long"),
        ("granularity=day", "from", "range_too_long"),  # since 2024-01-10
    ):
        status, problem = await consumption(world, query)
        assert status == 422, (query, problem)
        assert problem["type"].endswith("/validation-failed"), problem
        assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)], problem
    _, problem = await consumption(world, "granularity=hour&from=2025-01-01&to=2025-01-31")
    assert problem["errors"][0]["params"] == {
        "buckets": "744",
        "max_buckets": "400",
        "granularity": "hour",
    }


@pytest.mark.parametrize("whose", ["another customer's", "nobody's"])
async def test_a_meter_not_on_the_callers_account_is_404(world: World, whose: str) -> None:
    meter = world.theirs.meters[0] if whose == "another customer's" else "M-none-at-all"
    status, problem = await consumption(world, "granularity=month", meter)
    assert status == 404, problem
    assert problem["type"].endswith("/not-found")
    status, _ = await world.stack.api.request(
        "GET", f"/api/v1/meters/{meter}/consumption?granularity=week", token=world.token
    )
    assert status == 422, "the query is checked before the meter is looked up, for any meter"


async def test_a_meter_without_readings_and_days_outside_the_contract(world: World) -> None:
    unread = world.mine.meters[1]
    status, body = await consumption(
        world, "granularity=month&from=2025-01-01&to=2025-03-31", unread
    )
    assert status == 200, body
    assert [p["consumption"] for p in body["points"]] == [None, None, None]
    assert body["total"] is None
    status, body = await consumption(world, "from=2020-01-01&to=2023-12-31")
    assert status == 200, body
    assert (body["first_day"], body["last_day"], body["points"]) == (None, None, [])


async def test_every_answer_is_as_documented(world: World) -> None:
    status, document = await world.stack.api.request("GET", "/api/v1/openapi.json")
    assert status == 200
    recorded = [r for r in world.stack.api.recorded if "/consumption" in r[1]]
    assert len(recorded) >= 10
    OpenApi(document).check_all(recorded)
