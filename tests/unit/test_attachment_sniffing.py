"""An attachment's type is read from its first bytes, never from its name or declared type; its
name goes into Content-Disposition without a way out of the header; uploads cannot take every
database connection, nor hold one while the client sends nothing."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from aiohttp import StreamReader

from services.correspondence import attachments_api
from services.correspondence.attachments import (
    content_disposition,
    declared_too_large,
    sniff,
)
from services.correspondence.attachments_api import UploadSlots
from shared.api.correspondence import MAX_ATTACHMENT_BYTES
from shared.http.problems import Problem

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n%\xe2\xe3", "application/pdf"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x00\x10Exif", "image/jpeg"),
        (PNG, "image/png"),
    ],
)
def test_pdf_jpeg_and_png_are_known_by_their_first_bytes(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable, whatever its name
        b"\x7fELF\x02\x01\x01",
        b"PK\x03\x04",  # a zip (or a .docx)
        b"GIF89a",
        b"<svg xmlns='http://www.w3.org/2000/svg'>",
        b" %PDF-1.4",  # the signature must be at the very start
        b"%PDF",  # too short to be a PDF's
        b"\x89PNG\r\n",  # a PNG's signature cut short
        b"\xff\xd8",
        b"",
    ],
)
def test_anything_else_is_not_taken(head: bytes) -> None:
    assert sniff(head) is None


def test_a_declared_size_over_ten_megabytes_is_refused_before_reading() -> None:
    assert declared_too_large(MAX_ATTACHMENT_BYTES + 1)
    assert not declared_too_large(MAX_ATTACHMENT_BYTES)
    assert not declared_too_large(None), "no Content-Length: counted while read"


def test_the_filename_cannot_break_out_of_the_header() -> None:
    header = content_disposition('rachunek "x";\r\nSet-Cookie: a=b.pdf')
    assert "\r" not in header and "\n" not in header
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert '"' not in fallback and "\\" not in fallback
    assert header.startswith("attachment; ")


def test_a_non_ascii_name_keeps_its_utf8_form() -> None:
    header = content_disposition("zdjęcie awarii.jpg")
    assert "filename*=UTF-8''zdj%C4%99cie%20awarii.jpg" in header
    assert 'filename="zdj_cie awarii.jpg"' in header


def test_uploads_beyond_half_the_pool_are_answered_503_not_queued() -> None:
    slots = UploadSlots(db_pool_max=4)
    with slots.take(), slots.take():
        with pytest.raises(Problem) as busy:
            with slots.take():
                pass
        assert busy.value.status == 503 and busy.value.code == "uploads-busy"
    with slots.take():  # given back, whatever happened in them
        pass
    assert slots.free == 2


async def test_a_client_that_stops_sending_is_answered_408(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(attachments_api, "UPLOAD_STALL_SECONDS", 0.05)
    content = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=asyncio.get_running_loop())
    content.feed_data(b"%PDF-1.4")  # and then nothing more, and no end
    with pytest.raises(Problem) as stalled:
        await attachments_api.read_chunk(content)
    assert stalled.value.status == 408
