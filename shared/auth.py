"""Access tokens: short-lived EdDSA-signed JWTs. Identity signs; every service verifies.

Each token names its key in the `kid` header (the RFC 7638 thumbprint of the public key), so a
verifier can hold the current public key and, during a rotation, previous ones
(docs/operations.md, "Keys")."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

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


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key's `kid`: its RFC 7638 JWK thumbprint (SHA-256 of the canonical JWK, base64url)."""
    x = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # The required members only, sorted, without whitespace (RFC 7638, section 3).
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _base64url(x)}
    canonical = json.dumps(jwk, separators=(",", ":"), sort_keys=True)
    return _base64url(hashlib.sha256(canonical.encode()).digest())


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _read_key(path: Path, what: str, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise RuntimeError(
            f"{what} not found at {path}: set {setting} "
            "or run `python -m deploy.keys` to create a development pair"
        ) from None


def _load_public_key(path: Path, what: str, setting: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(_read_key(path, what, setting))
    if not isinstance(key, Ed25519PublicKey):
        raise RuntimeError(f"{what} at {path} ({setting}) is not an Ed25519 key")
    return key


def accepted_keys(settings: Settings) -> tuple[str, dict[str, Ed25519PublicKey]]:
    """The current public key's `kid`, and every public key tokens may be signed with, by
    `kid`: the current one and, during a rotation, the previous ones."""
    current = _load_public_key(
        settings.jwt_public_key_file, "public key", "EBOK_JWT_PUBLIC_KEY_FILE"
    )
    keys = {
        key_id(key): key
        for key in (
            _load_public_key(path, "previous public key", "EBOK_JWT_PREVIOUS_PUBLIC_KEY_FILES")
            for path in settings.jwt_previous_public_key_files
        )
    }
    keys[key_id(current)] = current
    return key_id(current), keys


class TokenSigner:
    """Signs with the current private key, naming its public key in the `kid` header."""

    def __init__(self, settings: Settings) -> None:
        key = serialization.load_pem_private_key(
            _read_key(settings.jwt_private_key_file, "private key", "EBOK_JWT_PRIVATE_KEY_FILE"),
            password=None,
        )
        if not isinstance(key, Ed25519PrivateKey):
            raise RuntimeError(
                f"private key at {settings.jwt_private_key_file} (EBOK_JWT_PRIVATE_KEY_FILE) "
                "is not an Ed25519 key"
            )
        self._key = key
        self.kid = key_id(key.public_key())
        # A rotation step done in the wrong order would issue tokens that nobody accepts.
        if self.kid not in accepted_keys(settings)[1]:
            raise RuntimeError(
                "the private key (EBOK_JWT_PRIVATE_KEY_FILE) matches neither "
                "EBOK_JWT_PUBLIC_KEY_FILE nor EBOK_JWT_PREVIOUS_PUBLIC_KEY_FILES: "
                "the tokens it signed would be refused"
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
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self.kid})
        return token, ttl


class TokenVerifier:
    """Verifies access tokens with the key their `kid` names, among the current and previous
    public keys; a token without `kid` (issued before tokens had one) with the current key only.
    A token already verified is remembered until it expires: the same bytes carry the same
    signed claims, so only the expiry needs checking again."""

    CACHE_SIZE = 50_000

    def __init__(self, settings: Settings) -> None:
        self._current_kid, self._keys = accepted_keys(settings)
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
            kid = jwt.get_unverified_header(token).get("kid", self._current_kid)
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise jwt.InvalidTokenError("no such key")
            claims = jwt.decode(
                token,
                key,
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
