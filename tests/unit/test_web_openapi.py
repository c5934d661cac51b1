"""web/src/api/openapi.json, from which the web app's API client is typed, is the document the
gateway serves; browser sessions are described in it."""

from __future__ import annotations

from pathlib import Path

from services.gateway.openapi import WEB_DOCUMENT, build_openapi, main, render


def test_the_web_apps_copy_of_the_document_is_up_to_date() -> None:
    assert WEB_DOCUMENT.exists() and WEB_DOCUMENT.read_text(encoding="utf-8") == render(), (
        "web/src/api/openapi.json is stale: run python -m services.gateway.openapi"
    )
    assert main(["--check"]) == 0


def test_check_fails_on_a_stale_or_missing_file_and_writing_fixes_it(tmp_path: Path) -> None:
    output = tmp_path / "api" / "openapi.json"
    assert main(["--check", "--output", str(output)]) == 1
    assert main(["--output", str(output)]) == 0
    assert main(["--check", "--output", str(output)]) == 0
    output.write_text(render().replace("e-BOK public API", "e-BOK"), encoding="utf-8")
    assert main(["--check", "--output", str(output)]) == 1


def test_browser_session_routes_document_the_header_and_the_cookie() -> None:
    document = build_openapi()
    paths = document["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"):
        operation = paths[path]["post"]
        header = next(p for p in operation["parameters"] if p["in"] == "header")
        assert header["name"] == "X-Ebok-Session" and header["required"] is False
        ok = operation["responses"]["204" if path.endswith("logout") else "200"]
        assert "Set-Cookie" in ok["headers"]
    assert "X-Ebok-Session" in str(paths["/api/v1/me/password"]["post"]["parameters"])
    # A browser names its refresh token in the cookie: the body may be left out.
    assert paths["/api/v1/auth/refresh"]["post"]["requestBody"]["required"] is False
    assert paths["/api/v1/auth/logout"]["post"]["requestBody"]["required"] is False
    assert paths["/api/v1/auth/login"]["post"]["requestBody"]["required"] is True
    schemas = document["components"]["schemas"]
    assert "refresh_token" not in schemas["TokensOut"]["required"]
    assert schemas["TokensOut"]["properties"]["refresh_token"]["type"] == "string"
    assert "required" not in schemas["RefreshBody"]
    # Other routes are untouched.
    assert "parameters" not in paths["/api/v1/me"]["get"]
