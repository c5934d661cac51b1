"""What the gateway does for the browser (docs/web.md): the web app's files with their caching
and the client routes' fallback, the security headers on every answer, and sessions whose
refresh token lives in an HttpOnly cookie, on the real platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from services.gateway.web_app import CONTENT_SECURITY_POLICY
from tests.support.flows import NEW_PASSWORD, Account, login, registered_account
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

INDEX = "<!doctype html><title>e-BOK</title><script type=module src=/assets/app-3f2a9c.js>"
ASSET = "console.log('e-BOK')"
SECRET = "next to the build, never served"
BROWSER = {"X-Ebok-Session": "cookie"}
COOKIE = "ebok_refresh"
LOGIN, REFRESH, LOGOUT = "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@pytest.fixture(scope="module")
def web_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build as Vite leaves it, with a file beside it that a path must not reach."""
    root = tmp_path_factory.mktemp("web")
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-3f2a9c.js").write_text(ASSET)
    (dist / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (root / "secret.txt").write_text(SECRET)
    return dist


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def web_stack(infra: Infra, keys: Path, web_dist: Path) -> AsyncIterator[Stack]:
    async for running in start_stack(infra, keys, web_dist=web_dist):
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def account(web_stack: Stack) -> Account:
    return await registered_account(web_stack)


def gateway(stack: Stack) -> str:
    return stack.platform.urls["gateway"]


def browser(stack: Stack) -> aiohttp.ClientSession:
    """A client that keeps cookies as a browser does. The test platform's public URL is https,
    so the cookie is Secure: the gateway's own address is taken as a secure origin, as a browser
    takes 127.0.0.1."""
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[gateway(stack)])
    return aiohttp.ClientSession(cookie_jar=jar)


def jar_token(session: aiohttp.ClientSession, stack: Stack) -> str | None:
    cookies = session.cookie_jar.filter_cookies(URL(gateway(stack) + REFRESH))
    return cookies[COOKIE].value if COOKIE in cookies else None


def set_cookie(resp: aiohttp.ClientResponse) -> SimpleCookie:
    headers = resp.headers.getall("Set-Cookie", [])
    assert len(headers) <= 1, headers
    return SimpleCookie(headers[0] if headers else "")


async def get(stack: Stack, path: str, method: str = "GET") -> tuple[aiohttp.ClientResponse, bytes]:
    """`path` sent exactly as written (percent-escapes and dot segments included)."""
    url = URL(gateway(stack) + path, encoded=True)
    async with stack.api.session.request(method, url) as resp:
        return resp, await resp.read()


# --- the web app's files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/login", "/activate", "/invoices/FV%2F2026%2F10%2F1001", "/meters/M-1/x"]
)
async def test_client_routes_answer_the_index_revalidated_every_time(
    web_stack: Stack, path: str
) -> None:
    resp, body = await get(web_stack, path)
    assert resp.status == 200 and resp.content_type == "text/html"
    assert body.decode() == INDEX
    assert resp.headers["Cache-Control"] == "no-cache"
    head, body = await get(web_stack, path, "HEAD")
    assert head.status == 200 and body == b"" and head.headers["Cache-Control"] == "no-cache"


async def test_files_of_the_build_are_served_and_hashed_assets_cached_for_good(
    web_stack: Stack,
) -> None:
    resp, body = await get(web_stack, "/assets/app-3f2a9c.js")
    assert resp.status == 200 and body.decode() == ASSET
    assert "javascript" in resp.content_type
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    resp, body = await get(web_stack, "/favicon.svg")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert resp.headers["Cache-Control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/..%2Fsecret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2F..%2Fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/%2F" + "etc%2Fpasswd",
        "//etc/passwd",
    ],
)
async def test_no_path_leads_out_of_the_build(web_stack: Stack, path: str) -> None:
    resp, body = await get(web_stack, path)
    assert SECRET.encode() not in body and b"root:" not in body
    if path.startswith("/assets/"):
        assert resp.status == 404, (resp.status, body[:200])  # no such asset
    else:
        assert resp.status == 200 and body.decode() == INDEX, (resp.status, body[:200])


async def test_a_missing_asset_is_404_not_the_page(web_stack: Stack) -> None:
    # A page of an earlier build asking for its old chunk must not get HTML as a script.
    resp, body = await get(web_stack, "/assets/app-000000.js")
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    assert b"<!doctype" not in body


async def test_api_health_and_metrics_paths_are_never_the_app(web_stack: Stack) -> None:
    # Readiness and metrics live on the operations port: here they are 404s, not the page.
    for path in (
        "/api/v1/nothing-here",
        "/api/v2/invoices",
        "/api",
        "/health/nothing",
        "/health/ready",
        "/metrics",
    ):
        resp, body = await get(web_stack, path)
        assert resp.status == 404, path
        assert resp.content_type == "application/problem+json", path
        assert INDEX.encode() not in body, path
    resp, _ = await get(web_stack, "/api/v1/nothing-here", "POST")
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp, _ = await get(web_stack, "/api/v1/registrations")
    assert resp.status == 405 and "POST" in resp.headers["Allow"]
    async with web_stack.api.session.get(web_stack.platform.ops_url("gateway") + "/metrics") as m:
        assert m.status == 200 and m.content_type == "text/plain"
        assert INDEX.encode() not in await m.read()
    resp, _ = await get(web_stack, "/health/live")
    assert resp.status == 200 and resp.content_type == "application/json"


async def test_without_a_build_the_app_is_a_problem_that_says_how_to_build_it(
    web_stack: Stack, web_dist: Path
) -> None:
    index = web_dist / "index.html"
    index.rename(web_dist / "index.html.away")
    try:
        for path in ("/", "/login"):
            resp, body = await get(web_stack, path)
            assert resp.status == 503 and resp.content_type == "application/problem+json"
            assert "make web" in body.decode()
            assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    finally:
        (web_dist / "index.html.away").rename(index)
    resp, _ = await get(web_stack, "/")
    assert resp.status == 200


# --- headers on every answer -------------------------------------------------------------------


async def test_every_answer_carries_the_security_headers_and_api_answers_no_store(
    web_stack: Stack,
) -> None:
    answers = {
        ("GET", "/"): None,
        ("GET", "/assets/app-3f2a9c.js"): None,
        ("GET", "/health/live"): None,
        ("GET", "/metrics"): None,  # a 404 problem here (the operations port has it)
        ("GET", "/api/v1/terms"): None,  # the same for everyone: may be cached
        ("GET", "/api/v1/openapi.json"): None,
        ("POST", "/api/v1/captcha"): "no-store",  # a 415 problem
        ("POST", "/api/v1/captcha/challenge"): "no-store",
        ("GET", "/api/v1/me"): "no-store",  # a 401 problem
        ("GET", "/api/v1/nothing-here"): "no-store",  # a 404 problem
        ("GET", "/api/v1/registrations"): "no-store",  # a 405 problem
        ("POST", LOGIN): "no-store",  # a 415 problem
    }
    for (method, path), cache in answers.items():
        resp, _ = await get(web_stack, path, method)
        assert resp.status < 500, (method, path, resp.status)
        for name, value in SECURITY_HEADERS.items():
            assert resp.headers.get(name) == value, (method, path, name)
        if cache is not None:
            assert resp.headers.get("Cache-Control") == cache, (method, path)
        elif path.startswith("/api/"):
            assert "Cache-Control" not in resp.headers, (method, path)


# --- sessions in the browser --------------------------------------------------------------------


async def test_a_browser_session_keeps_its_refresh_token_in_the_cookie(
    web_stack: Stack, account: Account
) -> None:
    ttl = web_stack.platform.settings.refresh_token_ttl_seconds
    base = gateway(web_stack)
    credentials = {"login": account.login, "password": account.password}
    async with browser(web_stack) as session:
        async with session.post(base + LOGIN, json=credentials, headers=BROWSER) as resp:
            assert resp.status == 200, await resp.text()
            tokens = await resp.json()
            cookie = set_cookie(resp)[COOKIE]
        assert tokens["access_token"] and "refresh_token" not in tokens
        assert cookie["httponly"] and cookie["secure"] and cookie["samesite"] == "Strict"
        assert cookie["path"] == "/api/v1/auth" and cookie["max-age"] == str(ttl)
        first = cookie.value
        assert jar_token(session, web_stack) == first
        # Only the refresh and logout calls see it: the data routes go by the access token.
        assert COOKIE not in session.cookie_jar.filter_cookies(URL(base + "/api/v1/me"))

        # A reload: refresh with the header and no body, then with {}; each rotates the cookie.
        async with session.post(base + REFRESH, headers=BROWSER) as resp:
            assert resp.status == 200, await resp.text()
            renewed = await resp.json()
            second = set_cookie(resp)[COOKIE]
        assert "refresh_token" not in renewed and second.value not in ("", first)
        assert second["httponly"] and second["max-age"] == str(ttl)
        async with session.post(base + REFRESH, json={}, headers=BROWSER) as resp:
            assert resp.status == 200, await resp.text()
        third = jar_token(session, web_stack)
        assert third not in (None, first, second.value)
        status, _ = await web_stack.api.request("GET", "/api/v1/me", token=renewed["access_token"])
        assert status == 200

        # The cookie without the header is ignored (the header is the CSRF defence): 401, and
        # the cookie is neither spent nor changed.
        for body in (None, {}):
            async with session.post(base + REFRESH, json=body) as resp:
                assert resp.status == 401
                assert (await resp.json())["type"].endswith("/invalid-refresh")
                assert "Set-Cookie" not in resp.headers
        assert jar_token(session, web_stack) == third

        async with session.post(base + LOGOUT, headers=BROWSER) as resp:
            assert resp.status == 204
            cleared = set_cookie(resp)[COOKIE]
        assert cleared.value == "" and cleared["max-age"] == "0"
        assert cleared["path"] == "/api/v1/auth"
        assert jar_token(session, web_stack) is None

    # The session is over: its last refresh token is refused, named in a body too.
    status, problem = await web_stack.api.request("POST", REFRESH, json={"refresh_token": third})
    assert status == 401 and problem["type"].endswith("/invalid-refresh")


async def test_a_browser_without_a_session_cookie(web_stack: Stack) -> None:
    base = gateway(web_stack)
    async with browser(web_stack) as session:
        async with session.post(base + REFRESH, headers=BROWSER) as resp:
            assert resp.status == 401
            assert (await resp.json())["type"].endswith("/invalid-refresh")
        # A cookie that cannot be a token is as none.
        session.cookie_jar.update_cookies({COOKIE: "short"}, URL(base + REFRESH))
        async with session.post(base + REFRESH, headers=BROWSER) as resp:
            assert resp.status == 401
        # Logging out always ends in a cleared cookie.
        async with session.post(base + LOGOUT, headers=BROWSER) as resp:
            assert resp.status == 204
            assert set_cookie(resp)[COOKIE]["max-age"] == "0"


async def test_the_forced_password_change_puts_the_new_session_in_the_cookie(
    web_stack: Stack,
) -> None:
    fresh = await registered_account(web_stack, change_password=False)
    base = gateway(web_stack)
    async with browser(web_stack) as session:
        credentials = {"login": fresh.login, "password": fresh.password}
        async with session.post(base + LOGIN, json=credentials, headers=BROWSER) as resp:
            tokens = await resp.json()
            assert resp.status == 200 and tokens["must_change_password"]
        before = jar_token(session, web_stack)
        async with session.post(
            base + "/api/v1/me/password",
            json={"current_password": fresh.password, "new_password": NEW_PASSWORD},
            headers={**BROWSER, "Authorization": f"Bearer {tokens['access_token']}"},
        ) as resp:
            assert resp.status == 200, await resp.text()
            changed = await resp.json()
            cookie = set_cookie(resp)[COOKIE]
        assert "refresh_token" not in changed and not changed["must_change_password"]
        assert cookie.value not in ("", before) and cookie["path"] == "/api/v1/auth"
        async with session.post(base + REFRESH, headers=BROWSER) as resp:
            assert resp.status == 200


async def test_clients_that_send_json_bodies_are_served_as_before(
    web_stack: Stack, account: Account
) -> None:
    base = gateway(web_stack)
    # Even a client that holds a cookie: without the header nothing of it is used or set.
    async with browser(web_stack) as session:
        credentials = {"login": account.login, "password": account.password}
        async with session.post(base + LOGIN, json=credentials, headers=BROWSER) as resp:
            assert resp.status == 200
        held = jar_token(session, web_stack)
        assert held is not None
        status, tokens = await login(web_stack, account.login, account.password)
        assert status == 200 and len(tokens["refresh_token"]) >= 16
        async with session.post(base + LOGIN, json=credentials) as resp:
            assert resp.status == 200 and "refresh_token" in await resp.json()
            assert "Set-Cookie" not in resp.headers
        old = {"refresh_token": tokens["refresh_token"]}
        async with session.post(base + REFRESH, json=old) as resp:
            assert resp.status == 200 and "Set-Cookie" not in resp.headers
            renewed = await resp.json()
        assert renewed["refresh_token"] != tokens["refresh_token"]
        async with session.post(
            base + LOGOUT, json={"refresh_token": renewed["refresh_token"]}
        ) as resp:
            assert resp.status == 204 and "Set-Cookie" not in resp.headers
        assert jar_token(session, web_stack) == held
    status, _ = await web_stack.api.request(
        "POST", REFRESH, json={"refresh_token": renewed["refresh_token"]}
    )
    assert status == 401
    # Identity still judges a named token: the same problems as ever.
    status, problem = await web_stack.api.request("POST", REFRESH, json={"refresh_token": "x"})
    assert status == 422 and problem["errors"][0]["field"] == "refresh_token"
    status, problem = await web_stack.api.request("POST", LOGOUT, json={"token": "x" * 20})
    assert status == 422
    async with web_stack.api.session.post(base + REFRESH, data="not json") as resp:
        assert resp.status == 415
