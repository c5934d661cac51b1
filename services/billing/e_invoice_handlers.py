"""E-invoice's message handlers: the ERP setting a consent (a signed paper form), and identity's
account activations (the language of the emails billing asks for). Listed in handlers.py's
SUBSCRIPTIONS, each type on a queue of its own."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.billing import e_invoice
from services.billing import e_invoice_repository as repository
from shared.envelope import Envelope
from shared.events import billing, erp, identity
from shared.tx import Tx

_ACTIONS = {
    e_invoice.ErpOutcome.ACTIVATED: "activated",
    e_invoice.ErpOutcome.ADDRESS_CHANGED: "address-changed",
    e_invoice.ErpOutcome.WITHDRAWN: "withdrawn",
    e_invoice.ErpOutcome.REQUEST_CANCELLED: "withdrawn",
}


async def erp_e_invoice_changed(tx: Tx, _env: Envelope, change: erp.EInvoiceChanged) -> None:
    """Taken at once, without a link (the signature is the consent); a customer's waiting link
    stops working; told back to the ERP as `billing.e-invoice.changed` by "erp", and a new
    address to the old one. What already holds changes nothing (the ERP sending its state
    again)."""
    customer_id, now = change.customer_id, datetime.now(UTC)
    found = await repository.lock_consent(tx.conn, customer_id)
    outcome = e_invoice.erp_change(found, change.state, change.address)
    if outcome is e_invoice.ErpOutcome.NOTHING:
        return
    address = str(change.address) if change.address is not None else None
    version = change.regulations_version
    await repository.end_pending(tx.conn, customer_id, "cancelled")
    if outcome is e_invoice.ErpOutcome.ACTIVATED:
        await repository.set_consent(
            tx.conn, customer_id, "on", address, since=now, regulations_version=version
        )
    elif outcome is e_invoice.ErpOutcome.ADDRESS_CHANGED and address is not None:
        await repository.set_address(tx.conn, customer_id, address)
    else:
        # Off keeps the version last accepted, unless the ERP names the form's.
        kept = version or await repository.regulations_version(tx.conn, customer_id)
        await repository.set_consent(
            tx.conn, customer_id, "off", None, since=None, regulations_version=kept
        )
    action = _ACTIONS[outcome]
    history_address = address or found.address or (found.pending and found.pending.address)
    await repository.add_history(
        tx.conn, customer_id, action, history_address, repository.ERP, version, now
    )
    if e_invoice.publishes(outcome):
        await tx.publish(
            billing.EInvoiceChanged(
                change_id=uuid.uuid4(),
                customer_id=customer_id,
                action=action,  # type: ignore[arg-type]
                state=change.state,
                address=change.address,
                previous_address=found.address,
                effective_from=tx.today(),
                changed_at=now,
                changed_by="erp",
                regulations_version=version,
            )
        )
    if outcome is e_invoice.ErpOutcome.ADDRESS_CHANGED and found.address and address:
        # The old address is told, as when the customer changes it in e-BOK: a form signed by
        # someone else should not move the invoices unnoticed.
        await tx.publish(
            billing.EInvoiceAddressReplaced(
                customer_id=customer_id,
                email=found.address,
                language=await repository.language(tx.conn, customer_id),  # type: ignore[arg-type]
                new_address=address,
                changed_at=now,
            )
        )


async def account_activated(tx: Tx, _env: Envelope, account: identity.AccountActivated) -> None:
    """The customer's own account's language (managers' and operators' accounts name none)."""
    if account.customer_id is None:
        return
    await repository.upsert_account_language(
        tx.conn, account.customer_id, account.account_id, account.language
    )
