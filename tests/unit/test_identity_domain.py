from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest

from services.identity import domain


def test_passwords_are_argon2id_and_verify() -> None:
    hashed = domain.hash_password("Kranowka2026!")
    assert hashed.startswith("$argon2id$")
    assert domain.verify_password(hashed, "Kranowka2026!")
    assert not domain.verify_password(hashed, "kranowka2026!")
    assert not domain.verify_password(None, "anything")
    assert not domain.verify_password("not-a-hash", "anything")


def test_password_policy_names_each_problem() -> None:
    def codes(password: str, login: str, current: str | None = None) -> list[str]:
        return [p.code for p in domain.password_problems(password, login, current)]

    assert codes("Kranowka2026!", "e123") == []
    assert codes("ab1", "e1") == ["password_too_short"]
    assert codes("a1" * 65, "e1") == ["password_too_long"]
    assert codes("abcdefghijk", "e1") == ["password_needs_letters_and_digits"]
    assert codes("xe123456789y1", "e123456789") == ["password_contains_login"]
    assert codes("Kranowka2026!", "e1", "Kranowka2026!") == ["password_same_as_current"]
    assert [p.message for p in domain.password_problems("abc", "e1")] == [
        "must have at least 10 characters",
        "must contain both letters and digits",
    ]


@pytest.mark.parametrize(
    "password",
    [
        "Password123",
        "Qwerty12345",
        "Warszawa2024",  # a place and a recent year
        "Krakow2023",
        "Haslo12345",
        "1qaz2wsx3edc",  # a keyboard walk
        "Zaq12wsxcde",
        "Agnieszka1",  # a name and a digit
        "P@ssw0rd2025",  # l33t does not hide it
        "Ebok12345678",  # the site's name
        "Wodociagi2026",
    ],
)
def test_common_passwords_are_refused(password: str) -> None:
    problems = domain.password_problems(password, "e123")
    assert [(p.code, p.message) for p in problems] == [
        ("password_too_common", "is too common or easy to guess")
    ]


def test_a_password_made_from_the_login_is_refused() -> None:
    # The login reversed: not contained in it, but an attacker's first guess all the same.
    assert domain.password_problems("372819405e!x", "e1") == []
    problems = domain.password_problems("372819405e!x", "e504918273")
    assert [(p.code, p.message) for p in problems] == [
        ("password_too_common", "is too common or easy to guess")
    ]


@pytest.mark.parametrize(
    "password",
    [
        "Kranowka2026!",
        "Zdroj2026wody",
        "jasny7Pociag9lata",
        "Lipa pod oknem 1987",
        "Zielona herbata 4 razy",
        "B4kt7qP2xv",  # ten random characters
        "Tr3s-Kolorowe-Ptaki",
        "Rower i 2 koła",
    ],
)
def test_reasonable_passwords_and_passphrases_are_accepted(password: str) -> None:
    assert domain.password_problems(password, "e123456789") == []


def test_commonness_is_judged_only_once_the_other_rules_hold() -> None:
    def codes(password: str, login: str = "e123456789") -> list[str]:
        return [p.code for p in domain.password_problems(password, login)]

    # Weak in every way, but one clear reason each.
    assert codes("qwerty1") == ["password_too_short"]
    assert codes("passwordpassword") == ["password_needs_letters_and_digits"]
    assert codes("e1234567892024") == ["password_contains_login"]
    # Only the first characters are judged, so a long password costs no more than a short one.
    assert codes("Password123" + "x" * 117) == ["password_too_common"]
    assert codes("jasny7Pociag9lata" + "1" * 111) == []


def test_the_commonness_check_is_fast_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the password check must not use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    # The worst kind of input for zxcvbn: many l33t characters (0.5 s for 128 of them).
    hardest = ("4@8({[<3=6&!|1l7+0$5%2x9" * 6)[: domain.MAX_PASSWORD_LENGTH]
    started = time.perf_counter()
    judged = domain.password_problems(hardest, "e1")
    assert domain.password_problems("Kranowka2026!", "e1") == []
    assert time.perf_counter() - started < 0.25
    assert [p.code for p in judged] in ([], ["password_too_common"])  # it got that far


def test_one_time_passwords_and_tokens_are_random_and_unambiguous() -> None:
    otps = {domain.new_one_time_password() for _ in range(200)}
    assert len(otps) == 200
    assert all(len(p) == domain.OTP_LENGTH and not set(p) & set("lIO0o1") for p in otps)
    tokens = {domain.new_secret_token() for _ in range(200)}
    assert len(tokens) == 200 and all(len(t) >= 43 for t in tokens)


def test_token_digest_is_stable_and_hides_the_token() -> None:
    token = domain.new_secret_token()
    assert domain.token_digest(token) == domain.token_digest(token)
    assert token.encode() not in domain.token_digest(token)
    assert len(domain.token_digest(token)) == 32


def test_captcha_answers_ignore_case_and_spaces() -> None:
    digest = domain.captcha_digest("id-1", "AC37K")
    assert domain.captcha_digest("id-1", " ac 37k ") == digest
    assert domain.captcha_digest("id-2", "AC37K") != digest
    assert domain.captcha_digest("id-1", "AC37X") != digest
    answer = domain.new_captcha_answer()
    assert len(answer) == domain.CAPTCHA_LENGTH and set(answer) <= set(domain.CAPTCHA_ALPHABET)


def test_invoice_amounts_compare_to_the_grosz() -> None:
    assert domain.amounts_match(Decimal("108.00"), Decimal("108"))
    assert domain.amounts_match(Decimal("108.00"), Decimal("108.0"))
    assert not domain.amounts_match(Decimal("108.00"), Decimal("108.01"))
