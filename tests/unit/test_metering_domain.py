from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

from services.metering.domain import Period, Reading, refuse_self_reading

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
