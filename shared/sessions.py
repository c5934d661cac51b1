"""Ended sessions, refused by every service that verifies access tokens.

Identity publishes `identity.session.revoked`. Each service with HTTP routes takes it on its own
durable queue (`<ns>.<service>.sessions`, so none is lost while the service is down) into its own
table, and every instance of the service loads what is new into its token verifier, woken at
once by NOTIFY (and by polling): an ended session's access tokens are refused on the next request,
not only when they expire.
"""

from __future__ import annotations

import asyncpg

from shared.auth import TokenVerifier
from shared.envelope import Envelope
from shared.events.identity import SessionRevoked
from shared.messaging.consumer import Subscription
from shared.tx import Tx

NOTIFY_CHANNEL = "ebok_sessions_revoked"
# Writers hold this advisory lock until they commit, so `seq` grows in commit order.
_WRITE_LOCK = 0x5E551015
_BATCH = 5_000


async def record_revocation(tx: Tx, _env: Envelope, event: SessionRevoked) -> None:
    await tx.conn.execute("SELECT pg_advisory_xact_lock($1)", _WRITE_LOCK)
    await tx.conn.execute(
        """INSERT INTO revoked_sessions (session_id, valid_until)
           SELECT unnest($1::uuid[]), $2
           ON CONFLICT (session_id) DO NOTHING""",
        event.session_ids,
        event.valid_until,
    )
    # Their tokens have expired: nobody needs to know of them any longer.
    await tx.conn.execute("DELETE FROM revoked_sessions WHERE valid_until < now()")
    await tx.conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)


SUBSCRIPTION = Subscription("sessions", {SessionRevoked: record_revocation})


class RevocationLoader:
    """Loads the revocations this instance has not seen yet into its verifier."""

    def __init__(self, pool: asyncpg.Pool, verifier: TokenVerifier) -> None:
        self._pool = pool
        self._verifier = verifier
        self._seen = 0

    async def load(self) -> bool:
        """One batch; True when there may be more."""
        rows = await self._pool.fetch(
            """SELECT seq, session_id, valid_until FROM revoked_sessions
                WHERE seq > $1 AND valid_until > now() ORDER BY seq LIMIT $2""",
            self._seen,
            _BATCH,
        )
        for row in rows:
            self._verifier.revoke(str(row["session_id"]), row["valid_until"].timestamp())
        if rows:
            self._seen = rows[-1]["seq"]
        self._verifier.forget_expired_revocations()
        return len(rows) == _BATCH
