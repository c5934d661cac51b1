"""Identity's rules: secrets, hashing, password policy, what a registration or activation leads
to, and how an account moves through its states. No I/O here."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn_rs_py import zxcvbn

from shared.events import identity as identity_events

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verified against when a login does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

CAPTCHA_ALPHABET = "ACDEFHJKLMNPRTUVWXY3479"
CAPTCHA_LENGTH = 5
_OTP_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "lIO0o1")
OTP_LENGTH = 14
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# zxcvbn's score (0-4): below 3 means fewer than 10^8 guesses, what a list of leaked passwords
# with a few rules (capitals, digits, years, keyboard walks, l33t) reaches (decision 48).
MIN_PASSWORD_SCORE = 3
# zxcvbn's cost grows with the square of the length and, for many l33t characters, far beyond
# (0.5 s for 128 of them): only the start is judged, under 0.1 s in the worst case. A password
# whose first 32 characters are not guessable is not a common one.
_STRENGTH_CHECKED_LENGTH = 32
# What an attacker who targets this site tries first, besides the login.
_SITE_WORDS = ("ebok", "e-bok", "wodociagi", "wodociągi", "kanalizacja", "woda")

# What a manager account holds before its activation link is followed: no password verifies
# against it (verify_password answers False for a value that is not an argon2 hash).
NO_PASSWORD_HASH = "!"  # noqa: S105 - not a secret: a placeholder that matches nothing


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret_token() -> str:
    """A link or refresh token: 256 bits from `secrets`, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """Tokens are stored only as their SHA-256: they are long and random, so no salt is needed."""
    return hashlib.sha256(token.encode()).digest()


def new_one_time_password() -> str:
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(OTP_LENGTH))


def new_login() -> str:
    return f"e{secrets.randbelow(10**9):09d}"


def new_captcha_answer() -> str:
    return "".join(secrets.choice(CAPTCHA_ALPHABET) for _ in range(CAPTCHA_LENGTH))


def normalize_captcha_answer(answer: str) -> str:
    return "".join(answer.split()).upper()


def captcha_digest(captcha_id: str, answer: str) -> bytes:
    return hashlib.sha256(f"{captcha_id}:{normalize_captcha_answer(answer)}".encode()).digest()


def amounts_match(expected: Decimal, given: Decimal) -> bool:
    return expected.quantize(Decimal("0.01")) == given.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class PasswordProblem:
    code: str
    message: str  # in English; clients word `code` themselves


def password_problems(
    password: str, login: str, current: str | None = None
) -> list[PasswordProblem]:
    """What is wrong with a new password."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(
            PasswordProblem(
                "password_too_short", f"must have at least {MIN_PASSWORD_LENGTH} characters"
            )
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            PasswordProblem(
                "password_too_long", f"must have at most {MAX_PASSWORD_LENGTH} characters"
            )
        )
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append(
            PasswordProblem(
                "password_needs_letters_and_digits", "must contain both letters and digits"
            )
        )
    if login and login.lower() in password.lower():
        problems.append(PasswordProblem("password_contains_login", "must not contain the login"))
    if current is not None and password == current:
        problems.append(
            PasswordProblem("password_same_as_current", "must differ from the current password")
        )
    if not problems and _too_guessable(password, login):
        problems.append(PasswordProblem("password_too_common", "is too common or easy to guess"))
    return problems


def _too_guessable(password: str, login: str) -> bool:
    """Whether the password is, or is made from, a common one (zxcvbn's lists of leaked
    passwords, words, names, keyboard walks, dates), judged offline."""
    user_inputs = [login, *_SITE_WORDS] if login else list(_SITE_WORDS)
    estimate = zxcvbn(password[:_STRENGTH_CHECKED_LENGTH], user_inputs)
    return int(estimate.score) < MIN_PASSWORD_SCORE  # a Score enum, not an int as typed


# --- registration ---------------------------------------------------------------------------


class InvoiceOnRecord(NamedTuple):
    """An invoice from billing's feed: whose it is, its gross amount, when it was issued."""

    customer_id: str
    gross: Decimal
    issued_on: date


@dataclass(frozen=True)
class Applicant:
    """Who registers, for which customer, as the registration keeps it until activation."""

    customer_id: str
    invoice_number: str
    email: str
    phone: str | None
    language: str
    terms_version: str


@dataclass(frozen=True)
class TermsOutdated:
    current: str


@dataclass(frozen=True)
class InvoiceNotMatching:
    pass


@dataclass(frozen=True)
class TellOwner:
    """The customer has an account already: its owner is told, the caller learns nothing."""


@dataclass(frozen=True)
class StartRegistration:
    customer_id: str


@dataclass(frozen=True)
class HeldForHolder:
    """An operator gave the account back to its holder lately: until the hold ends, only the
    address the ERP has on file may register; anyone else is answered as usual, and the address
    on file is told."""

    customer_id: str


RegistrationDecision = (
    TermsOutdated | InvoiceNotMatching | TellOwner | StartRegistration | HeldForHolder
)


def decide_registration(
    *,
    accepted_terms: str,
    current_terms: str,
    invoice: InvoiceOnRecord | None,
    given_amount: Decimal,
    has_account: bool,
    oldest_accepted: date,
    given_email: str = "",
    held_for: str | None = None,
) -> RegistrationDecision:
    """What a registration with a solved CAPTCHA leads to (`held_for`: the address on file, while
    an operator's reclaim holds the customer for it). A wrong invoice number, a wrong
    amount and an invoice issued before `oldest_accepted` are one answer, so that none can be
    probed on its own; an old invoice (found in a drawer, a bin, a former tenant's papers) proves
    nothing about who holds the contract today."""
    if accepted_terms != current_terms:
        return TermsOutdated(current_terms)
    if (
        invoice is None
        or not amounts_match(invoice.gross, given_amount)
        or invoice.issued_on < oldest_accepted
    ):
        return InvoiceNotMatching()
    if has_account:
        return TellOwner()
    if held_for is not None and held_for.strip().lower() != given_email.strip().lower():
        return HeldForHolder(invoice.customer_id)
    return StartRegistration(invoice.customer_id)


def mask_email(address: str) -> str:
    """Enough of an address for its owner to recognise it, not enough to write to it."""
    local, _, domain_part = address.partition("@")
    return f"{local[:1]}***@{domain_part}"


def customer_to_be_told(on_file: str | None, given: str) -> bool:
    """Whether the address the ERP has on file hears of a registration made with `given`."""
    return bool(on_file) and on_file.strip().lower() != given.strip().lower()


def may_send_new_activation_link(previous_status: str | None, has_account: bool) -> bool:
    """A new link replaces one not used yet, while the customer has no account."""
    return previous_status is not None and previous_status != "used" and not has_account


class ActivationRefusal(StrEnum):
    INVALID = "activation-link-invalid"
    USED = "activation-link-used"
    SUPERSEDED = "activation-link-superseded"
    EXPIRED = "activation-link-expired"
    ALREADY_ACTIVATED = "already-activated"


def refuse_activation(
    status: str | None, expired: bool, has_account: bool
) -> ActivationRefusal | None:
    """Why an activation link (its registration's status, None when unknown) cannot activate."""
    if status is None:
        return ActivationRefusal.INVALID
    if status == "used":
        return ActivationRefusal.USED
    if status == "superseded":
        return ActivationRefusal.SUPERSEDED
    if expired:
        return ActivationRefusal.EXPIRED
    if has_account:
        return ActivationRefusal.ALREADY_ACTIVATED
    return None


# --- the account's states -------------------------------------------------------------------
#
# awaiting_credentials_email → (the email with login and one-time password was sent)
# awaiting_activation_email → (the "Account activation" email was sent) → active.
# Login works only once active. Each step follows the delivery of the email that the event of
# the previous step asked for; identity knows its events, not notifications' templates.


@dataclass(frozen=True)
class AccountStep:
    from_status: str
    to_status: str
    announce_activation: bool  # publish identity.account.activated: it asks for the third email


_STEP_AFTER_EMAIL_FOR = {
    identity_events.CredentialsIssued.TYPE: AccountStep(
        "awaiting_credentials_email", "awaiting_activation_email", announce_activation=True
    ),
    identity_events.AccountActivated.TYPE: AccountStep(
        "awaiting_activation_email", "active", announce_activation=False
    ),
}


E = TypeVar("E", bound=identity_events.AccountEmail)


def account_email(event: type[E], account: Mapping[str, Any], **fields: Any) -> E:
    """An event that asks for an email to the owner of `account` (an accounts row), with the
    event's own `fields`."""
    return event(
        account_id=account["id"],
        email=account["email"],
        language=account["language"],
        login=account["login"],
        **fields,
    )


def step_after_email(source_event_type: str | None) -> AccountStep | None:
    """How an account moves on once the email asked for by an event of this type was sent."""
    return _STEP_AFTER_EMAIL_FOR.get(source_event_type or "")


class LoginRefusal(StrEnum):
    LOCKED = "account-locked"
    NOT_ACTIVE = "account-not-active"


def refuse_login(status: str) -> LoginRefusal | None:
    """Why an account whose password was right still may not log in."""
    if status == "locked":
        return LoginRefusal.LOCKED
    if status != "active":
        return LoginRefusal.NOT_ACTIVE
    return None
