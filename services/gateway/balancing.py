"""The instances of one upstream service, taken in turn (round-robin).

An instance whose connection failed is set aside for a few seconds: calls go to the others
meanwhile, and it is tried again once its time is up (or at once when it answers the
readiness check's liveness call). When every instance is set aside, all are still tried in
turn: a call that might succeed beats a 503 that is certain."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

# The request never reached the service: no connection could be opened (refused, unreachable,
# or not within the connect timeout). Another instance may take it, whatever its method.
NOT_SENT = (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)


@dataclass
class Instance:
    url: str
    set_aside_until: float = 0.0


class Balancer:
    """Round-robin over the URLs of one service's instances, skipping those set aside."""

    def __init__(
        self,
        urls: list[str],
        set_aside_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not urls:
            raise ValueError("an upstream needs at least one URL")
        self.instances = [Instance(url.rstrip("/")) for url in urls]
        self.set_aside_seconds = set_aside_seconds
        self.clock = clock
        self._next = 0

    def order(self) -> list[Instance]:
        """Every instance, in the order this call tries them: the next in turn first, those
        set aside last."""
        count = len(self.instances)
        start = self._next
        self._next = (start + 1) % count
        turn = [self.instances[(start + n) % count] for n in range(count)]
        now = self.clock()
        return [i for i in turn if i.set_aside_until <= now] + [
            i for i in turn if i.set_aside_until > now
        ]

    def set_aside(self, instance: Instance) -> None:
        instance.set_aside_until = self.clock() + self.set_aside_seconds

    def restore(self, instance: Instance) -> None:
        instance.set_aside_until = 0.0

    def available(self) -> list[Instance]:
        now = self.clock()
        return [i for i in self.instances if i.set_aside_until <= now]
