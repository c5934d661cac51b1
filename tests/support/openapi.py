"""Checks real responses against the gateway's OpenAPI document."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator


class OpenApi:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.routes = [
            (re.compile("^" + re.sub(r"{\w+}", "[^/]+", path) + "$"), path)
            for path in sorted(document["paths"], key=len, reverse=True)
        ]

    def template_of(self, path: str) -> str:
        for pattern, template in self.routes:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} is not in the OpenAPI document")

    def check(self, method: str, path: str, status: int, content_type: str, body: object) -> None:
        template = self.template_of(path.split("?")[0])
        operation = self.document["paths"][template].get(method.lower())
        assert operation is not None, f"{method} {template} is not documented"
        response = operation["responses"].get(str(status))
        assert response is not None, f"{method} {template} answered {status}, not documented"
        if body is None:
            return
        content = response.get("content", {})
        assert content_type in content, f"{method} {template} {status}: {content_type} undocumented"
        schema = {**content[content_type]["schema"], "components": self.document["components"]}
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, (
            f"{method} {path} {status}: {errors[0].message} at {list(errors[0].path)}"
        )

    def check_all(self, recorded: list[tuple[str, str, int, str, object]]) -> int:
        for method, path, status, content_type, body in recorded:
            self.check(method, path, status, content_type, body)
        return len(recorded)
