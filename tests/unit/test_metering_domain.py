from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from services.metering.domain import (
    Period,
    Reading,
    Refusal,
    Series,
    consumption_series,
    refuse_self_reading,
)
from shared.api.metering import MAX_BUCKETS, Granularity

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LAST = Reading(NOW - timedelta(days=30), D("120.500"))


def refusal(
    new: Reading, last: Reading | None = LAST, removed: date | None = None
) -> tuple[str, str] | None:
    found = refuse_self_reading(new, NOW, date(2024, 1, 10), removed, last)
    return None if found is None else (found.field, found.code)


def test_a_later_higher_reading_is_accepted() -> None:
    assert refusal(Reading(NOW, D("121.000"))) is None
    assert refusal(Reading(NOW, D("120.500"))) is None, "no consumption is fine"
    assert refusal(Reading(NOW + timedelta(minutes=4), D("121")), last=None) is None


def test_below_the_last_reading_is_refused() -> None:
    assert refusal(Reading(NOW, D("120.499"))) == ("value", "reading_below_last")
    found = refuse_self_reading(Reading(NOW, D("120.499")), NOW, date(2024, 1, 10), None, LAST)
    assert found is not None and found.params == {
        "value": "120.499",
        "last_value": "120.500",
        "last_read_at": "2026-10-25T12:00:00+00:00",
    }


def test_future_readings_are_refused_beyond_clock_drift() -> None:
    found = refusal(Reading(NOW + timedelta(minutes=6), D("121")))
    assert found == ("read_at", "reading_in_future")


def test_not_after_the_last_reading_is_refused() -> None:
    assert refusal(Reading(LAST.read_at, D("130"))) == ("read_at", "reading_not_after_last")


def test_before_the_meter_was_on_the_contract_is_refused() -> None:
    assert refusal(Reading(datetime(2024, 1, 9, tzinfo=UTC), D("1")), last=None) == (
        "read_at",
        "reading_before_installation",
    )


def test_a_removed_meter_takes_no_readings() -> None:
    assert refusal(Reading(NOW, D("130")), removed=date(2026, 1, 1)) == (
        "meter_number",
        "meter_removed",
    )


def test_asked_days_are_clamped_to_the_customers_period_on_the_meter() -> None:
    def days(period: Period, from_: date | None, to: date | None) -> tuple[str, str | None]:
        since, until = period.window(from_, to)
        return since.isoformat(), until.isoformat() if until else None

    held = Period(date(2024, 1, 10), None)
    assert days(held, None, None) == ("2024-01-10T00:00:00+00:00", None)
    assert days(held, date(2000, 1, 1), date(2024, 1, 11)) == (
        "2024-01-10T00:00:00+00:00",
        "2024-01-11T23:59:59.999999+00:00",
    )
    assert days(held, date(2025, 3, 1), None)[0] == "2025-03-01T00:00:00+00:00"
    removed = Period(date(2024, 1, 10), date(2025, 6, 30))
    assert days(removed, None, None)[1] == "2025-06-30T23:59:59.999999+00:00"
    assert days(removed, None, date(2030, 1, 1))[1] == "2025-06-30T23:59:59.999999+00:00"
    assert days(removed, None, date(2025, 1, 31))[1] == "2025-01-31T23:59:59.999999+00:00"


WARSAW = ZoneInfo("Europe/Warsaw")
HELD = Period(date(2024, 1, 10), None)


def buckets(
    granularity: Granularity,
    from_: date | None = None,
    to: date | None = None,
    period: Period = HELD,
    today: date = date(2026, 11, 24),
) -> Series | Refusal:
    return consumption_series(period, granularity, from_, to, today, WARSAW)


def local(series: Series | Refusal) -> list[str]:
    assert isinstance(series, Series), series
    return [edge.astimezone(WARSAW).isoformat() for edge in series.edges]


def test_months_and_days_start_at_midnight_in_the_utilitys_time_zone() -> None:
    assert local(buckets("month", date(2025, 2, 15), date(2025, 4, 2))) == [
        "2025-02-01T00:00:00+01:00",
        "2025-03-01T00:00:00+01:00",
        "2025-04-01T00:00:00+02:00",
        "2025-05-01T00:00:00+02:00",
    ]
    assert local(buckets("month", date(2025, 12, 1), date(2026, 1, 31)))[-1] == (
        "2026-02-01T00:00:00+01:00"
    )
    assert local(buckets("day", date(2025, 3, 29), date(2025, 3, 31))) == [
        "2025-03-29T00:00:00+01:00",
        "2025-03-30T00:00:00+01:00",
        "2025-03-31T00:00:00+02:00",
        "2025-04-01T00:00:00+02:00",
    ]


def test_hours_are_hours_of_time_on_the_days_the_clocks_change() -> None:
    spring = buckets("hour", date(2025, 3, 30), date(2025, 3, 30))
    autumn = buckets("hour", date(2025, 10, 26), date(2025, 10, 26))
    assert len(local(spring)) == 23 + 1 and len(local(autumn)) == 25 + 1
    assert local(spring)[2:4] == ["2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00"]
    assert local(autumn)[2:4] == ["2025-10-26T02:00:00+02:00", "2025-10-26T02:00:00+01:00"]


def test_the_days_are_clamped_to_the_customers_period_and_to_today() -> None:
    found = buckets("day", date(2020, 1, 1), date(2024, 1, 12))
    assert isinstance(found, Series)
    assert (found.first_day, found.last_day, len(found.edges)) == (
        date(2024, 1, 10),
        date(2024, 1, 12),
        4,
    )
    found = buckets("month", today=date(2026, 11, 24))
    assert isinstance(found, Series) and found.last_day == date(2026, 11, 24)
    assert local(found)[-1] == "2026-12-01T00:00:00+01:00", "the whole current month"
    removed = Period(date(2024, 1, 10), date(2025, 6, 30))
    found = buckets("day", date(2025, 6, 1), date(2025, 12, 31), period=removed)
    assert isinstance(found, Series) and found.last_day == date(2025, 6, 30)
    assert buckets("day", date(2025, 7, 1), None, period=removed) == Series(None, None, ())
    assert buckets("day", None, date(2024, 1, 9)) == Series(None, None, ())


def test_more_than_the_most_buckets_is_refused_naming_from() -> None:
    assert isinstance(buckets("day", date(2025, 1, 1), date(2026, 2, 4)), Series)  # 400 days
    refused = buckets("day", date(2025, 1, 1), date(2026, 2, 5))
    assert refused == Refusal(
        "from",
        "range_too_long",
        "401 days from 2025-01-01 to 2026-02-05: a series has at most 400; ask for a later "
        "'from', an earlier 'to' or a coarser granularity",
        {"buckets": "401", "max_buckets": str(MAX_BUCKETS), "granularity": "day"},
    )
    assert isinstance(buckets("hour", date(2025, 1, 1), date(2025, 1, 16)), Series)  # 384 h
    assert isinstance(buckets("hour", date(2025, 1, 1), date(2025, 1, 17)), Refusal)  # 408 h
    # Since the meter came onto the contract (the default): months always fit.
    assert isinstance(buckets("month"), Series)
    assert isinstance(buckets("day"), Refusal)
