"""The signed-in account's notification preferences: which optional emails it gets (notices.py
reads them). Any account may keep its own: a manager's and an operator's too."""

from __future__ import annotations

import uuid

import asyncpg
from aiohttp import web

from services.identity import repository
from shared.api.identity import NotificationPreferencesIn, NotificationPreferencesOut
from shared.http.problems import Problem, json_response, parse_body
from shared.runtime import DB, SETTINGS, authenticate

routes = web.RouteTableDef()


@routes.get("/me/notification-preferences")
async def get_preferences(request: web.Request) -> web.Response:
    principal = authenticate(request)
    async with request.app[DB].connection() as tx:
        row = await repository.notification_preferences(tx.conn, uuid.UUID(principal.account_id))
    return _answer(request, row)


@routes.put("/me/notification-preferences")
async def put_preferences(request: web.Request) -> web.Response:
    principal = authenticate(request)
    body = await parse_body(request, NotificationPreferencesIn)
    async with request.app[DB].transaction() as tx:
        row = await repository.set_notification_preferences(
            tx.conn,
            uuid.UUID(principal.account_id),
            invoice_issued=body.invoice_issued,
            due_reminder=body.due_reminder,
            payment_received=body.payment_received,
        )
    return _answer(request, row)


def _answer(request: web.Request, row: asyncpg.Record | None) -> web.Response:
    if row is None:  # a valid token of an account that is gone (as GET /me answers)
        raise Problem(401, "Unauthorized", "The account no longer exists", code="unauthorized")
    return json_response(
        NotificationPreferencesOut(
            **dict(row),
            reminder_days_before_due=request.app[SETTINGS].reminder_days_before_due,
        )
    )
