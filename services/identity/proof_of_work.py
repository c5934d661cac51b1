"""A proof of work in front of every CAPTCHA (ALTCHA-style: stateless, cookie-free, accessible —
the browser does the work, the person does nothing).

Identity hands out a challenge: `challenge = SHA-256(salt + number)` for a secret random
`number` ≤ `maxnumber`, the salt carrying its expiry, the whole signed with HMAC. The client
finds `number` by trying them in turn (on average maxnumber / 2 hashes) and sends it back with
the challenge; only then is a CAPTCHA made. Asking for a challenge costs identity one HMAC; each
CAPTCHA costs the asker ~maxnumber/2 hashes first. docs/decisions.md has the measured costs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.settings import Settings

ALGORITHM = "SHA-256"
_LABEL = b"ebok-captcha-proof-of-work-v1"


@dataclass(frozen=True)
class Challenge:
    algorithm: str
    challenge: str
    salt: str
    maxnumber: int
    signature: str


def _signing_key(settings: Settings) -> bytes:
    # Derived from the sealing key identity already holds: no further secret to manage.
    return hmac.new(settings.sealing_key_file.read_bytes().strip(), _LABEL, "sha256").digest()


def _sign(key: bytes, challenge: str) -> str:
    return hmac.new(key, challenge.encode(), "sha256").hexdigest()


def _hash(salt: str, number: int) -> str:
    return hashlib.sha256(f"{salt}{number}".encode()).hexdigest()


def new_challenge(settings: Settings, now: float) -> Challenge:
    maxnumber = settings.captcha_pow_max_number
    expires = int(now) + settings.captcha_pow_ttl_seconds
    salt = f"{secrets.token_hex(12)}?expires={expires}&"
    challenge = _hash(salt, secrets.randbelow(maxnumber + 1))
    return Challenge(
        ALGORITHM, challenge, salt, maxnumber, _sign(_signing_key(settings), challenge)
    )


def refuse(
    settings: Settings,
    *,
    algorithm: str,
    challenge: str,
    salt: str,
    number: int,
    signature: str,
    now: float,
) -> str | None:
    """Why the proof does not hold, or None when it does (its single use is checked apart)."""
    if algorithm != ALGORITHM:
        return f"the algorithm must be {ALGORITHM}"
    if not hmac.compare_digest(signature, _sign(_signing_key(settings), challenge)):
        return "the challenge was not issued here"
    expires = _expiry(salt)
    if expires is None:
        return "the salt names no expiry"
    if expires <= now:
        return "the challenge has expired; ask for a new one"
    if not 0 <= number <= settings.captcha_pow_max_number or _hash(salt, number) != challenge:
        return "the number does not solve the challenge"
    return None


def _expiry(salt: str) -> int | None:
    _, _, query = salt.partition("?")
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == "expires" and value.isdigit():
            return int(value)
    return None


def solve(challenge: Challenge) -> int:
    """The number, by trying them in turn: what a client does (the tests' and benchmarks' one)."""
    for number in range(challenge.maxnumber + 1):
        if _hash(challenge.salt, number) == challenge.challenge:
            return number
    raise ValueError("unsolvable challenge")
