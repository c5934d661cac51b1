"""Bounded argon2 work: each hash or verification takes ~100 ms of CPU and 64 MiB, so anonymous
and customer requests get at most `password_hash_concurrency` of them at once per identity
instance. A request that gets no turn within `password_hash_wait_seconds` is answered 503 busy
with Retry-After rather than queued: unbounded queued work only answers too late, after it has
held memory and connections all along."""

from __future__ import annotations

import asyncio
import math
import weakref
from collections.abc import Callable
from typing import TypeVar

from shared.http.problems import Problem
from shared.settings import Settings

T = TypeVar("T")

# One semaphore per settings object: identity builds its app, its handlers' `Tx` and its
# `request.app[SETTINGS]` from one object, so this is one limit per identity instance (per
# process in a deployment; per platform in the tests, which run several in one process).
_SLOTS: dict[int, asyncio.Semaphore] = {}


def slots(settings: Settings) -> asyncio.Semaphore:
    """The turns of the identity instance configured by `settings`."""
    key = id(settings)
    found = _SLOTS.get(key)
    if found is None:
        found = _SLOTS[key] = asyncio.Semaphore(settings.password_hash_concurrency)
        # Forget it with its settings, so a later object at the same address starts afresh.
        weakref.finalize(settings, _SLOTS.pop, key, None)
    return found


def busy(settings: Settings) -> Problem:
    return Problem(
        503,
        "Busy",
        "Too many passwords are being checked right now; try again in a moment",
        code="busy",
        headers={"Retry-After": str(max(1, math.ceil(settings.password_hash_wait_seconds)))},
    )


async def run(settings: Settings, hashing: Callable[..., T], *args: object) -> T:
    """`hashing(*args)` in a worker thread once a turn is free; `busy` when none frees up in
    time."""
    turns = slots(settings)
    try:
        async with asyncio.timeout(settings.password_hash_wait_seconds):
            await turns.acquire()
    except TimeoutError:
        raise busy(settings) from None
    # The turn goes back when the thread is done, not when the caller stops waiting for it (a
    # cancelled request): the thread runs on, and still holds its memory.
    work = asyncio.ensure_future(asyncio.to_thread(hashing, *args))

    def done(task: asyncio.Future[T]) -> None:
        turns.release()
        if not task.cancelled():
            task.exception()  # retrieved here too, in case nobody awaits it any more

    work.add_done_callback(done)
    return await asyncio.shield(work)
