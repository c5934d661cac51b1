"""The `Idempotency-Key` header of routes that create something once however often they are
asked (payments' online payments, correspondence's cases), and the field problem it and its
neighbours answer with."""

from __future__ import annotations

import re

from aiohttp import web

from shared.http.problems import Problem

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9_.:-]{8,100}$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def field_problem(status: int, title: str, field: str, message: str, code: str) -> Problem:
    """A problem about one field (or header), named in `errors`."""
    return Problem(
        status,
        title,
        f"{field}: {message}",
        code=code,
        errors=[{"field": field, "message": message, "code": code}],
    )


def idempotency_key(request: web.Request, what: str) -> str:
    """The request's key, or a 400 naming the header (`what`: what each new key makes)."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        raise field_problem(
            400,
            "Idempotency key required",
            "Idempotency-Key",
            f"send a new random key (8-100 letters, digits, _ . : -) with each new {what}",
            "missing",
        )
    if not _KEY.fullmatch(key):
        raise field_problem(
            400,
            "Invalid idempotency key",
            "Idempotency-Key",
            "8-100 letters, digits and _ . : - only",
            "invalid",
        )
    return key
