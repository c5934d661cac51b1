"""Attachments' HTTP API: an upload (the body is the file, read and stored a chunk at a time,
never whole in memory) and its download, streamed the same way."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from aiohttp import StreamReader, web

from services.correspondence import attachments_repository as repository
from services.correspondence import repository as cases
from services.correspondence.attachments import (
    CHUNK_BYTES,
    content_disposition,
    declared_too_large,
    empty,
    sniff,
    too_large,
    unsupported_type,
)
from shared.api.correspondence import MAX_ATTACHMENT_BYTES, AttachmentOut, AttachmentQuery
from shared.auth import Principal
from shared.http.problems import Problem, json_response, parse_query
from shared.policy import account
from shared.runtime import DB, authenticate
from shared.scopes import Scope, account_scope

routes = web.RouteTableDef()
POLICY = account("case", partial="filtered")
# An upload holds a pooled connection (its transaction) while the file arrives: a client that
# stops sending for this long is answered 408 and its transaction rolled back.
UPLOAD_STALL_SECONDS = 30.0


class UploadSlots:
    """How many uploads may be under way at once in this instance: half the database pool, so
    that slow uploads cannot take every connection from the other requests (503 beyond)."""

    def __init__(self, db_pool_max: int) -> None:
        self.free = max(1, db_pool_max // 2)

    @contextmanager
    def take(self) -> Iterator[None]:
        if self.free <= 0:
            raise Problem(
                503,
                "Too many uploads",
                "Too many files are being uploaded at the moment; try again shortly",
                code="uploads-busy",
                headers={"Retry-After": "5"},
            )
        self.free -= 1
        try:
            yield
        finally:
            self.free += 1


UPLOAD_SLOTS = web.AppKey("upload_slots", UploadSlots)


def not_found() -> Problem:
    return Problem(404, "Not found", "No such attachment", code="not-found")


def account_uuid(principal: Principal) -> uuid.UUID:
    try:
        return uuid.UUID(principal.account_id)
    except ValueError:
        raise not_found() from None


async def read_chunk(content: StreamReader, size: int = CHUNK_BYTES) -> bytes:
    """Up to `size` bytes of the body (fewer only at its end), never more: a chunk's worth of
    the file is all that is held at once."""
    parts: list[bytes] = []
    wanted = size
    while wanted:
        try:
            async with asyncio.timeout(UPLOAD_STALL_SECONDS):
                part = await content.read(wanted)
        except TimeoutError:
            raise Problem(
                408,
                "Request timeout",
                f"The upload stopped for {UPLOAD_STALL_SECONDS:.0f} seconds",
                code="upload-stalled",
            ) from None
        if not part:
            break
        parts.append(part)
        wanted -= len(part)
    return b"".join(parts)


@routes.post("/attachments")
async def upload(request: web.Request) -> web.Response:
    """The file is the body; its type is read from its first bytes, its name from the query."""
    principal = authenticate(request)
    query = parse_query(request, AttachmentQuery)
    if declared_too_large(request.content_length):
        raise too_large()
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
    uploader = account_uuid(principal)
    first = await read_chunk(request.content)
    if not first:
        raise empty()
    content_type = sniff(first)
    if content_type is None:
        raise unsupported_type()
    with request.app[UPLOAD_SLOTS].take():
        async with request.app[DB].transaction() as tx:
            attachment_id = uuid.uuid4()
            size, digest = await store_chunks(tx.conn, request.content, attachment_id, first)
            row = await repository.add_attachment(
                tx.conn,
                attachment_id,
                customer_id=scope.customer_id,
                account_id=uploader,
                filename=query.filename,
                content_type=content_type,
                size=size,
                sha256=digest,
            )
    return json_response(AttachmentOut.model_validate(dict(row)), status=201)


async def store_chunks(
    conn: asyncpg.Connection, content: StreamReader, attachment_id: uuid.UUID, first: bytes
) -> tuple[int, str]:
    """The body written as chunks as it arrives (`first` read already), inside the caller's
    transaction, the attachment's row to follow: refused or broken half-way, nothing is left.
    Returns its size and SHA-256."""
    digest, size, chunk, seq = hashlib.sha256(), 0, first, 0
    while chunk:
        size += len(chunk)
        if size > MAX_ATTACHMENT_BYTES:
            raise too_large()
        digest.update(chunk)
        await repository.add_chunk(conn, attachment_id, seq, chunk)
        seq += 1
        # Never more than the limit and one byte are read: the last read ends at that byte.
        chunk = await read_chunk(content, min(CHUNK_BYTES, MAX_ATTACHMENT_BYTES + 1 - size))
    return size, digest.hexdigest()


async def may_see(
    conn: asyncpg.Connection, row: asyncpg.Record, scope: Scope, account_id: uuid.UUID
) -> bool:
    """Whoever may see its case; while no case names it, its uploader only."""
    if row["customer_id"] != scope.customer_id:
        return False
    if row["case_id"] is None:
        return bool(row["uploaded_by_account_id"] == account_id)
    part = await cases.part_of(conn, scope)
    return await cases.case_in_part(conn, row["case_id"], scope.customer_id, part)


def parse_id(request: web.Request) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info["attachment_id"])
    except ValueError:
        raise not_found() from None


@routes.get("/attachments/{attachment_id}")
async def download(request: web.Request) -> web.StreamResponse:
    principal = authenticate(request)
    attachment_id = parse_id(request)
    async with request.app[DB].connection() as tx:
        scope = await account_scope(tx.conn, principal, request, POLICY)
        row = await repository.find(tx.conn, attachment_id)
        if row is None or not await may_see(tx.conn, row, scope, account_uuid(principal)):
            raise not_found()
    return await stream_attachment(request, row)


async def stream_attachment(request: web.Request, row: asyncpg.Record) -> web.StreamResponse:
    """The file, a chunk at a time; the pooled connection is held for one chunk's read only,
    not while a slow client takes it."""
    response = web.StreamResponse(
        headers={
            "Content-Type": row["content_type"],
            "Content-Disposition": content_disposition(row["filename"]),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        }
    )
    response.content_length = row["size"]
    await response.prepare(request)
    seq, sent = 0, 0
    while sent < row["size"]:
        async with request.app[DB].connection() as tx:
            data = await repository.chunk(tx.conn, row["attachment_id"], seq)
        if data is None:
            # Deleted while it was read (an upload purged): the short body tells the client.
            raise ConnectionResetError("attachment deleted while it was sent")
        await response.write(data)
        sent += len(data)
        seq += 1
    await response.write_eof()
    return response
