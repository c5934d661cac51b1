"""Create a development JWT key pair where the settings point, unless one is there already.

python -m deploy.keys
"""

from __future__ import annotations

from shared.auth import generate_keypair
from shared.settings import Settings


def ensure_keys(settings: Settings, *, asked: bool = False) -> bool:
    """True when a new pair was written. In production only when `asked` (the command line, as
    compose's `keys` container runs it): never as a side effect of starting something."""
    if settings.jwt_private_key_file.exists() and settings.jwt_public_key_file.exists():
        return False
    if settings.env == "production" and not asked:
        raise SystemExit("refusing to generate JWT keys in production: mount your own")
    generate_keypair(settings.jwt_private_key_file, settings.jwt_public_key_file)
    return True


if __name__ == "__main__":
    s = Settings()
    print(
        ("created " if ensure_keys(s, asked=True) else "kept ") + str(s.jwt_private_key_file.parent)
    )
