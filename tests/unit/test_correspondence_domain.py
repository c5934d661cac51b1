"""Correspondence's rules: case numbers, what the back office's update does to a case, titles."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from services.correspondence import domain
from shared.events.correspondence import CASE_NUMBER_PATTERN

T0 = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def test_case_numbers_are_six_digits_in_their_year() -> None:
    assert domain.case_number(2026, 123) == "KOR/2026/000123"
    assert domain.case_number(2027, 1) == "KOR/2027/000001"
    assert domain.case_number(2026, 999_999) == "KOR/2026/999999"
    for seq in (1, 42, 999_999):
        assert re.fullmatch(CASE_NUMBER_PATTERN, domain.case_number(2026, seq))


@pytest.mark.parametrize("seq", [0, 1_000_000])
def test_a_number_outside_six_digits_is_refused(seq: int) -> None:
    with pytest.raises(domain.NumbersExhausted):
        domain.case_number(2026, seq)


def test_open_statuses() -> None:
    assert [s for s in domain.STATUSES if domain.is_open(s)] == [
        "submitted",
        "registered",
        "in-progress",
        "answered",
    ]


def test_an_open_case_takes_any_status_the_back_office_sets() -> None:
    assert domain.apply_update("submitted", None, "registered", T0, None, False) == domain.Update(
        "registered", False
    )
    # The conversation goes on: an answered case may be in progress again.
    assert domain.apply_update("answered", T0, "in-progress", T0 + timedelta(1), None, False) == (
        domain.Update("in-progress", False)
    )
    assert domain.apply_update("in-progress", T0, "rejected", T0, None, False).status == "rejected"


def test_a_reply_without_a_new_status_joins_the_thread_only() -> None:
    update = domain.apply_update("in-progress", T0, "in-progress", T0, "We are on it", False)
    assert update == domain.Update(None, True)
    assert update.changes_anything


def test_the_same_update_again_changes_nothing() -> None:
    update = domain.apply_update("answered", T0, "answered", T0, "Fixed", True)
    assert update == domain.Update(None, False)
    assert not update.changes_anything


def test_an_older_update_arriving_late_does_not_take_the_case_back() -> None:
    update = domain.apply_update(
        "answered", T0, "registered", T0 - timedelta(minutes=5), "Registered", False
    )
    assert update == domain.Update(None, True)  # its reply still joins the thread


@pytest.mark.parametrize("final", ["closed", "rejected"])
def test_a_final_case_takes_no_further_status_or_reply(final: str) -> None:
    with pytest.raises(domain.Refused, match=f"the case is {final}"):
        domain.apply_update(final, T0, "in-progress", T0 + timedelta(1), None, False)  # type: ignore[arg-type]
    with pytest.raises(domain.Refused):
        domain.apply_update(final, T0, final, T0 + timedelta(1), "One more thing", False)  # type: ignore[arg-type]
    # Though the same final update again is harmless.
    assert not domain.apply_update(final, T0, final, T0, "Done", True).changes_anything  # type: ignore[arg-type]


def test_titles_name_the_case() -> None:
    assert domain.title("question", subject="  Water  meter\nreading ") == "Water meter reading"
    assert domain.title("failure", place="Wodna 7/3, 00-950 Warszawa") == (
        "Wodna 7/3, 00-950 Warszawa"
    )
    assert domain.title("billing-complaint", invoice_number="FV/2026/1") == "FV/2026/1"
    assert domain.title("data-change", fields=["name", "phone"]) == "name, phone"
    long = domain.title("question", subject="x" * 300)
    assert len(long) == domain.TITLE_MAX and long.endswith("…")


def test_address_line() -> None:
    address = {
        "street": "Wodna",
        "building": "7",
        "apartment": "3",
        "postal_code": "00-950",
        "city": "Warszawa",
    }
    assert domain.address_line(address) == "Wodna 7/3, 00-950 Warszawa"
    assert domain.address_line({**address, "apartment": None}) == "Wodna 7, 00-950 Warszawa"


def test_request_hash_tells_bodies_and_customers_apart() -> None:
    body = {"kind": "question", "subject": "a", "description": "b", "attachment_ids": []}
    assert domain.request_hash("C-1", body) == domain.request_hash(
        "C-1", dict(reversed(body.items()))
    )
    assert domain.request_hash("C-1", body) != domain.request_hash("C-2", body)
    assert domain.request_hash("C-1", body) != domain.request_hash("C-1", {**body, "subject": "c"})
