from __future__ import annotations

from decimal import Decimal

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
