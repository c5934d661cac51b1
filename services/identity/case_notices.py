"""The "case updated" email identity asks for on correspondence's `correspondence.case.changed`
(issue 13): to the account that submitted the case, in that account's language.

The account wrote the case, so it is told whoever it is: the customer's own account or a manager's
acting for the customer (even one whose grant has ended since: the letter was theirs). Only an
account that exists and is active; and no preference turns it off (notification_preferences
speaks of the utility's notices; this answers the account's own letter).

Once per change: correspondence publishes each change once, and a redelivered message is
recorded in the inbox, so nothing is recorded here (unlike billing's facts, which billing may
publish again under a new message id)."""

from __future__ import annotations

from services.identity import domain, repository
from shared.envelope import Envelope
from shared.events import correspondence
from shared.events import identity as events
from shared.logs import get_logger
from shared.tx import Tx

log = get_logger(__name__)


async def case_changed(tx: Tx, _env: Envelope, c: correspondence.CaseChanged) -> None:
    account = await repository.account_by_id(tx.conn, c.submitted_by_account_id)
    if account is None or account["status"] != "active":
        log.info("no account in use to tell of a case", number=c.number, status=c.status)
        return
    await tx.publish(
        domain.account_email(
            events.CaseUpdateRequested,
            account,
            customer_id=c.customer_id,
            number=c.number,
            status=c.status,
            reply=c.reply,
            reason=c.reason,
        )
    )
