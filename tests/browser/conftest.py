"""Browser tests: Debian's Chromium driven by Playwright against the real platform, whose gateway
serves the built front end. One browser for the session, a new context for each test.

The app must be built first (`make web`, which `make test` runs; or a build elsewhere named by
EBOK_TEST_WEB_DIST). Running other directories (`pytest tests/unit tests/e2e`) needs none of it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    async_playwright,
    expect,
)

from tests.browser.customers import Resident, fed_household
from tests.browser.customers import resident as make_resident
from tests.browser.helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    ROOT,
    TIMEOUT_MS,
    take_screenshots,
)
from tests.support.erp import Household
from tests.support.infra import Infra
from tests.support.stack import Stack, start_stack

HERE = Path(__file__).resolve().parent
expect.set_options(timeout=TIMEOUT_MS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class Web:
    """The platform with the gateway serving the app, and where a browser reaches it."""

    stack: Stack
    base_url: str


@pytest.fixture(scope="session")
def web_dist() -> Path:
    path = Path(os.environ.get("EBOK_TEST_WEB_DIST") or ROOT / "web" / "dist").resolve()
    if not (path / "index.html").is_file():
        pytest.fail(
            f"The front end is not built: {path / 'index.html'} is missing. Run `make web` "
            "(or point EBOK_TEST_WEB_DIST at a build).",
            pytrace=False,
        )
    return path


# Package-scoped: the platform and the browser go when the browser tests are done, so their
# ~25 PostgreSQL connections are not held through the rest of the suite.
@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def web(infra: Infra, keys: Path, web_dist: Path) -> AsyncIterator[Web]:
    async for stack in start_stack(infra, keys, web_dist=str(web_dist)):
        base_url = stack.platform.urls["gateway"]
        async with stack.api.session.get(base_url + "/login") as resp:
            body = await resp.text()
            served = resp.status == 200 and resp.content_type == "text/html"
        if not served:
            pytest.fail(
                f"The gateway does not serve the app from {web_dist}: GET /login answered "
                f"{resp.status} {resp.content_type}: {body[:300]}",
                pytrace=False,
            )
        yield Web(stack, base_url)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def playwright() -> AsyncIterator[Playwright]:
    async with async_playwright() as running:
        yield running


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def browser(playwright: Playwright) -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)",
            pytrace=False,
        )
    launched = await playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield launched
    await launched.close()


@dataclass
class PageProblems:
    """What must not happen on any page: uncaught errors, and anything the
    Content-Security-Policy blocks (an inline script or style the app would need)."""

    found: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.found.append(f"CSP: {message.text}")

    def on_page_error(self, error: Error) -> None:
        self.found.append(f"uncaught: {error.message}")


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser, web: Web) -> AsyncIterator[BrowserContext]:
    problems = PageProblems()
    created = await browser.new_context(
        viewport=DESKTOP,
        base_url=web.base_url,
        locale="pl-PL",
        timezone_id="Europe/Warsaw",
        accept_downloads=True,
    )
    created.set_default_timeout(TIMEOUT_MS)
    created.set_default_navigation_timeout(TIMEOUT_MS)

    def watch(page: Page) -> None:
        page.on("console", problems.on_console)
        page.on("pageerror", problems.on_page_error)

    created.on("page", watch)
    yield created
    await created.close()
    assert not problems.found, "\n".join(problems.found)


@pytest_asyncio.fixture(loop_scope="session")
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


Shoot = Callable[[Page, str], Awaitable[list[Path]]]


@pytest.fixture
def shoot(request: pytest.FixtureRequest) -> Iterator[Shoot]:
    """`await shoot(page, "dashboard")`: the page at 1280 and 375 px wide, named after the test,
    the page and the page's language. A page that scrolls sideways at 375 px fails the test when
    it ends, so that the rest of the test still runs and every such page is listed."""
    too_wide: list[str] = []

    async def take(page: Page, name: str) -> list[Path]:
        paths, problem = await take_screenshots(page, request.node.name, name)
        if problem:
            too_wide.append(problem)
        return paths

    yield take
    assert not too_wide, "\n".join(too_wide)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def resident(web: Web) -> Resident:
    """A registered customer with a year of readings, shared by the tests that only look."""
    return await make_resident(web.stack)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def neighbour(web: Web) -> Household:
    """Another customer, whose invoices billing holds."""
    return await fed_household(web.stack)
