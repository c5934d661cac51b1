"""Access tokens: short-lived EdDSA-signed JWTs. Identity signs; every service verifies."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.http.problems import Problem
from shared.settings import Settings

ISSUER = "ebok-identity"
AUDIENCE = "ebok"
ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: str
    login: str
    customer_ids: tuple[str, ...] = ()
    must_change_password: bool = False
    grants: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    session_id: str | None = None  # the refresh token family the access token belongs to


def generate_keypair(private_path: Path, public_path: Path) -> None:
    """Write a new Ed25519 key pair (for development and tests; production mounts its own)."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _read_key(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RuntimeError(
            f"{what} not found at {path}: set EBOK_JWT_{what.upper().replace(' ', '_')}_FILE "
            "or run `python -m deploy.keys` to create a development pair"
        ) from None


class TokenSigner:
    def __init__(self, settings: Settings) -> None:
        self._key = serialization.load_pem_private_key(
            _read_key(settings.jwt_private_key_file, "private key"), password=None
        )
        self._ttl = settings.access_token_ttl_seconds

    def issue(self, principal: Principal, not_after: float | None = None) -> tuple[str, int]:
        """A signed access token and its lifetime in seconds: the setting's, cut short at
        `not_after` (the end of the session's absolute lifetime)."""
        now = int(time.time())
        ttl = self._ttl if not_after is None else max(0, min(self._ttl, int(not_after) - now))
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.account_id,
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "role": principal.role,
            "login": principal.login,
            "cid": list(principal.customer_ids),
            "grants": list(principal.grants),
            "mcp": principal.must_change_password,
        }
        if principal.session_id is not None:
            claims["sid"] = principal.session_id
        return jwt.encode(claims, self._key, algorithm=ALGORITHM), ttl


class TokenVerifier:
    """Verifies access tokens. A token already verified is remembered until it expires: the same
    bytes carry the same signed claims, so only the expiry needs checking again."""

    CACHE_SIZE = 50_000

    def __init__(self, settings: Settings) -> None:
        self._key = serialization.load_pem_public_key(
            _read_key(settings.jwt_public_key_file, "public key")
        )
        self._verified: dict[str, tuple[Principal, int]] = {}
        # Ended sessions → when their last access token expires (shared/sessions.py feeds it).
        self._revoked: dict[str, float] = {}

    def verify(self, token: str) -> Principal:
        known = self._verified.get(token)
        if known is not None and known[1] <= time.time():
            del self._verified[token]
            known = None
        if known is None:
            known = self._verify_signature(token)
            if len(self._verified) >= self.CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = known
        principal = known[0]
        if principal.session_id is not None and principal.session_id in self._revoked:
            raise _unauthorized("The session has ended; sign in again")
        return principal

    def revoke(self, session_id: str, valid_until: float) -> None:
        """Refuse the access tokens of `session_id` from now on (until they expire anyway)."""
        self._revoked[session_id] = valid_until

    def forget_expired_revocations(self) -> None:
        now = time.time()
        for session_id in [s for s, until in self._revoked.items() if until <= now]:
            del self._revoked[session_id]

    def _verify_signature(self, token: str) -> tuple[Principal, int]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "role"]},
            )
        except jwt.ExpiredSignatureError:
            raise _unauthorized("The access token has expired") from None
        except jwt.InvalidTokenError:
            raise _unauthorized("The access token is not valid") from None
        principal = Principal(
            account_id=claims["sub"],
            role=claims["role"],
            login=claims.get("login", ""),
            customer_ids=tuple(claims.get("cid", [])),
            must_change_password=bool(claims.get("mcp", False)),
            grants=tuple(claims.get("grants", [])),
            session_id=claims.get("sid"),
        )
        return principal, int(claims["exp"])

    def from_request(self, request: web.Request) -> Principal:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _unauthorized("Send an access token: Authorization: Bearer <token>")
        return self.verify(token.strip())

    def authenticate(self, request: web.Request, *, password_change: bool = False) -> Principal:
        """Verify the bearer token; until the one-time password is changed only that call
        (`password_change=True`) passes."""
        principal = self.from_request(request)
        if principal.must_change_password and not password_change:
            raise Problem(
                403,
                "Password change required",
                "Change the one-time password first: POST /api/v1/me/password",
                code="password-change-required",
            )
        return principal


def _unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        detail,
        code="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="e-BOK"'},
    )
