"""Browser sessions: the refresh token in an HttpOnly cookie instead of the JSON body.

A browser client sends `X-Ebok-Session: cookie` on login, refresh, logout and password change
(docs/web.md). For those calls the gateway moves the refresh token of identity's answer into the
cookie `ebok_refresh`, and takes it from there for refresh and logout. Identity knows nothing of
cookies: it always sees, and answers, JSON bodies that name the token.

The header is the CSRF defence on the cookie-authenticated calls, on top of SameSite=Strict: a
cross-site form cannot send it, and a cross-site fetch with it needs a CORS preflight that the
gateway never grants. So a cookie that comes without the header is ignored.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import orjson
from aiohttp import web
from pydantic import ValidationError

from services.gateway.api import UPSTREAMS, Handler, Route, authorize
from shared.api.identity import RefreshRequest, TokensOut
from shared.http.problems import Problem
from shared.runtime import SETTINGS

SESSION_HEADER = "X-Ebok-Session"
SESSION_HEADER_VALUE = "cookie"
COOKIE = "ebok_refresh"
# Sent back only to /auth/refresh and /auth/logout (and login, which ignores it): never to the
# account's data routes, whose authority is the access token alone.
COOKIE_PATH = "/api/v1/auth"
# Where a browser keeps a cookie set over plain http only when it is not marked Secure.
_LOCAL_HOSTS = ("localhost", "127.0.0.1")


def is_browser(request: web.Request) -> bool:
    """Whether a browser keeps this session in the cookie; 400 for any other header value (a
    client that means something else should learn it, not be answered as a JSON client)."""
    value = request.headers.get(SESSION_HEADER)
    if value is None:
        return False
    if value.strip().lower() != SESSION_HEADER_VALUE:
        raise Problem(
            400,
            "Invalid session header",
            f"{SESSION_HEADER} may only be '{SESSION_HEADER_VALUE}' (the browser keeps the "
            "refresh token in the cookie); leave it out to send the token in the body",
            code="invalid-session-header",
        )
    return True


def cookie_secure(public_url: str) -> bool:
    """Secure, unless the platform is served over plain http on this machine (development)."""
    parts = urlsplit(public_url)
    return not (parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS)


def _no_refresh_token() -> Problem:
    return Problem(
        401,
        "Invalid refresh token",
        "No refresh token was sent; log in again",
        code="invalid-refresh",
    )


async def _names_no_token(request: web.Request) -> bool:
    """No body, or the JSON body `{}`. Any other body goes to identity as it came, so a client
    that sends its token gets identity's answers (and problems) exactly as before cookies."""
    if not request.body_exists:  # (can_read_body turns false once the body has been read)
        return True
    if request.content_type != "application/json":
        return False
    try:
        return bool(orjson.loads(await request.read()) == {})
    except orjson.JSONDecodeError:
        return False


def _cookie_token(request: web.Request) -> str | None:
    """The cookie's refresh token, when it could be one (anything else is as no cookie)."""
    try:
        return RefreshRequest.model_validate(
            {"refresh_token": request.cookies.get(COOKIE)}
        ).refresh_token
    except ValidationError:
        return None


def _token_into_cookie(request: web.Request, answer: web.Response) -> web.Response:
    """Identity's token pair with the refresh token moved from the body into the cookie."""
    assert isinstance(answer.body, bytes)
    tokens = TokensOut.model_validate_json(answer.body)
    response = web.Response(
        body=tokens.model_dump_json(exclude={"refresh_token"}).encode(),
        content_type="application/json",
    )
    if tokens.refresh_token is not None:
        settings = request.app[SETTINGS]
        response.set_cookie(
            COOKIE,
            tokens.refresh_token,
            max_age=settings.refresh_token_ttl_seconds,
            path=COOKIE_PATH,
            secure=cookie_secure(settings.public_url),
            httponly=True,
            samesite="Strict",
        )
    return response


def handler(route: Route) -> Handler:
    """The gateway's handler of a route with a `browser_session` part: forwarding to identity,
    with the cookie's work around it for browser clients. A refresh or logout that names no
    token, in its body or (for a browser) its cookie, is answered here: 401, or 204."""
    assert route.service is not None and route.browser_session is not None
    service, kind = route.service, route.browser_session
    upstream_path = route.path.removeprefix("/api/v1")

    async def handle(request: web.Request) -> web.StreamResponse:
        authorize(request, route.policy)
        browser = is_browser(request)
        upstreams = request.app[UPSTREAMS]
        if kind == "issues" or not await _names_no_token(request):
            answer = await upstreams.forward(service, upstream_path, request)
        else:
            token = _cookie_token(request) if browser else None
            if token is not None:
                body = orjson.dumps({"refresh_token": token})
                answer = await upstreams.forward(service, upstream_path, request, json_body=body)
            elif kind == "refreshes":
                raise _no_refresh_token()
            else:
                answer = web.Response(status=204)  # no session named: nothing to end
        if not browser:
            return answer
        if kind == "ends":
            if answer.status == 204:
                answer.del_cookie(
                    COOKIE,
                    path=COOKIE_PATH,
                    secure=cookie_secure(request.app[SETTINGS].public_url),
                    httponly=True,
                    samesite="Strict",
                )
            return answer
        return _token_into_cookie(request, answer) if answer.status == 200 else answer

    return handle
