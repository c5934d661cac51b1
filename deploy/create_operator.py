"""Create a utility operator's account (the first one; operators add more in e-BOK).

    python -m deploy.create_operator --login j.kowalska --email j.kowalska@wodociagi.example

Prints a one-time password once, to this terminal only (never to a log): the operator signs in
with it and must change it at once, as a customer does with theirs. It expires after
EBOK_ONE_TIME_PASSWORD_TTL_SECONDS; run the command again with another login if it does.
Identity must have started once against the database (its migrations make the tables).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import uuid

from services.identity import domain, repository
from shared.db import create_pool
from shared.logs import configure_logging, get_logger
from shared.settings import Settings

log = get_logger(__name__)

LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,62}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def create_operator(
    settings: Settings, login: str, email: str, language: str
) -> tuple[uuid.UUID, str] | None:
    """The new account's id and its one-time password; None when the login is taken."""
    password = domain.new_one_time_password()
    password_hash = domain.hash_password(password)
    account_id = uuid.uuid4()
    pool = await create_pool(settings, "identity")
    try:
        async with pool.acquire() as conn:
            created = await repository.insert_account(
                conn,
                account_id=account_id,
                role="operator",
                status="active",
                login=login,
                email=email,
                phone=None,
                language=language,
                password_hash=password_hash,
                one_time_password_ttl_seconds=settings.one_time_password_ttl_seconds,
            )
    finally:
        await pool.close()
    if not created:
        return None
    log.warning("security: operator account created", account_id=str(account_id), login=login)
    return account_id, password


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--login", required=True, help="the operator's login (lower case)")
    parser.add_argument("--email", required=True, help="the operator's work address")
    parser.add_argument("--language", default="pl", choices=["pl", "en", "uk", "ru"])
    args = parser.parse_args(argv)
    login = args.login.strip().lower()
    if not LOGIN_PATTERN.fullmatch(login):
        parser.error("--login: 3-63 characters: letters, digits, '.', '_' or '-'")
    if not EMAIL_PATTERN.fullmatch(args.email.strip()):
        parser.error("--email: not an email address")
    settings = Settings()
    configure_logging("create-operator", settings.log_level, settings.log_format)
    result = asyncio.run(create_operator(settings, login, args.email.strip(), args.language))
    if result is None:
        print(f"the login {login!r} is taken: choose another", file=sys.stderr)
        return 1
    account_id, password = result
    # The one place the password is ever shown: this terminal. It is not logged.
    print(f"operator {login} created ({account_id})")
    print(f"one-time password: {password}")
    print(
        "sign in with it and set a new password at once; it expires in "
        f"{settings.one_time_password_ttl_seconds // 3600} h"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
