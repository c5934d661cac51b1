"""The rules of manager requests and grants: NIP check digits, property matching, revisions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.identity import manager_domain as md
from shared.api.identity import GrantIn, normalize_nip

HOME = {"street": "ul. Wodna", "building": "7", "apartment": "3", "postal_code": "00-950"}


@pytest.mark.parametrize("nip", ["5260001246", "526-000-12-46", "526 000 12 46", "PL5260001246"])
def test_a_valid_nip_is_kept_as_its_ten_digits(nip: str) -> None:
    assert normalize_nip(nip) == "5260001246"


@pytest.mark.parametrize(
    ("nip", "why"),
    [
        ("5260001247", "check digit"),
        ("526000124", "ten digits"),
        ("52600012AB", "ten digits"),
        ("1234567890", "check digit"),  # its weighted sum modulo 11 is 10: no NIP has it
    ],
)
def test_an_invalid_nip_is_refused(nip: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        normalize_nip(nip)


def test_a_partial_grant_lists_points_and_a_full_one_none() -> None:
    with pytest.raises(ValidationError, match="lists its service points"):
        GrantIn(customer_id="C-1", scope="partial")
    with pytest.raises(ValidationError, match="list none"):
        GrantIn(customer_id="C-1", scope="full", service_point_ids=["SP-1"])


def test_reference_numbers() -> None:
    assert md.reference_number(2026, 42) == "MR-2026-000042"


def candidate(point: str, customer: str = "C-1", **address: str) -> md.Candidate:
    return md.Candidate(point, customer, "U-1", {**HOME, "city": "Warszawa", **address})


def test_the_address_matches_whatever_its_spelling() -> None:
    given = {"street": "WODNA", "building": "7", "apartment": "3", "postal_code": "00-950"}
    result = md.match_property(given, [candidate("SP-1"), candidate("SP-2", building="9")])
    assert result.match == "matched" and result.customer_id == "C-1"
    assert [(c.service_point_id, hit) for c, hit in result.service_points] == [
        ("SP-1", True),
        ("SP-2", False),
    ]


def test_a_proof_whose_points_the_address_does_not_name_is_ambiguous() -> None:
    result = md.match_property({**HOME, "building": "70"}, [candidate("SP-1")])
    assert (result.match, result.customer_id) == ("ambiguous", "C-1")


def test_a_proof_that_names_nothing_is_unmatched() -> None:
    assert md.match_property(HOME, []).match == "unmatched"


def test_an_invoice_with_another_amount_is_unmatched() -> None:
    invoice = ("C-1", Decimal("108.00"))
    assert md.match_property(HOME, [candidate("SP-1")], invoice, Decimal("108")).match == (
        "matched"
    )
    assert md.match_property(HOME, [candidate("SP-1")], invoice, Decimal("99.00")).match == (
        "unmatched"
    )


def test_revisions_and_unchanged_grants() -> None:
    assert md.next_revision(None) == 1 and md.next_revision(4) == 5
    assert md.unchanged("partial", ["b", "a"], False, "partial", ["a", "b"], False)
    assert not md.unchanged("partial", ["a"], False, "full", [], False)
    assert not md.unchanged("full", [], False, "full", [], True)
    assert md.unchanged("full", [], True, "partial", ["a"], True)
    assert not md.unchanged("full", [], True, "full", [], False)
