"""What the browser tests share: Chromium's settings, accessibility checks with axe-core,
screenshots at desktop and phone widths, and the steps a customer takes in the app."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Page, ViewportSize, expect

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 800}
# A screenshot shows the whole page down to this height (a year of daily readings is longer).
MAX_HEIGHT = 2400
# Every wait on the page is bounded; the platform answers well within it on 2 cores.
TIMEOUT_MS = 20_000
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}


@functools.cache
def axe_source() -> str:
    if not AXE.is_file():
        raise AssertionError(f"{AXE} is missing: run `make web` (npm ci installs axe-core)")
    return AXE.read_text()


async def check_accessibility(page: Page, what: str = "") -> None:
    """Run axe-core on the page as it is now (WCAG 2.1 A and AA rules); fail listing every
    serious or critical violation with the elements it found.

    axe is evaluated through the DevTools protocol rather than added as a <script> tag: the
    app's Content-Security-Policy (script-src 'self') rightly blocks an inline script, and the
    tests keep that policy in force instead of bypassing it."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source())
    violations = await page.evaluate(
        """async (tags) => {
            const result = await window.axe.run(document, {runOnly: {type: 'tag', values: tags}});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
            }));
        }""",
        WCAG_TAGS,
    )
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"{len(blocking)} serious/critical axe violation(s) on {what or page.url}:"]
        for v in blocking:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
            lines += [f"    {node}" for node in v["nodes"]]
        raise AssertionError("\n".join(lines))


async def next_frames(page: Page) -> None:
    """Let the page lay itself out again (two animation frames)."""
    await page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
    )


# The outermost elements that reach past the window's right edge (what makes a page scroll
# sideways), unless an ancestor scrolls them itself.
OVERFLOWING = """() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return [];
    const found = [];
    for (const el of document.body.querySelectorAll('*')) {
        const box = el.getBoundingClientRect();
        if (box.right <= window.innerWidth + 0.5 || box.width === 0) continue;
        let parent = el.parentElement, clipped = false, counted = false;
        for (; parent && parent !== document.body; parent = parent.parentElement) {
            const style = getComputedStyle(parent);
            if (style.overflowX !== 'visible') { clipped = true; break; }
            if (found.some(f => f.el === parent)) { counted = true; break; }
        }
        if (clipped || counted) continue;
        const classes = typeof el.className === 'string' && el.className
            ? '.' + el.className.split(' ').join('.') : '';
        const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes;
        found.push({el, text: `${name} (right edge ${Math.round(box.right)}px)`});
    }
    return found.slice(0, 8).map(f => f.text);
}"""


def screenshot_path(test: str, name: str, lang: str, width: int) -> Path:
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test).strip("_")
    return SCREENSHOTS / f"{test}-{name}-{lang}-{width}.png"


async def page_language(page: Page) -> str:
    return await page.evaluate("() => document.documentElement.lang") or "none"


async def take_screenshots(page: Page, test: str, name: str) -> tuple[list[Path], str | None]:
    """The whole page at desktop width and at 375 px, as
    var/screenshots/<test>-<page>-<lang>-<width>.png; and what is wrong if the page scrolls
    sideways at 375 px (the app works from 360 px wide phones)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    lang = await page_language(page)
    original = page.viewport_size or DESKTOP
    paths = []
    problem = None
    try:
        for size in (DESKTOP, PHONE):
            await page.set_viewport_size(size)
            await next_frames(page)
            path = screenshot_path(test, name, lang, size["width"])
            height = await page.evaluate("() => document.documentElement.scrollHeight")
            await page.screenshot(
                path=path,
                full_page=True,
                clip={"x": 0, "y": 0, "width": size["width"], "height": min(height, MAX_HEIGHT)},
                animations="disabled",
            )
            paths.append(path)
            if size is PHONE:
                wide = await page.evaluate(OVERFLOWING)
                if wide:
                    problem = f"{name} ({lang}) scrolls sideways at 375px: " + "; ".join(wide)
    finally:
        await page.set_viewport_size(original)
    return paths, problem


def link_on(base_url: str, link: str) -> str:
    """An emailed link (on the settings' public_url) moved to the test's gateway: its path,
    query and fragment on `base_url`."""
    parts = urlsplit(link)
    url = base_url.rstrip("/") + parts.path
    if parts.query:
        url += "?" + parts.query
    if parts.fragment:
        url += "#" + parts.fragment
    return url


def find_link(text: str, path: str) -> str:
    found = re.search(rf"https?://[^\s\"'<>]+{re.escape(path)}[^\s\"'<>]*", text)
    assert found, f"no {path} link in:\n{text}"
    return found.group(0)


async def heading(page: Page, name: str | re.Pattern[str]) -> None:
    """Wait for the page's one <h1> to have this text (the app focuses it after navigating)."""
    h1 = page.locator("h1")
    await expect(h1).to_have_count(1, timeout=TIMEOUT_MS)
    await expect(h1).to_have_text(name, timeout=TIMEOUT_MS)


async def settled(page: Page) -> None:
    """No progress indicator left on the page."""
    await expect(page.get_by_test_id("page-status")).to_have_count(0, timeout=TIMEOUT_MS)


def emailed_credentials(text: str) -> tuple[str, str]:
    """The login and one-time password of "Registration — confirmation", in any language: the
    two lines "<Login>: …" and "<Password>: …" that follow each other."""
    found = re.search(r"^[^\n:]+: (\S+)\r?\n[^\n:]+: (\S+)\r?$", text, re.M)
    assert found, text
    return found.group(1), found.group(2)


class Checks:
    """Checks of a long journey that are reported together at its end, so that one wrong
    detail does not hide what the rest of the journey would show."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    @contextlib.asynccontextmanager
    async def check(self, what: str) -> AsyncIterator[None]:
        try:
            yield
        except AssertionError as error:
            self.failed.append(f"{what}: {str(error).splitlines()[0] if str(error) else error!r}")

    def verify(self) -> None:
        assert not self.failed, "\n".join(self.failed)
