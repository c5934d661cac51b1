"""Create the keys the settings point at, where they are missing: the JWT key pair (identity
signs, every service verifies) and the sealing key (identity and notifications,
shared/sealing.py).

python -m deploy.keys
"""

from __future__ import annotations

from shared.auth import generate_keypair
from shared.sealing import generate_sealing_key
from shared.settings import Settings


def ensure_keys(settings: Settings, *, asked: bool = False) -> bool:
    """True when a key was written. In production only when `asked` (the command line, as
    compose's `keys` container runs it): never as a side effect of starting something."""
    jwt_missing = not (
        settings.jwt_private_key_file.exists() and settings.jwt_public_key_file.exists()
    )
    sealing_missing = not settings.sealing_key_file.exists()
    if not (jwt_missing or sealing_missing):
        return False
    if settings.env == "production" and not asked:
        raise SystemExit("refusing to generate keys in production: mount your own")
    if jwt_missing:
        generate_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
    if sealing_missing:
        generate_sealing_key(settings.sealing_key_file)
    return True


if __name__ == "__main__":
    s = Settings()
    created = ensure_keys(s, asked=True)
    print(
        ("created keys in " if created else "kept the keys in ")
        + str(s.jwt_private_key_file.parent)
    )
