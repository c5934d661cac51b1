"""Attachments through the gateway: PDF, JPEG and PNG uploaded and downloaded back as they were,
streamed both ways; a renamed executable (415) and an 11 MB file (413) refused with nothing
stored; a sixth file on a case refused (422); another customer's file is 404; the back office
fetches a case's file with its own credential, and nothing else does.

That neither the gateway nor correspondence ever holds a whole file: both pass the body on a
chunk at a time (Upstreams.stream, attachments_api.upload); tracemalloc's peak over a 9 MB
upload and download stays far below the file's size; a file of n bytes is stored as
ceil(n / 256 KiB) chunks, and a file over the limit is refused after at most the limit's bytes,
with nothing kept."""

from __future__ import annotations

import hashlib
import math
import secrets
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest_asyncio

from services.correspondence.attachments import CHUNK_BYTES
from shared.api.correspondence import MAX_ATTACHMENT_BYTES
from tests.support.flows import access_token, registered_account
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

BACKOFFICE_TOKEN = secrets.token_urlsafe(32)
PDF = b"%PDF-1.4\n" + secrets.token_bytes(300_000) + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + secrets.token_bytes(70_000) + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + secrets.token_bytes(5_000)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + secrets.token_bytes(40_000)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(infra: Infra, keys: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys, backoffice_token=BACKOFFICE_TOKEN):
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def token(stack: Stack) -> str:
    return await access_token(stack, await registered_account(stack))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def other_token(stack: Stack) -> str:
    return await access_token(stack, await registered_account(stack))


async def upload(
    stack: Stack,
    token: str,
    data: bytes | AsyncIterator[bytes],
    filename: str,
    content_type: str = "application/pdf",
) -> tuple[int, dict]:
    async with stack.api.session.post(
        f"{stack.api.base_url}/api/v1/attachments",
        params={"filename": filename},
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
    ) as resp:
        body = await resp.json(content_type=None)
        stack.api.recorded.append(("POST", resp.url.raw_path, resp.status, resp.content_type, body))
        return resp.status, body


async def download(
    stack: Stack, token: str | None, attachment_id: str, *, backoffice: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    if backoffice is None:
        url = f"{stack.api.base_url}/api/v1/attachments/{attachment_id}"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
    else:
        url = f"{stack.platform.urls['correspondence']}/backoffice/attachments/{attachment_id}"
        headers = {"Authorization": backoffice} if backoffice else {}
    async with stack.api.session.get(url, headers=headers) as resp:
        return resp.status, dict(resp.headers), await resp.read()


async def stored(stack: Stack) -> tuple[int, int]:
    db = await stack.platform.db("correspondence")
    try:
        return (
            await db.fetchval("SELECT count(*) FROM attachments"),
            await db.fetchval("SELECT count(*) FROM attachment_chunks"),
        )
    finally:
        await db.close()


async def new_case(stack: Stack, token: str, attachment_ids: list[str]) -> dict:
    body = {
        "kind": "question",
        "subject": "Attachments",
        "description": "Files for you",
        "attachment_ids": attachment_ids,
    }
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
    async with stack.api.session.post(
        f"{stack.api.base_url}/api/v1/cases", json=body, headers=headers
    ) as resp:
        case = await resp.json(content_type=None)
        assert resp.status == 201, case
        return case  # type: ignore[no-any-return]


async def test_pdf_jpeg_and_png_come_back_byte_for_byte(stack: Stack, token: str) -> None:
    for data, name, declared in (
        (PDF, "umowa.pdf", "application/pdf"),
        # The declared type is not believed: the content is a JPEG.
        (JPEG, "zdjęcie awarii.jpg", "application/octet-stream"),
        (PNG, "screen.png", "image/png"),
    ):
        status, out = await upload(stack, token, data, name, declared)
        assert status == 201, out
        assert out["filename"] == name and out["size"] == len(data)
        status, headers, body = await download(stack, token, out["attachment_id"])
        assert status == 200
        assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
        assert headers["Content-Type"] == out["content_type"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Disposition"].startswith("attachment; ")
        assert int(headers["Content-Length"]) == len(data)
    assert out["content_type"] == "image/png"


async def test_a_large_file_is_stored_in_chunks_and_streamed_back(stack: Stack, token: str) -> None:
    data = b"%PDF-1.7\n" + secrets.token_bytes(9 * 1024 * 1024)

    async def sent_in_pieces() -> AsyncIterator[bytes]:
        # No Content-Length (chunked): the service counts what it reads.
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    status, out = await upload(stack, token, sent_in_pieces(), "scan.pdf")
    assert status == 201, out
    db = await stack.platform.db("correspondence")
    try:
        chunks = await db.fetch(
            "SELECT seq, length(data) AS n FROM attachment_chunks WHERE attachment_id = $1 "
            "ORDER BY seq",
            uuid.UUID(out["attachment_id"]),
        )
    finally:
        await db.close()
    assert len(chunks) == math.ceil(len(data) / CHUNK_BYTES)
    assert all(c["n"] == CHUNK_BYTES for c in chunks[:-1])
    status, _headers, body = await download(stack, token, out["attachment_id"])
    assert status == 200 and body == data


async def test_no_whole_file_is_held_in_memory_on_the_way_in_or_out(
    stack: Stack, token: str
) -> None:
    """The gateway, correspondence and the test's client share this process: tracemalloc sees
    every Python allocation of all three. The file (9 MB) is made before tracing starts and sent
    in 100 KB pieces; were any step to read it whole (request.read(), a whole-file bytes, a
    buffered answer), the peak would exceed the file's size."""
    data = b"%PDF-1.7\n" + secrets.token_bytes(9 * 1024 * 1024)

    async def sent_in_pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        status, out = await upload(stack, token, sent_in_pieces(), "scan.pdf")
        assert status == 201, out
        async with stack.api.session.get(
            f"{stack.api.base_url}/api/v1/attachments/{out['attachment_id']}",
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 200
            async for piece in resp.content.iter_chunked(64 * 1024):
                digest.update(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert digest.digest() == hashlib.sha256(data).digest()
    assert peak < len(data) / 2, f"{peak:,} bytes at the peak for a {len(data):,}-byte file"


async def test_a_renamed_executable_is_refused_and_nothing_is_stored(
    stack: Stack, token: str
) -> None:
    before = await stored(stack)
    status, problem = await upload(stack, token, EXE, "faktura.pdf", "application/pdf")
    assert status == 415, problem
    assert problem["type"].endswith("/unsupported-attachment-type")
    assert problem["instance"] == "/api/v1/attachments"
    assert await stored(stack) == before


async def test_an_empty_file_is_refused(stack: Stack, token: str) -> None:
    status, problem = await upload(stack, token, b"", "empty.pdf")
    assert status == 422, problem


async def test_eleven_megabytes_are_refused_and_nothing_is_stored(stack: Stack, token: str) -> None:
    before = await stored(stack)
    data = b"%PDF-1.7\n" + bytes(11 * 1024 * 1024)
    # Declared (Content-Length): refused before the body is read.
    status, problem = await upload(stack, token, data, "big.pdf")
    assert status == 413, problem
    assert problem["type"].endswith("/attachment-too-large")

    async def undeclared() -> AsyncIterator[bytes]:
        for start in range(0, len(data), CHUNK_BYTES):
            yield data[start : start + CHUNK_BYTES]

    # Not declared: counted while stored, refused at the limit's next byte, rolled back.
    status, problem = await upload(stack, token, undeclared(), "big.pdf")
    assert status == 413, problem
    # Exactly at the limit is taken; one byte more is not.
    exact = b"%PDF-1.7\n" + bytes(MAX_ATTACHMENT_BYTES - 9)
    status, problem = await upload(stack, token, exact + b"x", "over.pdf")
    assert status == 413, problem
    assert await stored(stack) == before
    status, out = await upload(stack, token, exact, "limit.pdf")
    assert status == 201, out


async def test_another_customer_gets_404(stack: Stack, token: str, other_token: str) -> None:
    status, out = await upload(stack, token, PNG, "mine.png", "image/png")
    assert status == 201, out
    status, _headers, _body = await download(stack, other_token, out["attachment_id"])
    assert status == 404
    status, _headers, _body = await download(stack, other_token, str(uuid.uuid4()))
    assert status == 404
    status, _headers, _body = await download(stack, None, out["attachment_id"])
    assert status == 401
    # Named by a case, it is still only its customer's.
    case = await new_case(stack, token, [out["attachment_id"]])
    assert [a["attachment_id"] for a in case["attachments"]] == [out["attachment_id"]]
    status, _headers, _body = await download(stack, other_token, out["attachment_id"])
    assert status == 404
    status, _headers, body = await download(stack, token, out["attachment_id"])
    assert status == 200 and body == PNG


async def test_a_sixth_attachment_on_a_case_is_refused(stack: Stack, token: str) -> None:
    ids = []
    for n in range(6):
        status, out = await upload(stack, token, PDF, f"page-{n}.pdf")
        assert status == 201, out
        ids.append(out["attachment_id"])
    case = await new_case(stack, token, ids[:5])
    assert len(case["attachments"]) == 5
    status, problem = await stack.api.request(
        "POST",
        f"/api/v1/cases/{quote(case['number'], safe='')}/messages",
        token=token,
        json={"text": "One more", "attachment_ids": ids[5:]},
    )
    assert status == 422, problem
    assert problem["errors"][0]["field"] == "attachment_ids"  # type: ignore[index]
    db = await stack.platform.db("correspondence")
    try:
        assert (
            await db.fetchval(
                "SELECT case_id FROM attachments WHERE attachment_id = $1", uuid.UUID(ids[5])
            )
            is None
        ), "the sixth stays unattached"
    finally:
        await db.close()


async def test_the_back_office_fetches_with_its_credential_only(stack: Stack, token: str) -> None:
    status, out = await upload(stack, token, JPEG, "leak.jpg", "image/jpeg")
    assert status == 201, out
    attachment_id = out["attachment_id"]
    # Not yet a case's: the back office has nothing to see.
    status, _h, _b = await download(
        stack, None, attachment_id, backoffice=f"Bearer {BACKOFFICE_TOKEN}"
    )
    assert status == 404
    await new_case(stack, token, [attachment_id])
    status, headers, body = await download(
        stack, None, attachment_id, backoffice=f"Bearer {BACKOFFICE_TOKEN}"
    )
    assert status == 200 and body == JPEG and headers["Content-Type"] == "image/jpeg"
    for credential, expected in (("", 401), ("Basic abc", 401), (f"Bearer {token}", 403)):
        status, headers, _b = await download(stack, None, attachment_id, backoffice=credential)
        assert status == expected, credential
        assert headers["Content-Type"].startswith("application/problem+json")
    # A customer's token is not the back office's, and the gateway has no such route.
    async with stack.api.session.get(
        f"{stack.api.base_url}/api/v1/backoffice/attachments/{attachment_id}",
        headers={"Authorization": f"Bearer {BACKOFFICE_TOKEN}"},
    ) as resp:
        assert resp.status == 404
