from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from shared.auth import Principal, TokenSigner, TokenVerifier, generate_keypair
from shared.http.problems import Problem
from shared.settings import Settings


def settings_with_keys(directory: Path, ttl: int = 900) -> Settings:
    generate_keypair(directory / "private.pem", directory / "public.pem")
    return Settings(
        jwt_private_key_file=directory / "private.pem",
        jwt_public_key_file=directory / "public.pem",
        access_token_ttl_seconds=ttl,
    )


def test_a_signed_token_verifies_with_the_public_key(tmp_path: Path) -> None:
    settings = settings_with_keys(tmp_path)
    principal = Principal(
        account_id="a-1",
        role="customer",
        login="e1",
        customer_ids=("C-1",),
        must_change_password=True,
    )
    token, ttl = TokenSigner(settings).issue(principal)
    assert ttl == 900
    assert TokenVerifier(settings).verify(token) == principal
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_tampered_foreign_and_expired_tokens_are_refused(tmp_path: Path) -> None:
    settings = settings_with_keys(tmp_path / "a")
    other = settings_with_keys(tmp_path / "b")
    principal = Principal(account_id="a-1", role="customer", login="e1")
    token, _ = TokenSigner(settings).issue(principal)
    verifier = TokenVerifier(settings)

    header, payload, signature = token.split(".")
    forged_payload = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"customer"', b'"operator"')
    ).decode()
    for bad in (
        f"{header}.{forged_payload}.{signature}",
        TokenSigner(other).issue(principal)[0],
        "garbage",
    ):
        with pytest.raises(Problem) as refused:
            verifier.verify(bad)
        assert refused.value.status == 401

    expired = settings_with_keys(tmp_path / "c", ttl=-1)
    token, _ = TokenSigner(expired).issue(principal)
    with pytest.raises(Problem, match="expired"):
        TokenVerifier(expired).verify(token)


def test_a_token_without_signature_algorithm_is_refused(tmp_path: Path) -> None:
    settings = settings_with_keys(tmp_path)
    unsigned = jwt.encode(
        {
            "sub": "a",
            "role": "operator",
            "exp": int(time.time()) + 60,
            "iat": int(time.time()),
            "iss": "ebok-identity",
            "aud": "ebok",
        },
        key=None,
        algorithm="none",
    )
    with pytest.raises(Problem):
        TokenVerifier(settings).verify(unsigned)


def test_missing_keys_say_how_to_make_them(tmp_path: Path) -> None:
    settings = Settings(jwt_private_key_file=tmp_path / "none.pem")
    with pytest.raises(RuntimeError, match=r"python -m deploy\.keys"):
        TokenSigner(settings)
