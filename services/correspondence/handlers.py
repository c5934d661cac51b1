"""Correspondence's message handlers, listed in SUBSCRIPTIONS: its copies of billing's contracts
and invoices (whose service points and invoices a case may name, and a partial grant's part),
and the back office's updates of cases."""

from __future__ import annotations

import uuid

from services.correspondence import domain, repository
from shared.envelope import Envelope
from shared.events import billing
from shared.events.correspondence import BackOfficeCaseUpdated, CaseChanged
from shared.logs import get_logger
from shared.messaging.consumer import Many, PermanentError, Subscription, latest
from shared.tx import Tx

log = get_logger(__name__)
# Names the utility's replies: the same update delivered again makes the same message id.
REPLY_NAMESPACE = uuid.UUID("5f0c2a8e-6a3b-4a63-9d1c-0b6f2c1e7a13")


async def contracts_changed(tx: Tx, items: list[tuple[Envelope, billing.ContractChanged]]) -> None:
    await repository.replace_contracts_service_points(
        tx.conn, latest(items, lambda c: c.contract_number)
    )


async def invoices_issued(tx: Tx, items: list[tuple[Envelope, billing.InvoiceIssued]]) -> None:
    await repository.upsert_invoices(tx.conn, latest(items, lambda i: i.invoice_number))


def reply_id(u: BackOfficeCaseUpdated) -> uuid.UUID:
    return uuid.uuid5(REPLY_NAMESPACE, f"{u.number}\n{u.updated_at.isoformat()}\n{u.reply}")


async def case_updated(tx: Tx, _env: Envelope, u: BackOfficeCaseUpdated) -> None:
    """The back office moved the case on (domain.apply_update): its status joins the timeline,
    its reply the thread as the utility's message, and the account that wrote the case is told
    (correspondence.case.changed). The same update again changes nothing."""
    row = await repository.case_for_update(tx.conn, u.number)
    if row is None:
        raise PermanentError(f"no case {u.number}")
    reply_known = u.reply is not None and await repository.utility_replied(
        tx.conn, row["case_id"], u.reply
    )
    try:
        update = domain.apply_update(
            row["status"],
            row["backoffice_updated_at"],
            u.status,
            u.updated_at,
            u.reply,
            reply_known,
        )
    except domain.Refused as refused:
        raise PermanentError(f"case {u.number}: {refused}") from None
    if not update.changes_anything:
        log.info("back-office update changes nothing", number=u.number, status=u.status)
        return
    if update.status is not None:
        await repository.add_status(
            tx.conn,
            row["case_id"],
            update.status,
            u.updated_at,
            role="utility",
            name=u.by,
            reason=u.reason,
        )
    if update.reply:
        assert u.reply is not None
        await repository.insert_message(
            tx.conn,
            message_id=reply_id(u),
            case_id=row["case_id"],
            role="utility",
            account_id=None,
            login=None,
            name=u.by,
            text=u.reply,
            posted_at=u.updated_at,
        )
    await repository.set_status(tx.conn, row["case_id"], update.status, u.updated_at)
    await tx.publish(
        CaseChanged(
            case_id=row["case_id"],
            number=row["number"],
            customer_id=row["customer_id"],
            kind=row["kind"],
            status=update.status or row["status"],
            reply=u.reply if update.reply else None,
            reason=u.reason if update.status is not None else None,
            submitted_by_account_id=row["submitted_by_account_id"],
            changed_at=u.updated_at,
        )
    )


SUBSCRIPTIONS = (
    # Each type writes its own table: a batch is handled type by type, one statement a type.
    Subscription(
        "billing-events",
        {
            billing.ContractChanged: Many(contracts_changed),
            billing.InvoiceIssued: Many(invoices_issued),
        },
        types_commute=True,
        in_order=True,  # copies of billing's rows: the last of each key wins
    ),
    # The back office's answers (integration exchange): one case at a time, in order.
    Subscription("backoffice", {BackOfficeCaseUpdated: case_updated}, in_order=True),
)
