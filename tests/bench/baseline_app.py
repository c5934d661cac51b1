"""The bare aiohttp fan-out baseline: `front` calls two `back` apps concurrently; each back app
runs one asyncpg query. No validation, no auth, no logging: what the stack costs at the least.

    python -m tests.bench.baseline_app back  PORT DSN
    python -m tests.bench.baseline_app front PORT BACK_URL_1 BACK_URL_2
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp
import asyncpg
from aiohttp import web

POOL = web.AppKey("pool", asyncpg.Pool)
SESSION = web.AppKey("session", aiohttp.ClientSession)


def back(port: int, dsn: str) -> None:
    async def pool(app: web.Application):
        app[POOL] = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        yield
        await app[POOL].close()

    async def handler(request: web.Request) -> web.Response:
        async with request.app[POOL].acquire() as conn:
            row = await conn.fetchrow("SELECT count(*) AS n, now() AS at FROM pg_class")
        return web.json_response({"n": row["n"], "at": row["at"].isoformat()})

    app = web.Application()
    app.cleanup_ctx.append(pool)
    app.router.add_get("/", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def front(port: int, backs: list[str]) -> None:
    async def session(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        yield
        await app[SESSION].close()

    async def handler(request: web.Request) -> web.Response:
        async def call(url: str) -> object:
            async with request.app[SESSION].get(url) as resp:
                return json.loads(await resp.read())

        parts = await asyncio.gather(*(call(url) for url in backs))
        return web.json_response({"parts": parts})

    app = web.Application()
    app.cleanup_ctx.append(session)
    app.router.add_get("/", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "back":
        back(port, sys.argv[3])
    else:
        front(port, sys.argv[3:])
