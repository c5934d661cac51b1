"""Correspondence's rules: case numbers, the statuses a case moves through, what the back office's
update does to a case, and the line that names a case in a list. Pure functions, no I/O."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from shared.events.correspondence import CaseStatus

NUMBER_PREFIX = "KOR"
MAX_SEQ = 999_999  # six digits: the number's format (CASE_NUMBER_PATTERN)
STATUSES: tuple[CaseStatus, ...] = get_args(CaseStatus)
# Closed and rejected are final: nothing moves a case out of them.
FINAL: frozenset[CaseStatus] = frozenset({"closed", "rejected"})
TITLE_MAX = 200


class NumbersExhausted(Exception):
    """The year has used all of its six-digit numbers."""


def case_number(year: int, seq: int) -> str:
    """KOR/<year>/<six digits>: the human-readable number, one sequence per year."""
    if not 1 <= seq <= MAX_SEQ:
        raise NumbersExhausted(f"case number {seq} of {year} does not fit six digits")
    return f"{NUMBER_PREFIX}/{year:04d}/{seq:06d}"


def is_open(status: str) -> bool:
    return status not in FINAL


def request_hash(customer_id: str, body: dict[str, Any]) -> str:
    """What makes two requests with one Idempotency-Key the same request (as payments has it)."""
    text = json.dumps({"customer": customer_id, "body": body}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Update:
    """What the back office's update does to a case: its new status (None: unchanged), whether
    its reply joins the thread."""

    status: CaseStatus | None
    reply: bool

    @property
    def changes_anything(self) -> bool:
        return self.status is not None or self.reply


class Refused(Exception):
    """An update that can never apply (dead-lettered with this reason)."""


def apply_update(
    current: CaseStatus,
    last_update_at: datetime | None,
    new: CaseStatus,
    updated_at: datetime,
    reply: str | None,
    reply_known: bool,
) -> Update:
    """The back office's update of a case now `current`, whose latest applied update was made at
    `last_update_at`; `reply_known`: the thread has this reply already.

    - The same update again (same status, its reply in the thread already) changes nothing.
    - An update older than the latest one applied (made before it, arriving after) does not
      take the case back: its reply still joins the thread, its status is not applied.
    - A closed or rejected case is final: a different status or a new reply is refused (the
      back office learns it from the dead-letter queue instead of the update vanishing).
    - An open case takes any status the back office sets (answered may go back to in progress
      when the conversation goes on)."""
    new_reply = reply is not None and not reply_known
    stale = last_update_at is not None and updated_at < last_update_at
    status: CaseStatus | None = None if new == current or stale else new
    if current in FINAL and (status is not None or new_reply):
        raise Refused(f"the case is {current}: a final case takes no further update")
    return Update(status, new_reply)


def address_line(address: dict[str, Any]) -> str:
    """A service point's address as one line: "Wodna 7/3, 00-950 Warszawa"."""
    place = f"{address['street']} {address['building']}"
    if address.get("apartment"):
        place += f"/{address['apartment']}"
    return f"{place}, {address['postal_code']} {address['city']}"


def title(
    kind: str,
    *,
    subject: str | None = None,
    place: str | None = None,
    invoice_number: str | None = None,
    fields: list[str] | None = None,
) -> str:
    """The line that names a case in a list: a question's subject, the place of a failure or a
    water-quality complaint, the invoice of a billing complaint, the fields a data-change
    request changes. Data, not prose: the pages put it after the kind's translated name."""
    if kind == "question":
        text = subject or ""
    elif kind in ("failure", "water-quality"):
        text = place or ""
    elif kind == "billing-complaint":
        text = invoice_number or ""
    else:
        text = ", ".join(fields or [])
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"
