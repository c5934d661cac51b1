"""The e-invoice consent's rules (services/billing/e_invoice.py) and its regulations texts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from services.billing import e_invoice
from services.billing.e_invoice import (
    OFF,
    Consent,
    ErpOutcome,
    Link,
    LinkRefusal,
    Pending,
    Refusal,
    Withdrawal,
)
from services.billing.regulations import CURRENT_VERSION, regulations

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(hours=72)
PENDING = Consent("pending", None, Pending("activate", "a@example.com", LATER))
ON = Consent("on", "a@example.com")
ON_CHANGING = Consent("on", "a@example.com", Pending("change-address", "b@example.com", LATER))


def test_turning_on_is_refused_only_while_on() -> None:
    assert e_invoice.refuse_activation(OFF) is None
    assert e_invoice.refuse_activation(PENDING) is None  # the new request supersedes the old
    assert e_invoice.refuse_activation(ON) is Refusal.ALREADY_ON
    assert e_invoice.refuse_activation(ON_CHANGING) is Refusal.ALREADY_ON


def test_the_address_changes_only_while_on_and_to_another_address() -> None:
    assert e_invoice.refuse_address_change(OFF, "b@example.com") is Refusal.NOT_ON
    assert e_invoice.refuse_address_change(PENDING, "b@example.com") is Refusal.NOT_ON
    assert e_invoice.refuse_address_change(ON, "b@example.com") is None
    assert e_invoice.refuse_address_change(ON_CHANGING, "c@example.com") is None
    assert e_invoice.refuse_address_change(ON, "A@Example.com") is Refusal.SAME_ADDRESS


def test_withdrawal_cancels_a_request_withdraws_a_consent_and_refuses_off() -> None:
    assert e_invoice.withdrawal(OFF) is Refusal.ALREADY_OFF
    assert e_invoice.withdrawal(PENDING) is Withdrawal.CANCEL_REQUEST
    assert e_invoice.withdrawal(ON) is Withdrawal.WITHDRAW
    assert e_invoice.withdrawal(ON_CHANGING) is Withdrawal.WITHDRAW
    # The ERP hears of a consent that was on, not of a request that never came into force.
    assert e_invoice.publishes(Withdrawal.WITHDRAW)
    assert not e_invoice.publishes(Withdrawal.CANCEL_REQUEST)


def test_refusals_have_distinct_problem_codes() -> None:
    assert len({r.value for r in Refusal}) == len(Refusal)


def test_who_changes_is_the_callers_role() -> None:
    assert e_invoice.changed_by("customer") == "customer"
    assert e_invoice.changed_by("manager") == "manager"
    with pytest.raises(ValueError, match="operator"):
        e_invoice.changed_by("operator")


def test_tokens_are_long_random_and_stored_as_sha256() -> None:
    a, b = e_invoice.new_token(), e_invoice.new_token()
    assert a != b and len(a) >= 43
    assert e_invoice.token_digest(a) == hashlib.sha256(a.encode()).digest()
    assert e_invoice.token_digest(a) != e_invoice.token_digest(b)


def test_the_link_carries_the_token_in_its_fragment() -> None:
    url = e_invoice.confirmation_url("https://ebok.example/", "tok_en-1")
    assert url == "https://ebok.example/e-invoice/confirm#token=tok_en-1"


def test_links_expire_after_the_hours_set() -> None:
    assert e_invoice.expires_at(NOW, 72) == LATER


@pytest.mark.parametrize(
    ("link", "consent", "now", "refusal"),
    [
        (None, None, NOW, LinkRefusal.INVALID),
        (Link("pending", "activate", LATER), PENDING, NOW, None),
        (Link("pending", "change-address", LATER), ON_CHANGING, NOW, None),
        (Link("used", "activate", LATER), ON, NOW, LinkRefusal.USED),
        (Link("superseded", "activate", LATER), PENDING, NOW, LinkRefusal.SUPERSEDED),
        (Link("cancelled", "activate", LATER), OFF, NOW, LinkRefusal.CANCELLED),
        (Link("pending", "activate", LATER), PENDING, LATER, LinkRefusal.EXPIRED),
        (Link("pending", "activate", LATER), PENDING, LATER - timedelta(seconds=1), None),
        # A used link stays "used" after it expires too.
        (Link("used", "activate", LATER), ON, LATER + timedelta(days=1), LinkRefusal.USED),
        # A link the consent's state no longer matches does nothing.
        (Link("pending", "activate", LATER), ON, NOW, LinkRefusal.CANCELLED),
        (Link("pending", "change-address", LATER), OFF, NOW, LinkRefusal.CANCELLED),
    ],
)
def test_link_refusals(
    link: Link | None, consent: Consent | None, now: datetime, refusal: LinkRefusal | None
) -> None:
    assert e_invoice.refuse_link(link, consent, now) is refusal


@pytest.mark.parametrize(
    ("consent", "state", "address", "outcome"),
    [
        (OFF, "on", "a@example.com", ErpOutcome.ACTIVATED),
        (PENDING, "on", "z@example.com", ErpOutcome.ACTIVATED),
        (ON, "on", "a@example.com", ErpOutcome.NOTHING),
        (ON, "on", "A@EXAMPLE.COM", ErpOutcome.NOTHING),
        (ON_CHANGING, "on", "a@example.com", ErpOutcome.NOTHING),
        (ON, "on", "z@example.com", ErpOutcome.ADDRESS_CHANGED),
        (ON, "off", None, ErpOutcome.WITHDRAWN),
        (ON_CHANGING, "off", None, ErpOutcome.WITHDRAWN),
        (PENDING, "off", None, ErpOutcome.REQUEST_CANCELLED),
        (OFF, "off", None, ErpOutcome.NOTHING),
    ],
)
def test_what_the_erps_change_does(
    consent: Consent, state: str, address: str | None, outcome: ErpOutcome
) -> None:
    assert e_invoice.erp_change(consent, state, address) is outcome  # type: ignore[arg-type]


def test_only_real_changes_are_told_to_the_erp() -> None:
    told = {o for o in ErpOutcome if e_invoice.publishes(o)}
    assert told == {ErpOutcome.ACTIVATED, ErpOutcome.ADDRESS_CHANGED, ErpOutcome.WITHDRAWN}


def test_the_limit_counts_the_request_being_decided() -> None:
    assert not e_invoice.exceeds_limit(10, 10)
    assert e_invoice.exceeds_limit(11, 10)


@pytest.mark.parametrize("language", ["pl", "en", "uk", "ru"])
def test_the_regulations_in_force_exist_in_every_language(language: str) -> None:
    found = regulations(language)  # type: ignore[arg-type]
    assert (found.version, found.language) == (CURRENT_VERSION, language)
    assert found.title and not found.title.startswith("#")
    assert "106n" in found.text and "PDF" in found.text
    assert len(found.text) > 1000
