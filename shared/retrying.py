"""Start-up connections retried until a deadline: a service may start before its database or
broker is up (and aio-pika's robust connection does not retry its first attempt)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.logs import get_logger

log = get_logger(__name__)

T = TypeVar("T")


async def connect_with_retry(
    connect: Callable[[], Awaitable[T]],
    *,
    what: str,
    timeout: float,
    errors: tuple[type[BaseException], ...],
) -> T:
    """`await connect()` until it succeeds; after `timeout` seconds the last error is raised."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.2
    while True:
        try:
            return await connect()
        except errors as exc:
            if loop.time() > deadline:
                raise
            log.warning(f"{what} not reachable yet, retrying", error=str(exc), delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
