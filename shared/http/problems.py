"""RFC 9457 problem documents: every error leaves a service as application/problem+json."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.api.common import ProblemOut
from shared.logs import get_logger

log = get_logger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
M = TypeVar("M", bound=BaseModel)


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
        raw = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Problem(
            400, "Malformed JSON", "The request body is not valid JSON", code="malformed-json"
        ) from None
    if not isinstance(raw, dict):
        raise Problem(
            400, "Malformed JSON", "The request body must be a JSON object", code="malformed-json"
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def parse_query(request: web.Request, model: type[M]) -> M:
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
