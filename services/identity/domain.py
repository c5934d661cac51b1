"""Identity's rules: secrets, hashing, password policy. No I/O here."""

from __future__ import annotations

import hashlib
import secrets
import string
from decimal import Decimal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

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


def password_problems(password: str, login: str, current: str | None = None) -> list[str]:
    """What is wrong with a new password, in words a customer understands."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must have at most {MAX_PASSWORD_LENGTH} characters")
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        problems.append("must contain both letters and digits")
    if login and login.lower() in password.lower():
        problems.append("must not contain the login")
    if current is not None and password == current:
        problems.append("must differ from the current password")
    return problems
