"""Secrets that must travel in an event (an activation link, a one-time password) travel sealed:
encrypted and authenticated (Fernet: AES-128-CBC + HMAC-SHA256) with a key only the sender and
the one service that must read them hold (identity and notifications). The outbox rows, the
broker's queues (retry and dead-letter ones included) and any copy of the message hold only
ciphertext; notifications unseals at the moment it renders the email."""

from __future__ import annotations

import functools
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shared.settings import Settings

PREFIX = "sealed:v1:"
# What a sealed value looks like in an event's schema.
SEALED_PATTERN = r"^sealed:v1:[A-Za-z0-9_=-]+$"


class UnsealError(ValueError):
    """Not a sealed value, or sealed with another key, or altered."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, secret: str) -> str:
        return PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def unseal(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise UnsealError("the value is not sealed")
        try:
            return self._fernet.decrypt(sealed.removeprefix(PREFIX)).decode()
        except InvalidToken:
            raise UnsealError("the value was sealed with another key, or altered") from None


def generate_sealing_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(Fernet.generate_key())
    path.chmod(0o600)


@functools.cache
def _sealer_for(path: Path) -> Sealer:
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        raise RuntimeError(
            f"sealing key not found at {path}: set EBOK_SEALING_KEY_FILE or run "
            "`python -m deploy.keys` to create one"
        ) from None
    return Sealer(key)


def sealer(settings: Settings) -> Sealer:
    """The sealer of the key the settings name (read once per process)."""
    return _sealer_for(settings.sealing_key_file)
