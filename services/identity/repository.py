"""Identity's SQL, grouped by table."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import asyncpg

from services.identity import domain
from shared.events import billing

# --- projection of billing ------------------------------------------------------------------


# Each statement stores every event of its type in a batch (handlers.py), the last of each key.


async def upsert_customers(conn: asyncpg.Connection, cs: list[billing.CustomerChanged]) -> None:
    await conn.execute(
        """INSERT INTO customers (customer_id, name, email, language)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
           ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
               language = EXCLUDED.language, updated_at = now()""",
        [c.customer_id for c in cs],
        [c.name for c in cs],
        [c.email for c in cs],
        [c.language for c in cs],
    )


async def replace_contracts_service_points(
    conn: asyncpg.Connection, cs: list[billing.ContractChanged]
) -> None:
    """Each contract's service points are exactly those it lists now (a service point listed
    by two of them goes to the later). Each contract's rows are found by its index."""
    points = {sp.service_point_id: (sp, c) for c in cs for sp in c.service_points}
    await conn.execute(
        """DELETE FROM service_points WHERE service_point_id = ANY(ARRAY(
               SELECT sp.service_point_id
                 FROM unnest($1::text[]) AS mine (contract_number),
                      LATERAL (SELECT service_point_id FROM service_points
                                WHERE contract_number = mine.contract_number OFFSET 0) sp))""",
        [c.contract_number for c in cs],
    )
    await conn.execute(
        """INSERT INTO service_points (service_point_id, customer_id, contract_number, address)
           SELECT s, c, n, a::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])
                  AS x(s, c, n, a)
           ON CONFLICT (service_point_id) DO UPDATE SET customer_id = EXCLUDED.customer_id,
               contract_number = EXCLUDED.contract_number, address = EXCLUDED.address""",
        list(points),
        [c.customer_id for _, c in points.values()],
        [c.contract_number for _, c in points.values()],
        [sp.address.model_dump_json() for sp, _ in points.values()],
    )


async def upsert_invoices(
    conn: asyncpg.Connection, invoices: list[billing.InvoiceIssued]
) -> set[str]:
    """The numbers of the invoices that were new to the projection (the others were updated):
    only those may bring a "New invoice" email."""
    rows = await conn.fetch(
        """INSERT INTO invoices (invoice_number, customer_id, gross, issued_on)
           SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[], $4::date[])
           ON CONFLICT (invoice_number) DO UPDATE SET customer_id = EXCLUDED.customer_id,
               gross = EXCLUDED.gross, issued_on = EXCLUDED.issued_on
           RETURNING invoice_number, (xmax = 0) AS inserted""",
        [i.invoice_number for i in invoices],
        [i.customer_id for i in invoices],
        [i.gross for i in invoices],
        [i.issued_on for i in invoices],
    )
    return {r["invoice_number"] for r in rows if r["inserted"]}


async def invoice_on_record(
    conn: asyncpg.Connection, invoice_number: str
) -> domain.InvoiceOnRecord | None:
    row = await conn.fetchrow(
        "SELECT customer_id, gross, issued_on FROM invoices WHERE invoice_number = $1",
        invoice_number,
    )
    return (
        domain.InvoiceOnRecord(row["customer_id"], row["gross"], row["issued_on"]) if row else None
    )


# --- terms and CAPTCHA ----------------------------------------------------------------------


async def current_terms(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        "SELECT version, published_at FROM terms ORDER BY published_at DESC, version DESC LIMIT 1"
    )


async def current_terms_text(conn: asyncpg.Connection, language: str) -> asyncpg.Record:
    """The current regulations in `language`; in Polish, then English, where it has no text."""
    return await conn.fetchrow(
        """SELECT t.version, x.language, x.title, x.body AS text, t.published_at
           FROM (SELECT version, published_at FROM terms
                 ORDER BY published_at DESC, version DESC LIMIT 1) t
           JOIN terms_texts x USING (version)
           ORDER BY x.language = $1 DESC, x.language = 'pl' DESC, x.language = 'en' DESC
           LIMIT 1""",
        language,
    )


async def spend_challenge(conn: asyncpg.Connection, challenge: str, expires_at: datetime) -> bool:
    """False when the proof-of-work challenge was spent already."""
    return bool(
        await conn.fetchval(
            """INSERT INTO spent_challenges (challenge, expires_at) VALUES ($1, $2)
               ON CONFLICT (challenge) DO NOTHING RETURNING true""",
            challenge,
            expires_at,
        )
    )


async def insert_captcha(
    conn: asyncpg.Connection,
    captcha_id: uuid.UUID,
    digest: bytes,
    answer_sealed: str,
    ttl_seconds: int,
) -> datetime:
    return await conn.fetchval(
        """INSERT INTO captchas (id, answer_hash, answer_sealed, expires_at)
           VALUES ($1, $2, $3, now() + make_interval(secs => $4)) RETURNING expires_at""",
        captcha_id,
        digest,
        answer_sealed,
        float(ttl_seconds),
    )


async def captcha_for_audio(
    conn: asyncpg.Connection, captcha_id: uuid.UUID, most: int
) -> str | None:
    """The sealed answer of an unexpired CAPTCHA whose sound was made fewer than `most` times
    (counting this one), or None."""
    return await conn.fetchval(
        """UPDATE captchas SET audio_renders = audio_renders + 1
            WHERE id = $1 AND expires_at > now() AND audio_renders < $2
        RETURNING answer_sealed""",
        captcha_id,
        most,
    )


async def take_captcha(conn: asyncpg.Connection, captcha_id: uuid.UUID) -> bytes | None:
    """Remove the CAPTCHA (single use, right or wrong) and return its answer hash if unexpired."""
    return await conn.fetchval(
        "DELETE FROM captchas WHERE id = $1 RETURNING CASE WHEN expires_at > now() "
        "THEN answer_hash END",
        captcha_id,
    )


# --- registrations --------------------------------------------------------------------------


async def supersede_pending_registrations(conn: asyncpg.Connection, customer_id: str) -> None:
    await conn.execute(
        "UPDATE registrations SET status = 'superseded' "
        "WHERE customer_id = $1 AND status = 'pending'",
        customer_id,
    )


async def insert_registration(
    conn: asyncpg.Connection,
    registration_id: uuid.UUID,
    applicant: domain.Applicant,
    token_hash: bytes,
    ttl_seconds: int,
    client_ip: str | None,
) -> datetime:
    return await conn.fetchval(
        """INSERT INTO registrations (id, customer_id, invoice_number, email, phone, language,
                                      terms_version, token_hash, token_expires_at, client_ip)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9), $10)
           RETURNING token_expires_at""",
        registration_id,
        applicant.customer_id,
        applicant.invoice_number,
        applicant.email,
        applicant.phone,
        applicant.language,
        applicant.terms_version,
        token_hash,
        float(ttl_seconds),
        client_ip,
    )


async def registration_by_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT *, token_expires_at <= now() AS expired FROM registrations
           WHERE token_hash = $1 FOR UPDATE""",
        token_hash,
    )


async def latest_registration(
    conn: asyncpg.Connection, customer_id: str, email: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT * FROM registrations WHERE customer_id = $1 AND lower(email) = lower($2)
           ORDER BY created_at DESC LIMIT 1 FOR UPDATE""",
        customer_id,
        email,
    )


async def mark_registration_used(
    conn: asyncpg.Connection, registration_id: uuid.UUID, account_id: uuid.UUID | None
) -> None:
    await conn.execute(
        "UPDATE registrations SET status = 'used', account_id = $2 WHERE id = $1",
        registration_id,
        account_id,
    )


# --- accounts -------------------------------------------------------------------------------


async def customer_on_file(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record | None:
    """The ERP's data of the customer (email and language on file)."""
    return await conn.fetchrow(
        "SELECT customer_id, email, language FROM customers WHERE customer_id = $1", customer_id
    )


async def account_for_customer(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM accounts WHERE customer_id = $1", customer_id)


async def account_by_login(conn: asyncpg.Connection, login: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM accounts WHERE login = $1", login)


async def account_by_id(conn: asyncpg.Connection, account_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM accounts WHERE id = $1", account_id)


async def record_payment_receipt(conn: asyncpg.Connection, payment_id: uuid.UUID) -> bool:
    """Whether the "Payment received" email of this payment is asked for now (False: it was)."""
    return (
        await conn.fetchval(
            """INSERT INTO payment_receipts (payment_id) VALUES ($1)
               ON CONFLICT (payment_id) DO NOTHING RETURNING true""",
            payment_id,
        )
        is not None
    )


# --- notification preferences and the account notices asked for ----------------------------

# The preference each notice follows: column names from this table only, never from input.
NOTICE_PREFERENCE: dict[str, str] = {
    "invoice-notice": "invoice_issued",
    "invoice-reminder": "due_reminder",
    "booking-receipt": "payment_received",
    "payment-receipt": "payment_received",
}


async def notification_preferences(
    conn: asyncpg.Connection, account_id: uuid.UUID
) -> asyncpg.Record | None:
    """The account's choices (all on without a row); None when there is no such account."""
    return await conn.fetchrow(
        """SELECT coalesce(p.invoice_issued, true) AS invoice_issued,
                  coalesce(p.due_reminder, true) AS due_reminder,
                  coalesce(p.payment_received, true) AS payment_received
             FROM accounts a LEFT JOIN notification_preferences p ON p.account_id = a.id
            WHERE a.id = $1""",
        account_id,
    )


async def set_notification_preferences(
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    *,
    invoice_issued: bool,
    due_reminder: bool,
    payment_received: bool,
) -> asyncpg.Record | None:
    """The account's choices as now stored; None when there is no such account."""
    return await conn.fetchrow(
        """INSERT INTO notification_preferences
                  (account_id, invoice_issued, due_reminder, payment_received)
           SELECT id, $2, $3, $4 FROM accounts WHERE id = $1
           ON CONFLICT (account_id) DO UPDATE SET invoice_issued = EXCLUDED.invoice_issued,
               due_reminder = EXCLUDED.due_reminder,
               payment_received = EXCLUDED.payment_received, updated_at = now()
           RETURNING invoice_issued, due_reminder, payment_received""",
        account_id,
        invoice_issued,
        due_reminder,
        payment_received,
    )


async def customer_accounts_wanting(
    conn: asyncpg.Connection, customer_ids: list[str], notice: str
) -> list[asyncpg.Record]:
    """The customers' own accounts that are active and have not turned `notice` off: one
    statement for a whole batch (the ERP feed's hot path)."""
    column = NOTICE_PREFERENCE[notice]
    return await conn.fetch(
        f"""SELECT a.id, a.customer_id, a.email, a.language, a.login
              FROM accounts a LEFT JOIN notification_preferences p ON p.account_id = a.id
             WHERE a.customer_id = ANY($1::text[]) AND a.role = 'customer'
               AND a.status = 'active' AND coalesce(p.{column}, true)""",
        customer_ids,
    )


async def accounts_not_wanting(
    conn: asyncpg.Connection, account_ids: list[uuid.UUID], notice: str
) -> set[uuid.UUID]:
    """Which of the accounts have turned `notice` off."""
    column = NOTICE_PREFERENCE[notice]
    rows = await conn.fetch(
        f"""SELECT account_id FROM notification_preferences
             WHERE account_id = ANY($1::uuid[]) AND NOT {column}""",
        account_ids,
    )
    return {r["account_id"] for r in rows}


async def record_account_notices(
    conn: asyncpg.Connection, kind: str, references: list[str]
) -> set[str]:
    """Those of `references` whose `kind` of email is asked for now (the others were)."""
    rows = await conn.fetch(
        """INSERT INTO account_notices (kind, reference)
           SELECT $1, unnest($2::text[])
           ON CONFLICT (kind, reference) DO NOTHING RETURNING reference""",
        kind,
        references,
    )
    return {r["reference"] for r in rows}


async def insert_customer_account(
    conn: asyncpg.Connection,
    *,
    account_id: uuid.UUID,
    customer_id: str,
    login: str,
    email: str,
    phone: str | None,
    language: str,
    password_hash: str,
    one_time_password_ttl_seconds: int,
) -> bool:
    """False when the login is taken (drawn at random: the caller draws again)."""
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO accounts (id, customer_id, login, email, phone, language, role,
                                         status, password_hash, must_change_password,
                                         one_time_password_expires_at)
                   VALUES ($1, $2, $3, $4, $5, $6, 'customer', 'awaiting_credentials_email',
                           $7, true, now() + make_interval(secs => $8))""",
                account_id,
                customer_id,
                login,
                email,
                phone,
                language,
                password_hash,
                float(one_time_password_ttl_seconds),
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "accounts_login_key":
            return False
        raise
    return True


async def record_terms_acceptance(
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    version: str,
    accepted_at: datetime,
    client_ip: str | None,
) -> None:
    await conn.execute(
        """INSERT INTO terms_acceptances (account_id, terms_version, accepted_at, client_ip)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        account_id,
        version,
        accepted_at,
        client_ip,
    )


async def advance_account_status(
    conn: asyncpg.Connection, account_id: uuid.UUID, from_status: str, to_status: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE accounts SET status = $3,
               activated_at = CASE WHEN $3 = 'active' THEN now() ELSE activated_at END
           WHERE id = $1 AND status = $2 RETURNING *""",
        account_id,
        from_status,
        to_status,
    )


async def set_password(conn: asyncpg.Connection, account_id: uuid.UUID, password_hash: str) -> None:
    await conn.execute(
        """UPDATE accounts SET password_hash = $2, must_change_password = false,
               one_time_password_expires_at = NULL, password_changed_at = now() WHERE id = $1""",
        account_id,
        password_hash,
    )


async def replace_one_time_password(
    conn: asyncpg.Connection, account_id: uuid.UUID, password_hash: str, ttl_seconds: int
) -> None:
    await conn.execute(
        """UPDATE accounts SET password_hash = $2, must_change_password = true,
               one_time_password_expires_at = now() + make_interval(secs => $3)
           WHERE id = $1""",
        account_id,
        password_hash,
        float(ttl_seconds),
    )


# --- refresh tokens -------------------------------------------------------------------------


async def insert_refresh_token(
    conn: asyncpg.Connection,
    account_id: uuid.UUID,
    family_id: uuid.UUID,
    token_hash: bytes,
    ttl_seconds: int,
    session_started_at: datetime | None,
    session_max_seconds: int,
) -> datetime:
    """Store a refresh token of the family (a new session when `session_started_at` is None);
    it expires after `ttl_seconds` or at the session's end, whichever comes first. Returns the
    session's end."""
    return await conn.fetchval(
        """WITH s AS (SELECT coalesce($6::timestamptz, now()) AS started)
           INSERT INTO refresh_tokens (id, family_id, account_id, token_hash, expires_at,
                                       session_started_at)
           SELECT $1, $2, $3, $4,
                  least(now() + make_interval(secs => $5),
                        s.started + make_interval(secs => $7)),
                  s.started
             FROM s
           RETURNING session_started_at + make_interval(secs => $7)""",
        uuid.uuid4(),
        family_id,
        account_id,
        token_hash,
        float(ttl_seconds),
        session_started_at,
        float(session_max_seconds),
    )


async def refresh_token_for_update(
    conn: asyncpg.Connection, token_hash: bytes, session_max_seconds: int
) -> asyncpg.Record | None:
    """The token's row, locked; `expired` when the token or its session is over."""
    return await conn.fetchrow(
        """SELECT *, expires_at <= now()
                     OR session_started_at + make_interval(secs => $2) <= now() AS expired
             FROM refresh_tokens
            WHERE token_hash = $1 FOR UPDATE""",
        token_hash,
        float(session_max_seconds),
    )


async def mark_refresh_token_used(conn: asyncpg.Connection, token_id: uuid.UUID) -> None:
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE id = $1", token_id)


async def revoke_family(conn: asyncpg.Connection, family_id: uuid.UUID) -> list[uuid.UUID]:
    """End one session; returns it when it was still going."""
    rows = await conn.fetch(
        """UPDATE refresh_tokens SET revoked_at = now()
            WHERE family_id = $1 AND revoked_at IS NULL RETURNING family_id""",
        family_id,
    )
    return list(dict.fromkeys(r["family_id"] for r in rows))


async def revoke_account_tokens(conn: asyncpg.Connection, account_id: uuid.UUID) -> list[uuid.UUID]:
    """End every session of the account; returns those that were still going."""
    rows = await conn.fetch(
        """UPDATE refresh_tokens SET revoked_at = now()
            WHERE account_id = $1 AND revoked_at IS NULL RETURNING family_id""",
        account_id,
    )
    return list(dict.fromkeys(r["family_id"] for r in rows))


# --- operators' actions ------------------------------------------------------------------------


async def account_for_customer_for_update(
    conn: asyncpg.Connection, customer_id: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM accounts WHERE customer_id = $1 FOR UPDATE", customer_id
    )


async def detach_and_lock_account(conn: asyncpg.Connection, account_id: uuid.UUID) -> None:
    """The account keeps its history but no longer stands for its customer, and nobody can
    sign in to it: the customer may register anew."""
    await conn.execute(
        "UPDATE accounts SET customer_id = NULL, status = 'locked' WHERE id = $1", account_id
    )


async def record_audit(
    conn: asyncpg.Connection,
    *,
    account_id: uuid.UUID,
    customer_id: str | None,
    action: str,
    operator: str,
    reason: str,
    details: dict[str, object],
) -> int:
    return await conn.fetchval(
        """INSERT INTO account_audit (account_id, customer_id, action, operator, reason, details)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING id""",
        account_id,
        customer_id,
        action,
        operator,
        reason,
        json.dumps(details),
    )


async def reclaimed_since(conn: asyncpg.Connection, customer_id: str, days: int) -> bool:
    return await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM account_audit
                           WHERE customer_id = $1 AND action = 'reclaimed'
                             AND recorded_at > now() - make_interval(days => $2))""",
        customer_id,
        days,
    )


# --- rate limits and housekeeping ------------------------------------------------------------


async def rate_limit_hit(conn: asyncpg.Connection, key: str, window_seconds: int) -> int:
    """Count one hit in the current fixed window of `key`; return the window's count."""
    return await conn.fetchval(
        """INSERT INTO rate_limits (key, window_start, hits)
           VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
           ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
           RETURNING hits""",
        key,
        float(window_seconds),
    )


async def rate_limit_count(conn: asyncpg.Connection, key: str, window_seconds: int) -> int:
    return await conn.fetchval(
        """SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE key = $1
           AND window_start = to_timestamp(floor(extract(epoch FROM now()) / $2) * $2)""",
        key,
        float(window_seconds),
    )


async def rate_limit_reserve(
    conn: asyncpg.Connection, key: str, window_seconds: int
) -> tuple[int, datetime]:
    """Count one attempt in the current fixed window of `key` before its outcome is known; return
    the window's count with it and the window, for `rate_limit_give_back`."""
    row = await conn.fetchrow(
        """INSERT INTO rate_limits (key, window_start, hits)
           VALUES ($1, to_timestamp(floor(extract(epoch FROM now()) / $2) * $2), 1)
           ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_limits.hits + 1
           RETURNING hits, window_start""",
        key,
        float(window_seconds),
    )
    return row["hits"], row["window_start"]


async def rate_limit_give_back(conn: asyncpg.Connection, key: str, window_start: datetime) -> None:
    """Take back an attempt `rate_limit_reserve` counted, in the window it was counted in."""
    await conn.execute(
        """UPDATE rate_limits SET hits = hits - 1
            WHERE key = $1 AND window_start = $2 AND hits > 0""",
        key,
        window_start,
    )


async def delete_expired(conn: asyncpg.Connection) -> None:
    await conn.execute("DELETE FROM captchas WHERE expires_at < now() - interval '1 hour'")
    await conn.execute("DELETE FROM spent_challenges WHERE expires_at < now()")
    await conn.execute("DELETE FROM rate_limits WHERE window_start < now() - interval '1 day'")
    await conn.execute("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '7 days'")


# --- staff and manager accounts --------------------------------------------------------------


async def insert_account(
    conn: asyncpg.Connection,
    *,
    account_id: uuid.UUID,
    role: str,
    status: str,
    login: str,
    email: str,
    phone: str | None,
    language: str,
    password_hash: str,
    one_time_password_ttl_seconds: int | None,
    company: str | None = None,
) -> bool:
    """An account of no customer (operator, manager). False when the login is taken."""
    try:
        async with conn.transaction():
            await conn.execute(
                """INSERT INTO accounts (id, login, email, phone, language, role, status,
                                         password_hash, must_change_password,
                                         one_time_password_expires_at, company)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, true,
                           now() + make_interval(secs => $9), $10)""",
                account_id,
                login,
                email,
                phone,
                language,
                role,
                status,
                password_hash,
                float(one_time_password_ttl_seconds or 0),
                company,
            )
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "accounts_login_key":
            return False
        raise
    return True


async def issue_one_time_password(
    conn: asyncpg.Connection, account_id: uuid.UUID, password_hash: str, ttl_seconds: int
) -> asyncpg.Record | None:
    """A manager account made before its activation link was followed gets its one-time
    password: it moves on to awaiting its credentials email."""
    return await conn.fetchrow(
        """UPDATE accounts SET password_hash = $2, must_change_password = true,
               status = 'awaiting_credentials_email',
               one_time_password_expires_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND status = 'awaiting_activation_link' RETURNING *""",
        account_id,
        password_hash,
        float(ttl_seconds),
    )


async def insert_manager_registration(
    conn: asyncpg.Connection,
    registration_id: uuid.UUID,
    account_id: uuid.UUID,
    email: str,
    phone: str | None,
    language: str,
    terms_version: str,
    token_hash: bytes,
    ttl_seconds: int,
    client_ip: str | None,
) -> datetime:
    """The activation link of a manager account made by an operator or a customer."""
    return await conn.fetchval(
        """INSERT INTO registrations (id, kind, account_id, invoice_number, email, phone,
                                      language, terms_version, token_hash, token_expires_at,
                                      client_ip)
           VALUES ($1, 'manager', $2, '', $3, $4, $5, $6, $7, now() + make_interval(secs => $8),
                   $9)
           RETURNING token_expires_at""",
        registration_id,
        account_id,
        email,
        phone,
        language,
        terms_version,
        token_hash,
        float(ttl_seconds),
        client_ip,
    )


async def manager_by_email(conn: asyncpg.Connection, email: str) -> asyncpg.Record | None:
    """The manager account of this address that is not locked (the oldest, if several)."""
    return await conn.fetchrow(
        """SELECT * FROM accounts WHERE role = 'manager' AND lower(email) = lower($1)
              AND status <> 'locked' ORDER BY created_at LIMIT 1""",
        email,
    )
