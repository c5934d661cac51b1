from __future__ import annotations

from pathlib import Path

import pytest

from services.identity import proof_of_work
from shared.sealing import generate_sealing_key
from shared.settings import Settings

NOW = 1_800_000_000.0


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    generate_sealing_key(tmp_path / "sealing.key")
    return Settings(
        sealing_key_file=tmp_path / "sealing.key",
        captcha_pow_max_number=500,
        captcha_pow_ttl_seconds=60,
    )


def proof(challenge: proof_of_work.Challenge, **changes: object) -> dict[str, object]:
    fields = {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "salt": challenge.salt,
        "number": proof_of_work.solve(challenge),
        "signature": challenge.signature,
    }
    return {**fields, **changes}


def test_a_solved_challenge_holds(settings: Settings) -> None:
    challenge = proof_of_work.new_challenge(settings, NOW)
    assert challenge.maxnumber == 500 and challenge.algorithm == "SHA-256"
    assert proof_of_work.refuse(settings, **proof(challenge), now=NOW + 59) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"number": -1}, "the number does not solve the challenge"),
        ({"salt": "other?expires=9999999999&"}, "the number does not solve the challenge"),
        ({"signature": "f" * 64}, "the challenge was not issued here"),
        ({"algorithm": "SHA-1"}, "the algorithm must be SHA-256"),
    ],
)
def test_a_forged_or_wrong_proof_is_refused(
    settings: Settings, change: dict[str, object], why: str
) -> None:
    challenge = proof_of_work.new_challenge(settings, NOW)
    assert proof_of_work.refuse(settings, **proof(challenge, **change), now=NOW) == why  # type: ignore[arg-type]


def test_an_expired_challenge_is_refused(settings: Settings) -> None:
    challenge = proof_of_work.new_challenge(settings, NOW)
    why = proof_of_work.refuse(settings, **proof(challenge), now=NOW + 61)  # type: ignore[arg-type]
    assert why == "the challenge has expired; ask for a new one"


def test_another_key_signed_challenge_is_refused(settings: Settings, tmp_path: Path) -> None:
    generate_sealing_key(tmp_path / "other.key")
    other = settings.model_copy(update={"sealing_key_file": tmp_path / "other.key"})
    challenge = proof_of_work.new_challenge(other, NOW)
    assert proof_of_work.refuse(settings, **proof(challenge), now=NOW) == (  # type: ignore[arg-type]
        "the challenge was not issued here"
    )
