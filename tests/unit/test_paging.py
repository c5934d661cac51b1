"""Cursors of keyset paging (shared/api/paging.py): what they carry, that only what the code
writes is read back, and how a page's cursors follow from what its query found."""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.api.billing import InvoiceQuery, NoteQuery, PaymentQuery
from shared.api.metering import ReadingQuery
from shared.api.paging import Keyset, Position, read_page

INVOICES = InvoiceQuery.KEYSET
READINGS = ReadingQuery.KEYSET


def raw(body: object) -> str:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_a_cursor_is_base64url_json_of_the_list_the_way_and_the_sort_key() -> None:
    cursor = INVOICES.encode((date(2026, 10, 31), "FV/2026/10/1001"))
    assert "=" not in cursor and len(cursor) < 100
    assert json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))) == {
        "l": "invoices",
        "d": "older",
        "k": ["2026-10-31", "FV/2026/10/1001"],
    }
    assert INVOICES.decode(cursor) == Position((date(2026, 10, 31), "FV/2026/10/1001"))
    newer = INVOICES.encode((date(2026, 10, 31), "FV/2026/10/1001"), newer=True)
    assert INVOICES.decode(newer).newer


def test_a_moment_travels_in_utc_to_the_microsecond() -> None:
    moment = datetime(2024, 1, 14, 7, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    position = READINGS.decode(READINGS.encode((moment,)))
    assert position.key == (moment,) and position.key[0].utcoffset() == timedelta(0)


# Each is refused with a 422 naming `cursor`, never read as something else or passed on.
REFUSED = {
    "not base64url": "abc+/=",
    "one character too many for base64": "abcde",
    "not JSON": raw("not json"),
    "JSON but not an object": raw([1, 2]),
    "a key missing": raw({"l": "invoices", "d": "older"}),
    "a key too many": raw({"l": "invoices", "d": "older", "k": ["2026-01-01", "A"], "x": 1}),
    "another list": raw({"l": "payments", "d": "older", "k": ["2026-01-01", "A"]}),
    "no such way": raw({"l": "invoices", "d": "sideways", "k": ["2026-01-01", "A"]}),
    "a sort key too short": raw({"l": "invoices", "d": "older", "k": ["2026-01-01"]}),
    "a sort key not a list": raw({"l": "invoices", "d": "older", "k": "2026-01-01"}),
    "not a day": raw({"l": "invoices", "d": "older", "k": ["2026-02-30", "A"]}),
    "a day as a number": raw({"l": "invoices", "d": "older", "k": [20260101, "A"]}),
    "a number no invoice has": raw({"l": "invoices", "d": "older", "k": ["2026-01-01", "A B"]}),
    "an empty number": raw({"l": "invoices", "d": "older", "k": ["2026-01-01", ""]}),
    "a NUL character": raw({"l": "invoices", "d": "older", "k": ["2026-01-01", "A\u0000"]}),
    "a lone surrogate": raw('{"l":"invoices","d":"older","k":["2026-01-01","\\ud800"]}'),
    "a number too long": raw({"l": "invoices", "d": "older", "k": ["2026-01-01", "A" * 65]}),
    "spaces in the JSON": raw('{"l": "invoices", "d": "older", "k": ["2026-01-01", "A"]}'),
    "a key repeated": raw('{"l":"notes","l":"invoices","d":"older","k":["2026-01-01","A"]}'),
    "too long": "A" * 300,
}


@pytest.mark.parametrize("cursor", REFUSED.values(), ids=REFUSED.keys())
def test_anything_but_a_cursor_of_the_list_is_refused_naming_it(cursor: str) -> None:
    with pytest.raises(ValidationError) as refused:
        InvoiceQuery.model_validate({"cursor": cursor})
    [error] = refused.value.errors()
    assert error["loc"] == ("cursor",)
    assert error["type"] in {"invalid_cursor", "string_pattern_mismatch", "string_too_long"}


def test_an_altered_cursor_is_refused() -> None:
    cursor = INVOICES.encode((date(2026, 10, 31), "FV/2026/10/1001"))
    # The last character holds bits that the decoder would drop: changing them changes nothing
    # decoded, but the cursor is no longer one the code wrote.
    last = cursor[-1]
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if other == last:
            continue
        altered = cursor[:-1] + other
        try:
            decoded = INVOICES.decode(altered)
        except ValueError:
            continue
        raise AssertionError(f"{altered} read as {decoded}")


@pytest.mark.parametrize(
    ("moment", "accepted"),
    [
        ("2024-01-14T06:00:00.000000+00:00", True),
        ("2024-01-14T06:00:00+00:00", False),  # not as the code writes it
        ("2024-01-14T07:00:00.000000+01:00", False),
        ("2024-01-14T06:00:00.000000", False),  # no offset
        ("0001-01-01T00:00:00.000000+00:00", True),
        ("9999-12-31T23:59:59.999999+00:00", True),
        ("yesterday", False),
    ],
)
def test_a_reading_cursor_holds_a_moment_as_the_code_writes_it(moment: str, accepted: bool) -> None:
    cursor = raw({"l": "readings", "d": "older", "k": [moment]})
    if accepted:
        assert ReadingQuery.model_validate({"cursor": cursor}).position is not None
    else:
        with pytest.raises(ValidationError):
            ReadingQuery.model_validate({"cursor": cursor})


def test_each_list_has_its_own_cursors_and_limits() -> None:
    key = (date(2026, 1, 1), "A-1")
    for query in (InvoiceQuery, PaymentQuery, NoteQuery):
        cursor = query.KEYSET.encode(key)
        assert query.model_validate({"cursor": cursor}).position == Position(key)
        others = {InvoiceQuery, PaymentQuery, NoteQuery} - {query}
        for other in others:
            with pytest.raises(ValidationError):
                other.model_validate({"cursor": cursor})
    assert InvoiceQuery.model_validate({}).limit == 20
    assert ReadingQuery.model_validate({}).limit == 100
    for query, most in ((InvoiceQuery, 100), (ReadingQuery, 1000)):
        assert query.model_validate({"limit": str(most)}).limit == most
        with pytest.raises(ValidationError):
            query.model_validate({"limit": str(most + 1)})
    with pytest.raises(ValidationError):  # the page numbers are gone
        PaymentQuery.model_validate({"page": "2"})


# read_page over a list of numbers, newest (largest) first, as a keyset query would find them.
NUMBERS = Keyset("numbers", ("text",))


def fetcher(values: list[int], limit: int, calls: list[Position | None]):  # type: ignore[no-untyped-def]
    async def fetch(position: Position | None) -> tuple[list[str], bool]:
        calls.append(position)
        newest_first = sorted(values, reverse=True)
        if position is None:
            found = newest_first
        elif position.newer:
            found = sorted(v for v in values if v > int(position.key[0]))
        else:
            found = [v for v in newest_first if v < int(position.key[0])]
        page = found[:limit]
        if position is not None and position.newer:
            page.reverse()
        return [f"{v:03d}" for v in page], len(found) > limit

    return fetch


async def page_of(values: list[int], cursor: str | None, calls: list | None = None):  # type: ignore[no-untyped-def]
    position = NUMBERS.decode(cursor) if cursor else None
    return await read_page(
        fetcher(values, 3, [] if calls is None else calls), NUMBERS, lambda v: (v,), position
    )


async def test_pages_walk_older_and_back_newer() -> None:
    values = list(range(1, 9))  # 8 rows, pages of 3
    first, next1, prev1 = await page_of(values, None)
    assert first == ["008", "007", "006"] and prev1 is None
    second, next2, prev2 = await page_of(values, next1)
    assert second == ["005", "004", "003"]
    third, next3, prev3 = await page_of(values, next2)
    assert third == ["002", "001"] and next3 is None
    back, _, _ = await page_of(values, prev3)
    assert back == second
    calls: list = []
    top, _, top_prev = await page_of(values, prev2, calls)
    # 6, 7, 8 are all that is newer than 5: the first page, asked for again.
    assert top == first and top_prev is None
    assert [c is None for c in calls] == [False, True]


async def test_newer_from_near_the_top_answers_the_whole_first_page() -> None:
    values = list(range(1, 9))
    _, next1, _ = await page_of(values, None)
    _, _, prev2 = await page_of(values, next1)
    values.append(9)  # a new row arrives at the top
    calls: list = []
    page, _, prev = await page_of(values, prev2, calls)
    # 6, 7, 8 and 9 are newer than 5: a page of three with more beyond it.
    assert page == ["008", "007", "006"] and prev is not None
    top, _, top_prev = await page_of(values, prev, calls)
    assert top == ["009", "008", "007"] and top_prev is None
    assert calls[-2].newer and calls[-1] is None


async def test_a_cursor_past_the_end_answers_no_rows_and_the_way_back() -> None:
    rows, next_cursor, prev_cursor = await page_of([5, 6], NUMBERS.encode(("001",)))
    assert rows == [] and next_cursor is None
    assert prev_cursor is not None and NUMBERS.decode(prev_cursor).newer
    rows, next_cursor, prev_cursor = await page_of([], None)
    assert (rows, next_cursor, prev_cursor) == ([], None, None)
