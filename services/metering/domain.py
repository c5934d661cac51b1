"""Metering's rules for a customer's own reading. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from math import ceil
from zoneinfo import ZoneInfo

from shared.api.metering import MAX_BUCKETS, Granularity

# A reading may be stamped a little ahead of the server's clock (the customer's clock drifts).
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Reading:
    read_at: datetime
    value: Decimal


@dataclass(frozen=True)
class Period:
    """The days a customer holds a meter: from its coming onto their contract to its removal
    (inclusive; open while it is still there). Readings outside belong to someone else."""

    first_day: date
    last_day: date | None

    def window(self, from_: date | None, to: date | None) -> tuple[datetime, datetime | None]:
        """The asked days clamped to the period, as [since, until] moments (UTC days)."""
        first = max(from_ or self.first_day, self.first_day)
        lasts = [d for d in (to, self.last_day) if d is not None]
        last = min(lasts) if lasts else None
        since = datetime.combine(first, time.min, tzinfo=UTC)
        until = datetime.combine(last, time.max, tzinfo=UTC) if last else None
        return since, until


@dataclass(frozen=True)
class Refusal:
    """Why a reading is refused: the field at fault, a code a client words for itself, the values
    that wording names, and a sentence in English for everyone else."""

    field: str
    code: str
    message: str
    params: dict[str, str] = field(default_factory=dict)


def refuse_self_reading(
    new: Reading,
    now: datetime,
    installed_on: date,
    removed_on: date | None,
    last: Reading | None,
) -> Refusal | None:
    """Why a self-reading cannot be accepted, or None when it can."""
    if new.read_at > now + CLOCK_TOLERANCE:
        return Refusal("read_at", "reading_in_future", "a reading cannot be dated in the future")
    if removed_on is not None:
        return Refusal(
            "meter_number",
            "meter_removed",
            f"this meter was removed on {removed_on}",
            {"removed_on": removed_on.isoformat()},
        )
    if new.read_at.date() < installed_on:
        return Refusal(
            "read_at",
            "reading_before_installation",
            f"the meter is on your contract since {installed_on}",
            {"installed_on": installed_on.isoformat()},
        )
    if last is not None and new.value < last.value:
        return Refusal(
            "value",
            "reading_below_last",
            f"{new.value:.3f} is below the last reading of this meter "
            f"({last.value:.3f} m³ on {last.read_at:%Y-%m-%d})",
            {
                "value": f"{new.value:.3f}",
                "last_value": f"{last.value:.3f}",
                "last_read_at": last.read_at.isoformat(),
            },
        )
    if last is not None and new.read_at <= last.read_at:
        return Refusal(
            "read_at",
            "reading_not_after_last",
            f"a reading from {last.read_at:%Y-%m-%d %H:%M} UTC is already there; "
            "a new one must be later",
            {"last_read_at": last.read_at.isoformat()},
        )
    return None


@dataclass(frozen=True)
class Series:
    """The buckets of a consumption series: the whole hours, days or months of the utility's
    calendar that hold the days from `first_day` to `last_day`, given by their edges (UTC
    moments, one more than the buckets). No days, no buckets."""

    first_day: date | None
    last_day: date | None
    edges: tuple[datetime, ...]


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def consumption_series(
    period: Period,
    granularity: Granularity,
    from_: date | None,
    to: date | None,
    today: date,
    zone: ZoneInfo,
) -> Series | Refusal:
    """The whole buckets that hold the asked days, once those are clamped to the customer's
    period on the meter and to today (nothing has been used later); or why not: more than
    MAX_BUCKETS of them."""
    first = max(from_ or period.first_day, period.first_day)
    last = min(d for d in (to, period.last_day, today) if d is not None)
    if first > last:
        return Series(None, None, ())
    start, end = _midnight(first, zone), _midnight(last + timedelta(days=1), zone)
    if granularity == "month":
        count = (last.year - first.year) * 12 + last.month - first.month + 1
    elif granularity == "day":
        count = (last - first).days + 1
    else:  # an hour is an hour of time: a day of the clock change has 23 or 25 of them
        count = ceil((end - start) / timedelta(hours=1))
    if count > MAX_BUCKETS:
        return Refusal(
            "from",
            "range_too_long",
            f"{count} {granularity}s from {first} to {last}: a series has at most {MAX_BUCKETS}; "
            "ask for a later 'from', an earlier 'to' or a coarser granularity",
            {"buckets": str(count), "max_buckets": str(MAX_BUCKETS), "granularity": granularity},
        )
    if granularity == "month":
        month = first.year * 12 + first.month - 1
        days = [date((month + n) // 12, (month + n) % 12 + 1, 1) for n in range(count + 1)]
        edges = [_midnight(day, zone) for day in days]
    elif granularity == "day":
        edges = [_midnight(first + timedelta(days=n), zone) for n in range(count + 1)]
    else:
        edges = [start + timedelta(hours=n) for n in range(count)] + [end]
    return Series(first, last, tuple(edges))
