"""The web app's files (EBOK_WEB_DIST, Vite's build of web/) at `/`, and the headers that every
answer of the gateway carries (docs/web.md, "What the gateway does for the browser")."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from shared.http.problems import Problem

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
API_PREFIX = "/api/v1/"
# The only API answers a cache may keep: the same for everyone. Everything else under /api/v1
# (tokens, a customer's data, problems) is no-store.
CACHEABLE_API = frozenset({"/api/v1/openapi.json", "/api/v1/terms"})
# Vite names the files under assets/ by their content's hash: a changed file is a new name.
ASSET_CACHE = "public, max-age=31536000, immutable"
# index.html and the other files keep their names across builds: revalidate (ETag) every time.
PAGE_CACHE = "no-cache"
# Every path except the API's, the health checks' and the metrics': those belong to their own
# routes only, so that an unknown /api/... path stays a JSON 404 and a wrong method a 405 (and
# /health/ready and /metrics, served on the operations port, are 404s here, not the page).
WEB_PATH = r"/{path:(?!(?:api|health|metrics)(?:/|$)).*}"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: on every answer, whichever handler, middleware or error made it."""
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith(API_PREFIX) and not (
        request.method in ("GET", "HEAD") and request.path in CACHEABLE_API
    ):
        response.headers["Cache-Control"] = "no-store"


def _file_in(root: Path, relative: str) -> Path | None:
    """The file `relative` names under `root`; None when there is none, or when the name leads
    out of `root` (`..`, an absolute path, a link): the resolved path must stay inside."""
    if not relative:
        return None
    try:
        candidate = (root / relative).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    except (OSError, ValueError):  # a name the file system refuses (NUL, too long)
        pass
    return None


class _NoSuchAsset(Exception):
    pass


def _choose(root: Path, relative: str) -> tuple[Path, str] | None:
    """The file to answer with and its Cache-Control; None when the app is not built."""
    found = _file_in(root, relative)
    if found is not None:
        return found, ASSET_CACHE if found.is_relative_to(root / "assets") else PAGE_CACHE
    if relative.startswith("assets/"):
        # A page from an earlier build asks for its old chunk: index.html in its place would be
        # run as a script. A 404 lets the app see the failed import and reload.
        raise _NoSuchAsset
    index = root / "index.html"
    return (index, PAGE_CACHE) if index.is_file() else None


def add_web_app_routes(app: web.Application, web_dist: Path) -> None:
    """GET and HEAD of every non-API path: its file in `web_dist`, else index.html (the app's
    client-side routes). Added after the API's routes; the path pattern leaves theirs alone."""
    root = web_dist.resolve()

    async def web_app(request: web.Request) -> web.StreamResponse:
        # Resolving touches the file system: off the event loop, as aiohttp's static files do.
        try:
            chosen = await asyncio.to_thread(_choose, root, request.match_info["path"])
        except _NoSuchAsset:
            raise Problem(
                404, "Not found", "No such file of the web app", code="not-found"
            ) from None
        if chosen is None:
            raise Problem(
                503,
                "Web app not built",
                "The web app has not been built: run `make web` (or npm run build in web/)",
                code="web-app-not-built",
            )
        path, cache_control = chosen
        return web.FileResponse(path, headers={"Cache-Control": cache_control})

    app.router.add_get(WEB_PATH, web_app)
