"""RFC 9457 problem documents: every error leaves a service as application/problem+json."""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.api.common import ProblemOut
from shared.logs import get_logger

log = get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
M = TypeVar("M", bound=BaseModel)
# How deep a request body's arrays and objects may nest: far more than any request model needs,
# far less than json's decoder can take (it recurses once a level, and a body nested thousands
# deep would end in RecursionError, a 500, instead of a clear refusal).
MAX_JSON_DEPTH = 64
# A JSON string, or an unterminated one to the end of the text: each character is looked at once.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.code = code or title.lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers or {}

    def document(self, instance: str | None = None) -> ProblemOut:
        return ProblemOut(
            type=f"https://e-bok.example/problems/{self.code}",
            title=self.title,
            status=self.status,
            detail=self.detail or None,
            instance=instance or None,
            errors=self.errors or None,  # type: ignore[arg-type]
        )


def problem_response(problem: Problem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        body=problem.document(instance).model_dump_json(exclude_none=True).encode(),
        content_type=PROBLEM_CONTENT_TYPE,
        headers=problem.headers,
    )


def validation_problem(exc: ValidationError) -> Problem:
    errors = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"] if p != "body") or "(body)"
        errors.append({"field": field, "message": err["msg"], "code": err["type"]})
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return Problem(
        422,
        "Validation failed",
        f"Invalid or missing fields: {fields}",
        code="validation-failed",
        errors=errors,
    )


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read a JSON body into a pydantic model, or raise a 400/415/422 problem."""
    if request.content_type != "application/json":
        raise Problem(
            415,
            "Unsupported media type",
            "Send the body as application/json",
            code="unsupported-media-type",
        )
    try:
        text = await request.text()
        if _nests_deeper(text, MAX_JSON_DEPTH):
            raise _too_deep()
        raw = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, LookupError):
        # LookupError: a Content-Type charset Python does not know (e.g. charset=nonexistent)
        raise Problem(
            400, "Malformed JSON", "The request body is not valid JSON", code="malformed-json"
        ) from None
    except RecursionError:  # should the check above ever miss a way to nest
        raise _too_deep() from None
    if not isinstance(raw, dict):
        raise Problem(
            400, "Malformed JSON", "The request body must be a JSON object", code="malformed-json"
        )
    _refuse_nul(_nul_fields(raw))
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def _nul_fields(value: object, where: str = "") -> list[str]:
    """The fields whose text holds a NUL character (U+0000), which no text field may carry and
    PostgreSQL cannot store; the body is at most 64 levels deep here."""
    if isinstance(value, str):
        return [where or "(body)"] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            found += [path] if "\x00" in key else _nul_fields(item, path)
        return found
    if isinstance(value, list):
        return [f for n, item in enumerate(value) for f in _nul_fields(item, f"{where}.{n}")]
    return []


def _refuse_nul(fields: list[str]) -> None:
    if fields:
        raise Problem(
            422,
            "Validation failed",
            f"Invalid or missing fields: {', '.join(fields)}",
            code="validation-failed",
            errors=[
                {"field": f, "message": "must not contain a NUL character", "code": "nul_character"}
                for f in fields
            ],
        )


def _nests_deeper(text: str, limit: int) -> bool:
    """Whether the arrays and objects of the JSON `text` nest deeper than `limit` (`[]` is 1
    deep), found without parsing or recursion, in time linear in the text: strings (also an
    unterminated last one) are cut out, then the brackets left are counted."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0) > limit


def _too_deep() -> Problem:
    return Problem(
        400,
        "JSON too deep",
        f"The request body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels",
        code="json-too-deep",
    )


def parse_query(request: web.Request, model: type[M]) -> M:
    _refuse_nul([name for name, value in request.query.items() if "\x00" in name + value])
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_problem(exc) from None


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    if isinstance(data, BaseModel):
        body = data.model_dump_json().encode()
    else:
        body = orjson.dumps(data, default=str)
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem, request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = Problem(exc.status, exc.reason, code=exc.reason.lower().replace(" ", "-"))
        if isinstance(exc, web.HTTPMethodNotAllowed):
            problem.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return problem_response(problem, request.path)
    except Exception:
        log.exception("unhandled error", path=request.path, method=request.method)
        return problem_response(
            Problem(
                500,
                "Internal error",
                "Something went wrong on our side; it has been logged",
                code="internal-error",
            ),
            request.path,
        )
