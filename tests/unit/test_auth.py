from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shared.auth import Principal, TokenSigner, TokenVerifier, generate_keypair, key_id
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


# Key ids and rotation (docs/operations.md, "Keys").

TOKEN_NOT_VALID = "The access token is not valid"
PRINCIPAL = Principal(account_id="a-1", role="customer", login="e1", customer_ids=("C-1",))


def pair(directory: Path) -> tuple[Path, Path]:
    generate_keypair(directory / "private.pem", directory / "public.pem")
    return directory / "private.pem", directory / "public.pem"


def signing_with(private: Path, public: Path, *previous: Path) -> Settings:
    return Settings(
        jwt_private_key_file=private,
        jwt_public_key_file=public,
        jwt_previous_public_key_files=list(previous),
    )


def header_of(token: str) -> dict:
    return jwt.get_unverified_header(token)


def with_header(token: str, header: dict) -> str:
    """The token's payload and signature under another header (not signed again)."""
    _, payload, signature = token.split(".")
    encoded = jwt.utils.base64url_encode(json.dumps(header).encode()).decode()
    return f"{encoded}.{payload}.{signature}"


def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Problem) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    return caught.value.detail


def test_the_key_id_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037, appendix A.2 and A.3: the Ed25519 example key and its thumbprint.
    public = Ed25519PublicKey.from_public_bytes(
        jwt.utils.base64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
    )
    assert key_id(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_a_token_names_the_key_that_signed_it(tmp_path: Path) -> None:
    private, public = pair(tmp_path)
    token, _ = TokenSigner(signing_with(private, public)).issue(PRINCIPAL)
    key = serialization.load_pem_public_key(public.read_bytes())
    assert isinstance(key, Ed25519PublicKey)
    assert header_of(token) == {"alg": "EdDSA", "typ": "JWT", "kid": key_id(key)}


def test_during_a_rotation_tokens_of_the_new_and_the_previous_key_are_accepted(
    tmp_path: Path,
) -> None:
    old_private, old_public = pair(tmp_path / "old")
    new_private, new_public = pair(tmp_path / "new")
    old_token, _ = TokenSigner(signing_with(old_private, old_public)).issue(PRINCIPAL)
    new_token, _ = TokenSigner(signing_with(new_private, new_public)).issue(PRINCIPAL)
    assert header_of(old_token)["kid"] != header_of(new_token)["kid"]

    # Every service: the new key current, the old one still accepted.
    during = TokenVerifier(signing_with(new_private, new_public, old_public))
    assert during.verify(old_token) == PRINCIPAL
    assert during.verify(new_token) == PRINCIPAL
    # Identity may still sign with the old key in that step, or already with the new one.
    assert (
        TokenSigner(signing_with(old_private, new_public, old_public)).kid
        == (header_of(old_token)["kid"])
    )

    # The rotation's end: the old key is dropped, its tokens are refused.
    after = TokenVerifier(signing_with(new_private, new_public))
    assert after.verify(new_token) == PRINCIPAL
    assert refused(after, old_token) == TOKEN_NOT_VALID


def test_a_token_whose_key_id_is_unknown_is_refused(tmp_path: Path) -> None:
    private, public = pair(tmp_path / "current")
    foreign_private, foreign_public = pair(tmp_path / "foreign")
    verifier = TokenVerifier(signing_with(private, public))

    foreign, _ = TokenSigner(signing_with(foreign_private, foreign_public)).issue(PRINCIPAL)
    assert refused(verifier, foreign) == TOKEN_NOT_VALID

    # Signed with the right key but naming no key the verifier has: the kid decides, no key
    # is tried in its place.
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    claims = jwt.decode(
        TokenSigner(signing_with(private, public)).issue(PRINCIPAL)[0],
        options={"verify_signature": False},
    )
    unknown = jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": "no-such-key"})
    assert refused(verifier, unknown) == TOKEN_NOT_VALID


def test_a_tampered_key_id_is_refused(tmp_path: Path) -> None:
    old_private, old_public = pair(tmp_path / "old")
    new_private, new_public = pair(tmp_path / "new")
    verifier = TokenVerifier(signing_with(new_private, new_public, old_public))
    old_token, _ = TokenSigner(signing_with(old_private, old_public)).issue(PRINCIPAL)
    new_token, _ = TokenSigner(signing_with(new_private, new_public)).issue(PRINCIPAL)
    old_kid, new_kid = header_of(old_token)["kid"], header_of(new_token)["kid"]

    for token, kid in ((old_token, new_kid), (new_token, old_kid)):
        swapped = with_header(token, {**header_of(token), "kid": kid})
        assert refused(verifier, swapped) == TOKEN_NOT_VALID
    for kid in (5, None, ["x"], {"kid": new_kid}, ""):
        odd = with_header(new_token, {**header_of(new_token), "kid": kid})
        assert refused(verifier, odd) == TOKEN_NOT_VALID
    assert verifier.verify(new_token) == PRINCIPAL


def test_a_token_without_key_id_verifies_with_the_current_key_only(tmp_path: Path) -> None:
    """Tokens issued before tokens named their key stay valid until they expire."""
    old_private, old_public = pair(tmp_path / "old")
    new_private, new_public = pair(tmp_path / "new")
    verifier = TokenVerifier(signing_with(new_private, new_public, old_public))
    claims = jwt.decode(
        TokenSigner(signing_with(new_private, new_public)).issue(PRINCIPAL)[0],
        options={"verify_signature": False},
    )

    def unnamed(private: Path) -> str:
        key = serialization.load_pem_private_key(private.read_bytes(), password=None)
        token = jwt.encode(claims, key, algorithm="EdDSA")
        assert "kid" not in header_of(token)
        return token

    assert verifier.verify(unnamed(new_private)) == PRINCIPAL
    assert refused(verifier, unnamed(old_private)) == TOKEN_NOT_VALID


def test_identity_refuses_to_sign_with_a_key_no_service_accepts(tmp_path: Path) -> None:
    old_private, _ = pair(tmp_path / "old")
    _, new_public = pair(tmp_path / "new")
    with pytest.raises(RuntimeError, match="EBOK_JWT_PREVIOUS_PUBLIC_KEY_FILES"):
        TokenSigner(signing_with(old_private, new_public))


def test_a_missing_previous_key_is_named(tmp_path: Path) -> None:
    private, public = pair(tmp_path)
    settings = signing_with(private, public, tmp_path / "gone.pem")
    with pytest.raises(RuntimeError, match=r"gone\.pem: set EBOK_JWT_PREVIOUS_PUBLIC_KEY_FILES"):
        TokenVerifier(settings)


def test_previous_keys_are_read_from_a_list_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    name = "EBOK_JWT_PREVIOUS_PUBLIC_KEY_FILES"
    for value, expected in (
        ("", []),
        ("/keys/a.pem", [Path("/keys/a.pem")]),
        ("/keys/a.pem, /keys/b.pem", [Path("/keys/a.pem"), Path("/keys/b.pem")]),
        ('["/keys/a.pem", "/keys/b.pem"]', [Path("/keys/a.pem"), Path("/keys/b.pem")]),
    ):
        monkeypatch.setenv(name, value)
        assert Settings().jwt_previous_public_key_files == expected
    monkeypatch.delenv(name)
    assert Settings().jwt_previous_public_key_files == []
