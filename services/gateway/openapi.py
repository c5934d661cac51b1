"""The OpenAPI 3.1 document of the public API, generated from the route table and the models.

    python -m services.gateway.openapi            write it to web/src/api/openapi.json
    python -m services.gateway.openapi --check    exit 1 when that file is stale

The web app's API client is typed from that file (docs/web.md); a test fails while it is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway.api import ROUTES, BrowserSession, Route
from services.gateway.browser_session import (
    COOKIE,
    COOKIE_PATH,
    SESSION_HEADER,
    SESSION_HEADER_VALUE,
)
from shared.api.common import ProblemOut
from shared.http.idempotency import IDEMPOTENCY_KEY_PATTERN
from shared.settings import ROOT

WEB_DOCUMENT = ROOT / "web" / "src" / "api" / "openapi.json"

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    408: "Request timeout",
    409: "Conflict",
    410: "Gone",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    502: "Bad gateway (a provider outside e-BOK did not answer)",
    503: "Service unavailable",
}


def _models() -> list[tuple[type[BaseModel], str]]:
    found: list[tuple[type[BaseModel], str]] = [(ProblemOut, "serialization")]
    for route in ROUTES:
        if route.body is not None:
            found.append((route.body, "validation"))
        if isinstance(route.response, type) and issubclass(route.response, BaseModel):
            found.append((route.response, "serialization"))
    return found


def _name(model: type[BaseModel]) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", model.__name__)


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


_SESSION_HEADER = {
    "name": SESSION_HEADER,
    "in": "header",
    "required": False,
    "description": "A browser client: the refresh token travels in the HttpOnly cookie "
    f"{COOKIE} (Path={COOKIE_PATH}), never in the JSON bodies",
    "schema": {"type": "string", "enum": [SESSION_HEADER_VALUE]},
}
_SESSION_COOKIE = {
    "name": COOKIE,
    "in": "cookie",
    "required": False,
    "description": f"Read only with {SESSION_HEADER}: {SESSION_HEADER_VALUE} and no "
    "refresh_token in the body",
    "schema": {"type": "string"},
}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": "A new random key for each new request: the same key with the same body "
    "gives the same answer, with another body 409",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
}
_SET_COOKIE = {
    "issues": {
        "description": f"With {SESSION_HEADER}: {SESSION_HEADER_VALUE}: the new refresh token "
        f"in {COOKIE} (HttpOnly; SameSite=Strict; Path={COOKIE_PATH}; Max-Age = its lifetime; "
        "Secure unless the platform is served over plain http on localhost), and no "
        "refresh_token in the body",
        "schema": {"type": "string"},
    },
    "ends": {
        "description": f"With {SESSION_HEADER}: {SESSION_HEADER_VALUE}: {COOKIE} cleared "
        "(Max-Age=0)",
        "schema": {"type": "string"},
    },
}
_SET_COOKIE["refreshes"] = _SET_COOKIE["issues"]


def _browser_session_parameters(kind: BrowserSession) -> list[dict[str, Any]]:
    return [_SESSION_HEADER] if kind == "issues" else [_SESSION_HEADER, _SESSION_COOKIE]


def _operation(route: Route, refs: dict[tuple[type[BaseModel], str], dict]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.path.removeprefix('/api/v1/')}".replace(
            "/", "_"
        )
        .replace("{", "")
        .replace("}", "")
        .replace("-", "_"),
        "tags": [route.service or "gateway"],
    }
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"{(\w+)}", route.path)
    ]
    if route.query is not None:
        params += _query_parameters(route.query)
    if route.browser_session is not None:
        params += _browser_session_parameters(route.browser_session)
    if route.idempotent:
        params.append(_IDEMPOTENCY_KEY)
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            # A browser's refresh and logout name their token in the cookie, not the body.
            "required": route.browser_session not in ("refreshes", "ends"),
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    elif route.body_types:
        # A file, sent as it is (not a form): its own media type, its name in the query.
        op["requestBody"] = {
            "required": True,
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in route.body_types
            },
        }
    if route.status == 204:
        ok: dict[str, Any] = {"description": "Done"}
    elif route.response_types:
        ok = {
            "description": "OK",
            "content": {
                t: {"schema": {"type": "string", "format": "binary"}} for t in route.response_types
            },
        }
    elif route.content_type != "application/json":
        ok = {
            "description": "OK",
            "content": {route.content_type: {"schema": {"type": "string", "format": "binary"}}},
        }
    else:
        ok = {
            "description": "OK",
            "content": {"application/json": {"schema": refs[(route.response, "serialization")]}},
        }
    if route.browser_session is not None:
        ok["headers"] = {"Set-Cookie": _SET_COOKIE[route.browser_session]}
    op["responses"] = {str(route.status): ok}
    # Every body can be malformed or of another media type; every query can be invalid.
    implied = (400, 415, 422) if route.body is not None else ()
    implied += (422,) if route.query is not None else ()
    # A token can be missing or invalid; a signed-in caller can be of another role, or still
    # bound to change its password.
    implied += (401,) if not route.policy.anonymous else ()
    implied += (403,) if not route.policy.anonymous and not route.policy.password_change else ()
    for status in sorted({*route.errors, *implied, 503}):
        op["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {
                "application/problem+json": {"schema": refs[(ProblemOut, "serialization")]}
            },
        }
    op["x-ebok-policy"] = route.policy.summary
    if not route.policy.anonymous:
        op["security"] = [{"bearer": []}]
    return op


def build_openapi() -> dict[str, Any]:
    refs, definitions = models_json_schema(_models(), ref_template=REF_TEMPLATE)
    schemas = definitions.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "e-BOK public API",
            "version": "1.0.0",
            "description": "The internet customer service office of the water and sewage "
            "utility. Errors are application/problem+json (RFC 9457).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


def render() -> str:
    """The document as web/src/api/openapi.json holds it."""
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.gateway.openapi")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is stale")
    parser.add_argument("--output", type=Path, default=WEB_DOCUMENT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(
                f"{args.output} is stale: run python -m services.gateway.openapi", file=sys.stderr
            )
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
