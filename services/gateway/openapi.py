"""The OpenAPI 3.1 document of the public API, generated from the route table and the models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.gateway.api import ROUTES, Route
from shared.api.common import ProblemOut

REF_TEMPLATE = "#/components/schemas/{model}"
ERROR_TEXT = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    410: "Gone",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
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
    if params:
        op["parameters"] = params
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    if route.status == 204:
        ok: dict[str, Any] = {"description": "Done"}
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
    op["responses"] = {str(route.status): ok}
    # Every body can be malformed or of another media type; every query can be invalid.
    implied = (400, 415, 422) if route.body is not None else ()
    implied += (422,) if route.query is not None else ()
    # A token can be missing or invalid; a customer's also still bound to change its password.
    implied += (401,) if route.access != "public" else ()
    implied += (403,) if route.access == "customer" else ()
    for status in sorted({*route.errors, *implied, 503}):
        op["responses"][str(status)] = {
            "description": ERROR_TEXT[status],
            "content": {
                "application/problem+json": {"schema": refs[(ProblemOut, "serialization")]}
            },
        }
    if route.access != "public":
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
