"""Due-date reminders: every EBOK_REMINDER_POLL_SECONDS (and once at start) billing looks for
invoices due within [today, today + EBOK_REMINDER_DAYS_BEFORE_DUE] (the utility's calendar) that
are still unpaid and not reminded yet, and publishes billing.invoice.due-soon for each.

A pass goes through the window in batches along the index (due_on, invoice_number), each batch
one transaction that records its invoices in invoice_reminders and writes their events to the
outbox: a reminder goes once, across restarts (the record is in the database) and across
instances (the record's primary key: an invoice another instance recorded first is not
published here). An invoice paid meanwhile (settlement's `paid` covers its gross) is skipped;
it is reminded after all if a correction leaves it unpaid while still in the window. The last
batch of a pass records the pass (reminder_scans), so operations can see the scheduler run.
"""

from __future__ import annotations

from datetime import date, timedelta

from services.billing import repository
from shared.events.billing import InvoiceDueSoon
from shared.logs import get_logger
from shared.metrics import INVOICE_REMINDERS
from shared.tx import Database

log = get_logger(__name__)

BATCH_SIZE = 500


class Reminders:
    def __init__(self, db: Database) -> None:
        self.db = db
        # Where the pass under way has got to: (due_on, invoice_number) of its last invoice.
        self._after: tuple[date, str] | None = None
        self._window: tuple[date, date] | None = None
        self._reminded = 0

    async def step(self) -> bool:
        """One batch of the pass under way (a new pass when none is); True while the pass goes
        on, False once it has finished (the loop then waits for the next poll)."""
        if self._window is None:
            today = self.db.settings.today()
            days = self.db.settings.reminder_days_before_due
            self._window = (today, today + timedelta(days=days))
            self._after, self._reminded = None, 0
        first_day, last_day = self._window
        async with self.db.transaction() as tx:
            rows = await repository.remind_due(
                tx.conn, first_day, last_day, self._after, BATCH_SIZE
            )
            for row in rows:
                if row["reminded"]:
                    await tx.publish(
                        InvoiceDueSoon.model_validate(
                            {k: row[k] for k in InvoiceDueSoon.model_fields}
                        )
                    )
            reminded = sum(1 for row in rows if row["reminded"])
            finished = len(rows) < BATCH_SIZE
            if finished:
                await repository.record_reminder_scan(
                    tx.conn, first_day, last_day, self._reminded + reminded
                )
        INVOICE_REMINDERS.inc(reminded)
        self._reminded += reminded
        if rows:
            self._after = (rows[-1]["due_on"], rows[-1]["invoice_number"])
        if finished:
            if self._reminded:
                log.info(
                    "due-date reminders published",
                    reminded=self._reminded,
                    window_from=first_day.isoformat(),
                    window_to=last_day.isoformat(),
                )
            self._window = None
        return not finished
