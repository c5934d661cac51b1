"""The back office's own route: an attachment fetched with the service credential
(`Authorization: Bearer <EBOK_BACKOFFICE_TOKEN>`), on correspondence's port only (the gateway
does not forward it)."""

from __future__ import annotations

import secrets

from aiohttp import web

from services.correspondence import attachments_repository as repository
from services.correspondence.attachments_api import not_found, parse_id, stream_attachment
from shared.http.problems import Problem
from shared.runtime import DB, SETTINGS

routes = web.RouteTableDef()
BEARER = "Bearer "


def check_credential(request: web.Request) -> None:
    """401 without a bearer credential, 403 with a wrong one, or when none is configured."""
    configured = request.app[SETTINGS].backoffice_token
    header = request.headers.get("Authorization", "")
    if not header.startswith(BEARER):
        raise Problem(
            401,
            "Unauthorized",
            "The back office's credential is required",
            code="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="e-BOK back office"'},
        )
    given = header.removeprefix(BEARER).encode()
    # Constant time: how much of the token a guess got right does not show in the answer's time.
    if configured is None or not secrets.compare_digest(
        given, configured.get_secret_value().encode()
    ):
        raise Problem(403, "Forbidden", "Not the back office's credential", code="forbidden")


@routes.get("/backoffice/attachments/{attachment_id}")
async def backoffice_attachment(request: web.Request) -> web.StreamResponse:
    """Any attachment a case names (the back office handles every case); unattached uploads are
    no case's yet and stay the uploader's."""
    check_credential(request)
    attachment_id = parse_id(request)
    async with request.app[DB].connection() as tx:
        row = await repository.find(tx.conn, attachment_id)
    if row is None or row["case_id"] is None:
        raise not_found()
    return await stream_attachment(request, row)
