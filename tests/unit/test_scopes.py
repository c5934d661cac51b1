"""Whose account a request is about (shared/scopes.py): the rules without a database."""

from __future__ import annotations

import pytest

from shared.auth import Principal
from shared.grants import Grant
from shared.http.problems import Problem
from shared.scopes import (
    Scope,
    customer_scope,
    manager_scope,
    require_whole_customer,
    selected_customer,
)

CUSTOMER = Principal("acc-1", "customer", "jan", customer_ids=("C-1",))
FULL = Grant("C-1", False, ())
PARTIAL = Grant("C-2", True, ("SP-2a",))


def test_a_customer_sees_their_own_account_named_or_not() -> None:
    assert customer_scope(CUSTOMER, None) == Scope("C-1")
    assert customer_scope(CUSTOMER, "C-1") == Scope("C-1")


def test_a_customer_naming_another_gets_404() -> None:
    with pytest.raises(Problem) as caught:
        customer_scope(CUSTOMER, "C-2")
    assert caught.value.status == 404


def test_a_manager_with_one_grant_needs_no_selector() -> None:
    assert manager_scope([FULL], None) == Scope("C-1")
    assert manager_scope([PARTIAL], None) == Scope("C-2", True, ("SP-2a",))


def test_a_manager_with_two_grants_must_name_the_customer() -> None:
    with pytest.raises(Problem) as caught:
        manager_scope([FULL, PARTIAL], None)
    assert caught.value.status == 422
    assert caught.value.errors is not None
    assert [e["field"] for e in caught.value.errors] == ["customer"]
    assert manager_scope([PARTIAL], "C-2").partial


def test_a_manager_without_a_grant_over_the_customer_gets_404() -> None:
    for found, selected in (([], None), ([], "C-9"), ([FULL], "C-2")):
        with pytest.raises(Problem) as caught:
            manager_scope(found, selected)
        assert caught.value.status == 404


@pytest.mark.parametrize("value", ["", "a b", "x" * 65, "C-1\x00"])
def test_a_selector_that_is_no_customer_id_is_422_naming_it(value: str) -> None:
    with pytest.raises(Problem) as caught:
        selected_customer({"customer": value})
    assert caught.value.status == 422
    assert caught.value.errors is not None
    assert caught.value.errors[0]["field"] == "customer"
    assert selected_customer({}) is None
    assert selected_customer({"customer": "C-1"}) == "C-1"


def test_whole_customer_actions_are_refused_to_a_partial_grant() -> None:
    require_whole_customer(Scope("C-1"), "E-invoice consent")
    with pytest.raises(Problem) as caught:
        require_whole_customer(Scope("C-2", True, ("SP-2a",)), "E-invoice consent")
    assert (caught.value.status, caught.value.code) == (403, "partial-scope")
