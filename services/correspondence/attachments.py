"""Attachments' rules: which files are taken (by their first bytes, not their name), how big, for
how long an upload waits to be named by a case, and where the back office fetches one."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import quote

from shared.api.correspondence import MAX_ATTACHMENT_BYTES
from shared.events.correspondence import AttachmentType
from shared.http.problems import Problem
from shared.settings import Settings

CHUNK_BYTES = 256 * 1024  # one row of attachment_chunks; what is read from the request at once
# An upload no case has named after this long is deleted (the purge loop).
UNATTACHED_TTL = timedelta(days=1)
# The longest signature below: enough of the start of a file to know its type.
SNIFF_BYTES = 8

# The file's first bytes, and the type they make it; a name or a Content-Type header says
# nothing (a renamed .exe stays an .exe).
SIGNATURES: tuple[tuple[bytes, AttachmentType], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(head: bytes) -> AttachmentType | None:
    """The type the file's first bytes show, or None for anything but PDF, JPEG and PNG."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def unsupported_type() -> Problem:
    return Problem(
        415,
        "Unsupported attachment type",
        "Only PDF, JPEG and PNG files are taken; the type is read from the file's content",
        code="unsupported-attachment-type",
    )


def too_large() -> Problem:
    return Problem(
        413,
        "Attachment too large",
        f"An attachment may have at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB",
        code="attachment-too-large",
    )


def empty() -> Problem:
    return Problem(
        422,
        "Validation failed",
        "The file is empty",
        code="empty-attachment",
        errors=[{"field": "body", "message": "the file is empty", "code": "empty"}],
    )


def declared_too_large(content_length: int | None) -> bool:
    """A Content-Length over the limit is refused before a byte is read."""
    return content_length is not None and content_length > MAX_ATTACHMENT_BYTES


def content_disposition(filename: str) -> str:
    """`attachment` with the name as RFC 6266 has it: an ASCII fallback (no quotes, backslashes
    or control characters to break out of the header) and the UTF-8 name percent-encoded."""
    fallback = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def backoffice_url(settings: Settings, attachment_id: uuid.UUID) -> str:
    """Where the back office fetches an attachment, with its service credential."""
    return f"{settings.service_url('correspondence')}/backoffice/attachments/{attachment_id}"
