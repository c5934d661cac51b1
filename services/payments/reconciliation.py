"""Reconciliation: every payment still open EBOK_PAYMENTS_RECONCILE_AFTER_SECONDS after it was
sent to the provider is asked about by its session id, and settled (paid, once), expired (the
provider has no payment for it after EBOK_PAYMENTS_EXPIRE_AFTER_SECONDS) or left for later. So a
lost notification, or a payer who never comes back, leaves nothing pending forever. A payment the
payer cancelled is asked about too, for EBOK_PAYMENTS_EXPIRE_AFTER_SECONDS after the cancel: the
payer may have paid at the provider all the same, and that money is never refused.

With several instances of payments, one of them reconciles at a time (an advisory lock,
shared/leader.py): the provider is asked about each payment once per round, not once per
instance. Settling stays safe either way (settlement locks the payment and pays it once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.payments import domain, repository, settlement
from services.payments.providers.base import Provider, ProviderRefused, ProviderUnavailable
from shared.leader import leading
from shared.logs import get_logger
from shared.metrics import PAYMENTS
from shared.settings import Settings
from shared.tx import Database

log = get_logger(__name__)
BATCH = 50
# Held by the instance whose reconciler is asking the provider (shared/leader.py).
LEADER_LOCK = "payments-reconciliation"


class Reconciler:
    def __init__(self, db: Database, provider: Provider, settings: Settings) -> None:
        self.db = db
        self.provider = provider
        self.after = timedelta(seconds=settings.payments_reconcile_after_seconds)
        self.expire_after = timedelta(seconds=settings.payments_expire_after_seconds)

    async def step(self) -> bool:
        """One batch, on the instance that leads reconciliation (the others skip the round:
        each open payment is asked about once, not once per instance); True when there may be
        more to do at once."""
        async with leading(self.db.pool, LEADER_LOCK) as leader:
            if not leader:
                return False
            now = datetime.now(UTC)
            async with self.db.connection() as tx:
                await repository.delete_old_rate_limits(tx.conn)
                due = await repository.open_payments(
                    tx.conn, now - self.after, now - self.expire_after, BATCH
                )
            for row in due:
                await self.reconcile(row["payment_id"], row["since"], now)
            return len(due) == BATCH

    async def reconcile(self, payment_id: uuid.UUID, since: datetime, now: datetime) -> str:
        try:
            transaction = await self.provider.paid_transaction(payment_id)
        except ProviderUnavailable as exc:
            log.warning(
                "reconciliation: provider unavailable", payment_id=str(payment_id), error=str(exc)
            )
            return "wait"
        async with self.db.connection() as tx:
            await repository.mark_checked(tx.conn, payment_id)
        action = domain.reconcile(transaction is not None, since, now, self.expire_after)
        if action == "settle":
            assert transaction is not None
            verdict, _ = await settlement.check(self.db, transaction)
            if verdict != "accepted":
                log.warning(
                    "reconciliation: provider's transaction does not match",
                    payment_id=str(payment_id),
                    verdict=verdict,
                )
                return verdict
            try:
                outcome = await settlement.settle(self.db, self.provider, payment_id, transaction)
            except (ProviderUnavailable, ProviderRefused) as exc:
                log.warning(
                    "reconciliation: verify failed", payment_id=str(payment_id), error=str(exc)
                )
                return "wait"
            log.info("reconciliation: settled", payment_id=str(payment_id), outcome=outcome)
            if outcome == "accepted":
                PAYMENTS.labels("paid", "reconciliation").inc()
            return outcome
        if action == "expire":
            async with self.db.transaction() as tx:
                if await repository.mark_final(
                    tx.conn, payment_id, "expired", "no payment reached the provider in time"
                ):
                    log.info("reconciliation: expired", payment_id=str(payment_id))
                    PAYMENTS.labels("expired", "reconciliation").inc()
        return action
