"""Steps a person takes in the app, through what they see: headings, labels, buttons and the
data-testids of docs/web.md."""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.async_api import Page, expect

from tests.browser.helpers import TIMEOUT_MS, heading, settled
from tests.browser.texts import t


def invoice_url(number: str) -> str:
    return "/invoices/" + quote(number, safe="")


async def choose_language(page: Page, lang: str) -> None:
    await page.get_by_test_id("language-select").select_option(lang)
    await expect(page.locator("html")).to_have_attribute("lang", lang, timeout=TIMEOUT_MS)


async def sign_in(page: Page, lang: str, login: str, password: str) -> None:
    """Sign in from the sign-in page (already showing `lang`); the app moves on by itself."""
    await heading(page, t(lang, "login.title"))
    await page.get_by_label(t(lang, "login.login"), exact=True).fill(login)
    await page.get_by_label(t(lang, "login.password"), exact=True).fill(password)
    await page.get_by_role("button", name=t(lang, "login.submit"), exact=True).click()


async def sign_in_to_dashboard(page: Page, lang: str, login: str, password: str) -> None:
    await page.goto("/login")
    if lang != "pl":
        await choose_language(page, lang)
    await sign_in(page, lang, login, password)
    await heading(page, t(lang, "dashboard.title"))
    await settled(page)


def amount(value: str) -> re.Pattern[str]:
    """An amount like 442.34 as any of the four languages writes it (442,34 or 442.34)."""
    whole, cents = value.split(".")
    return re.compile(rf"{whole}[.,]{cents}")


async def field_error(page: Page, field_id: str) -> str:
    """The error shown at a form field, which the field names in aria-describedby."""
    field = page.locator(f"#{field_id}")
    await expect(field).to_have_attribute("aria-invalid", "true", timeout=TIMEOUT_MS)
    described_by = await field.get_attribute("aria-describedby") or ""
    assert f"{field_id}-error" in described_by.split(), described_by
    error = page.locator(f"#{field_id}-error")
    await expect(error).to_be_visible()
    return await error.inner_text()
