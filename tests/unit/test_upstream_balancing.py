"""The gateway's balancing over the instances of an upstream (services/gateway/balancing.py,
upstream.py): round-robin, a connection that does not open goes to the next instance and sets
the one that failed aside for a while, a call that may have been applied is never repeated, and
EBOK_<NAME>_URL lists the instances."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from services.gateway.balancing import Balancer
from services.gateway.upstream import Upstreams
from shared.http.problems import Problem
from shared.runtime import SETTINGS
from shared.settings import Settings
from tests.support.stack import free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_round_robin_starts_each_call_at_the_next_instance() -> None:
    balancer = Balancer(["http://a", "http://b/", "http://c"])
    firsts = [balancer.order()[0].url for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c"] * 2
    assert [i.url for i in balancer.order()] == ["http://a", "http://b", "http://c"]


def test_an_instance_set_aside_is_tried_last_until_its_time_is_up() -> None:
    clock = Clock()
    balancer = Balancer(["http://a", "http://b"], set_aside_seconds=5, clock=clock)
    a = balancer.instances[0]
    balancer.set_aside(a)
    assert [[i.url for i in balancer.order()] for _ in range(2)] == [
        ["http://b", "http://a"],
        ["http://b", "http://a"],
    ]
    assert balancer.available() == [balancer.instances[1]]
    clock.now += 5.01
    assert {balancer.order()[0].url for _ in range(2)} == {"http://a", "http://b"}
    balancer.set_aside(a)
    balancer.restore(a)
    assert len(balancer.available()) == 2


def test_all_instances_set_aside_are_still_all_tried() -> None:
    balancer = Balancer(["http://a", "http://b"])
    for instance in balancer.instances:
        balancer.set_aside(instance)
    assert {i.url for i in balancer.order()} == {"http://a", "http://b"}


def test_a_balancer_needs_an_instance() -> None:
    with pytest.raises(ValueError):
        Balancer([])


def test_service_urls_lists_the_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBOK_BILLING_URL", " http://b1:8102/, http://b2:8102 ,,")
    monkeypatch.setenv("EBOK_IDENTITY_URL", "http://identity:8101")
    settings = Settings()
    assert settings.service_urls("billing") == ["http://b1:8102", "http://b2:8102"]
    assert settings.service_url("billing") == "http://b1:8102"
    assert settings.service_urls("identity") == ["http://identity:8101"]
    assert settings.service_urls("metering") == [f"http://127.0.0.1:{settings.metering_port}"]


@dataclass
class Instance:
    """A service instance on a port of its own: counts what it was asked, or goes away."""

    name: str
    port: int = field(default_factory=free_port)
    calls: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        async def answer(request: web.Request) -> web.Response:
            self.calls.append(f"{request.method} {request.path}")
            return web.json_response({"instance": self.name})

        async def upload(request: web.Request) -> web.Response:
            received = len(await request.read())
            return web.json_response({"instance": self.name, "received": received})

        async def vanish(request: web.Request) -> web.Response:
            # The request arrived, then the process went away before answering.
            self.calls.append(f"{request.method} {request.path}")
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(1)
            return web.Response()

        app = web.Application()
        app.router.add_route("*", "/vanish", vanish)
        app.router.add_post("/upload", upload)
        app.router.add_route("*", "/{tail:.*}", answer)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest_asyncio.fixture(loop_scope="session")
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def pair() -> AsyncIterator[tuple[Instance, Instance]]:
    a, b = Instance("a"), Instance("b")
    await a.start()
    await b.start()
    yield a, b
    await a.stop()
    await b.stop()


async def names(upstreams: Upstreams, calls: int, method: str = "GET") -> list[str]:
    answers = []
    for _ in range(calls):
        result = await upstreams.call("billing", method, "/summary")
        assert result.status == 200
        answers.append(result.body.decode())
    return [a.split('"')[3] for a in answers]


async def test_calls_alternate_between_live_instances(
    session: aiohttp.ClientSession, pair: tuple[Instance, Instance]
) -> None:
    a, b = pair
    upstreams = Upstreams(session, {"billing": [a.url, b.url]})
    assert await names(upstreams, 6) == ["a", "b"] * 3
    assert await upstreams.live_instances("billing") == 2


async def test_a_refused_connection_goes_to_the_next_instance_and_is_set_aside(
    session: aiohttp.ClientSession, pair: tuple[Instance, Instance]
) -> None:
    a, b = pair
    upstreams = Upstreams(session, {"billing": [a.url, b.url]}, set_aside_seconds=60)
    await a.stop()  # its port now refuses connections
    a.calls.clear()
    # A POST too: the request was never sent, so the other instance may take it.
    assert await names(upstreams, 3, "POST") + await names(upstreams, 3) == ["b"] * 6
    assert a.calls == []
    balancer = upstreams.balancers["billing"]
    assert [i.url for i in balancer.available()] == [b.url]
    # Back: the readiness check's liveness call takes it again before its time is up.
    await a.start()
    assert await upstreams.live_instances("billing") == 2
    assert sorted(await names(upstreams, 4)) == ["a", "a", "b", "b"]


async def test_every_instance_down_is_a_503_and_readiness_sees_none(
    session: aiohttp.ClientSession,
) -> None:
    upstreams = Upstreams(session, {"billing": [f"http://127.0.0.1:{free_port()}"] * 2})
    with pytest.raises(Problem) as raised:
        await upstreams.call("billing", "GET", "/summary")
    assert raised.value.status == 503
    assert await upstreams.live_instances("billing") == 0


async def test_a_call_cut_short_is_repeated_elsewhere_only_when_it_changes_nothing(
    session: aiohttp.ClientSession, pair: tuple[Instance, Instance]
) -> None:
    a, b = pair
    upstreams = Upstreams(session, {"billing": [a.url, b.url]}, set_aside_seconds=60)
    a.calls.clear()
    b.calls.clear()
    # a is first in turn; it received the POST and vanished: it may have applied it.
    with pytest.raises(Problem) as raised:
        await upstreams.call("billing", "POST", "/vanish", body=b"{}")
    assert raised.value.status == 503
    assert a.calls == ["POST /vanish"] and b.calls == []
    # A GET that vanishes is asked of the next instance (which vanishes too here: a 503).
    upstreams.balancers["billing"].restore(upstreams.balancers["billing"].instances[0])
    with pytest.raises(Problem):
        await upstreams.call("billing", "GET", "/vanish")
    # (aiohttp itself repeats a GET once on a kept-alive connection that closes.)
    assert a.calls.count("POST /vanish") == 1
    assert "GET /vanish" in a.calls and "GET /vanish" in b.calls


async def test_a_streamed_upload_goes_to_the_next_instance_when_a_connection_is_refused(
    session: aiohttp.ClientSession, pair: tuple[Instance, Instance]
) -> None:
    """Upstreams.stream (attachments): the body is piped only once a connection is open, so
    a refused one loses nothing of it."""
    a, b = pair
    await a.stop()
    upstreams = Upstreams(session, {"billing": [a.url, b.url]})

    async def through_gateway(request: web.Request) -> web.StreamResponse:
        return await upstreams.stream("billing", "/upload", request)

    gateway = web.Application()
    gateway[SETTINGS] = Settings()
    gateway.router.add_post("/upload", through_gateway)
    runner = web.AppRunner(gateway)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        body = b"x" * 200_000
        async with session.post(f"http://127.0.0.1:{port}/upload", data=body) as resp:
            assert resp.status == 200
            assert await resp.json() == {"instance": "b", "received": len(body)}
    finally:
        await runner.cleanup()
    assert [i.url for i in upstreams.balancers["billing"].available()] == [b.url]
