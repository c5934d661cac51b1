"""An operator gives a customer back their e-BOK account when someone else registered it (the
rightful holder called the Customer Service Office, e.g. after the "registration started"
email reached the address the ERP has on file).

    python -m services.identity.reclaim --customer C-1001 --operator j.kowalska \\
        --reason "ticket 4711: account registered by a former tenant"

In one transaction: every session of the account ends (its access tokens are refused within
seconds), the account is locked and detached from the customer, pending registrations for the
customer are void, and an audit record keeps who did it, when and why. The customer then
registers anew with a recent invoice (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from services.identity import domain, ended_sessions, repository
from shared.db import create_pool
from shared.logs import configure_logging, get_logger
from shared.settings import Settings
from shared.tx import Database

log = get_logger(__name__)


@dataclass(frozen=True)
class Reclaimed:
    account_id: str
    login: str
    sessions_ended: int
    audit_id: int


async def reclaim_account(
    db: Database, customer_id: str, operator: str, reason: str
) -> Reclaimed | None:
    """None when the customer has no account."""
    async with db.transaction() as tx:
        account = await repository.account_for_customer_for_update(tx.conn, customer_id)
        if account is None:
            return None
        ended = await repository.revoke_account_tokens(tx.conn, account["id"])
        await repository.detach_and_lock_account(tx.conn, account["id"])
        await repository.supersede_pending_registrations(tx.conn, customer_id)
        audit_id = await repository.record_audit(
            tx.conn,
            account_id=account["id"],
            customer_id=customer_id,
            action="reclaimed",
            operator=operator,
            reason=reason,
            details={
                "login": account["login"],
                "email": domain.mask_email(account["email"]),
                "status_before": account["status"],
                "sessions_ended": len(ended),
            },
        )
        await ended_sessions.announce(tx, account["id"], ended, "operator")
    log.warning(
        "security: account reclaimed by an operator",
        account_id=str(account["id"]),
        customer_id=customer_id,
        operator=operator,
        audit_id=audit_id,
    )
    return Reclaimed(str(account["id"]), account["login"], len(ended), audit_id)


async def _main(args: argparse.Namespace) -> int:
    settings = Settings()
    configure_logging("identity-reclaim", settings.log_level, settings.log_format)
    pool = await create_pool(settings, "identity")
    try:
        result = await reclaim_account(
            Database(pool, "identity", settings), args.customer, args.operator, args.reason
        )
    finally:
        await pool.close()
    if result is None:
        print(f"customer {args.customer} has no e-BOK account: nothing to do", file=sys.stderr)
        return 1
    print(
        f"account {result.login} ({result.account_id}) locked and detached from "
        f"{args.customer}; {result.sessions_ended} session(s) ended; audit record "
        f"#{result.audit_id}. The customer may now register anew with a recent invoice."
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customer", required=True, help="the ERP's customer id")
    parser.add_argument("--operator", required=True, help="who does it (kept in the audit)")
    parser.add_argument("--reason", required=True, help="why, e.g. the ticket (kept)")
    args = parser.parse_args(argv)
    if not args.operator.strip() or not args.reason.strip():
        parser.error("--operator and --reason must not be empty")
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())
