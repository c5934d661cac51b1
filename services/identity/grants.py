"""Changing a manager's grant, and making a manager account: what operators, customers and the
ERP share. Each grant change is written with its revision and history and published once
(`identity.grant.changed` for the services, its copy for the back office) in the caller's
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from services.identity import domain, manager_domain, manager_repository, repository
from shared.events import identity as events
from shared.http.problems import Problem
from shared.sealing import sealer
from shared.tx import Tx

ChangedBy = str  # "operator" | "customer" | "erp"


@dataclass(frozen=True)
class Change:
    """Who changes a grant (their account, none for the ERP) and on which request, if any."""

    by: ChangedBy
    account_id: uuid.UUID | None = None
    manager_request_id: uuid.UUID | None = None


async def set_grant(
    tx: Tx,
    manager_account_id: uuid.UUID,
    customer_id: str,
    scope: str,
    service_point_ids: Sequence[str],
    change: Change,
    *,
    revoked: bool = False,
) -> asyncpg.Record:
    """Write the grant's next revision and publish it; a grant that would stay as it is keeps
    its revision (a fact sent again changes nothing)."""
    current = await manager_repository.grant_for_update(tx.conn, manager_account_id, customer_id)
    points = [] if scope == "full" else sorted(set(service_point_ids))
    if current is not None and manager_domain.unchanged(
        current["scope"],
        list(current["service_point_ids"]),
        current["revoked"],
        scope,
        points,
        revoked,
    ):
        return current
    row = await manager_repository.write_grant(
        tx.conn,
        manager_account_id=manager_account_id,
        customer_id=customer_id,
        scope=scope,
        service_point_ids=points,
        revoked=revoked,
        revision=manager_domain.next_revision(current["revision"] if current else None),
        changed_by=change.by,
        changed_by_account=change.account_id,
        manager_request_id=change.manager_request_id,
    )
    event = events.GrantChanged(
        manager_account_id=row["manager_account_id"],
        customer_id=row["customer_id"],
        scope=row["scope"],
        service_point_ids=list(row["service_point_ids"]),
        revoked=row["revoked"],
        revision=row["revision"],
        changed_at=row["changed_at"],
        changed_by=row["changed_by"],
    )
    await tx.publish(event)
    await tx.publish(events.ManagerGrantChanged.copy_of(event))
    return row


async def revoke_grant(
    tx: Tx, manager_account_id: uuid.UUID, customer_id: str, change: Change
) -> asyncpg.Record | None:
    """None when there is no live grant to revoke."""
    current = await manager_repository.grant_for_update(tx.conn, manager_account_id, customer_id)
    if current is None or current["revoked"]:
        return None
    return await set_grant(
        tx,
        manager_account_id,
        customer_id,
        current["scope"],
        current["service_point_ids"],
        change,
        revoked=True,
    )


async def check_points(
    tx: Tx, customer_id: str, scope: str, service_point_ids: Sequence[str], field: str
) -> None:
    """422 naming `field` when the customer is unknown or a service point is not theirs."""
    if not await manager_repository.customer_known(tx.conn, customer_id):
        raise unprocessable(field, "customer_unknown", f"no customer {customer_id} is known")
    if scope == "partial":
        theirs = await manager_repository.points_of_customer_among(
            tx.conn, customer_id, service_point_ids
        )
        outside = manager_domain.points_outside(service_point_ids, theirs)
        if outside:
            raise unprocessable(
                field,
                "service_point_not_of_customer",
                f"not service points of customer {customer_id}: {', '.join(outside[:20])}",
            )


def unprocessable(field: str, code: str, message: str) -> Problem:
    return Problem(
        422,
        "Validation failed",
        f"{field}: {message}",
        code="validation-failed",
        errors=[{"field": field, "message": message, "code": code}],
    )


async def manager_account_for(
    tx: Tx,
    *,
    email: str,
    phone: str | None,
    language: str,
    company: str | None,
    client_ip: str | None,
) -> asyncpg.Record:
    """The manager account of `email`: the one it has already (its grants grow; no new emails),
    else a new one with the first of the three emails."""
    found = await repository.manager_by_email(tx.conn, email)
    if found is not None:
        return found
    return await new_manager_account(
        tx, email=email, phone=phone, language=language, company=company, client_ip=client_ip
    )


async def new_manager_account(
    tx: Tx,
    *,
    email: str,
    phone: str | None,
    language: str,
    company: str | None,
    client_ip: str | None,
) -> asyncpg.Record:
    """A manager account that nobody can sign in to yet, and the first email of the same three
    a customer gets when registering: the activation link. Following it issues the one-time
    password (second email), then the third email enables sign-in."""
    account_id = uuid.uuid4()
    while not await repository.insert_account(
        tx.conn,
        account_id=account_id,
        role="manager",
        status="awaiting_activation_link",
        login=domain.new_login(),
        email=email,
        phone=phone,
        language=language,
        password_hash=domain.NO_PASSWORD_HASH,
        one_time_password_ttl_seconds=None,
        company=company,
    ):
        pass
    token = domain.new_secret_token()
    registration_id = uuid.uuid4()
    terms = await repository.current_terms(tx.conn)
    settings = tx.settings
    expires_at = await repository.insert_manager_registration(
        tx.conn,
        registration_id,
        account_id,
        email,
        phone,
        language,
        terms["version"],
        domain.token_digest(token),
        settings.activation_token_ttl_seconds,
        client_ip,
    )
    await tx.publish(
        events.RegistrationRequested(
            registration_id=registration_id,
            email=email,
            language=language,
            activation_url=sealer(settings).seal(
                f"{settings.public_url.rstrip('/')}/activate#token={token}"
            ),
            expires_at=expires_at,
        )
    )
    return await repository.account_by_id(tx.conn, account_id)
