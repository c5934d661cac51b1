"""Ending sessions: every way a session ends (logout, password change, a reused refresh token,
an operator's reclaim) tells every service to refuse its access tokens from now on."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.events import identity as events
from shared.logs import get_logger
from shared.tx import Tx

log = get_logger(__name__)

Reason = Literal["logout", "password_changed", "refresh_token_reused", "operator"]


async def announce(
    tx: Tx, account_id: uuid.UUID, session_ids: list[uuid.UUID], reason: Reason
) -> None:
    """Publish `identity.session.revoked` for the sessions (none: nothing), valid until the last
    access token they could have been given expires."""
    if not session_ids:
        return
    valid_until = datetime.now(UTC) + timedelta(seconds=tx.settings.access_token_ttl_seconds)
    await tx.publish(
        events.SessionRevoked(
            account_id=account_id, session_ids=session_ids, reason=reason, valid_until=valid_until
        )
    )
    log.info("sessions ended", account_id=str(account_id), reason=reason, count=len(session_ids))
