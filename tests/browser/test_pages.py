"""Every page of the app, signed out and signed in, in Polish and English: what it shows, axe-core
(WCAG 2.1 A/AA) with no serious or critical violation, keyboard focus on the page heading after
each navigation, and screenshots at 1280 and 375 px. (The registration, its "check your mailbox"
page, a successful activation and the forced password change are visited by
test_registration.py, in the same two languages.)"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Locator, Page, expect

from tests.browser.app import amount, choose_language, sign_in
from tests.browser.conftest import Shoot
from tests.browser.customers import AMOUNT_DUE, READINGS_DAYS, Resident
from tests.browser.helpers import check_accessibility, heading, page_language, settled
from tests.browser.texts import t

LANGUAGES = ["pl", "en"]


async def focused_heading(page: Page) -> None:
    """After a navigation inside the app the focus is on the new page's <h1>."""
    focused = await page.evaluate("() => document.activeElement?.tagName")
    assert focused == "H1", f"focus on {focused} after navigating to {page.url}"


async def visit(page: Page, shoot: Shoot, name: str, title: str) -> None:
    await heading(page, title)
    await settled(page)
    await check_accessibility(page, f"{name} ({await page_language(page)})")
    await shoot(page, name)


async def follow(page: Page, link: Locator, title: str) -> None:
    await link.click()
    await heading(page, title)
    await focused_heading(page)


async def consumption_by_month_then_by_day(page: Page, shoot: Shoot, lang: str) -> None:
    """The meter's consumption from the API: the last twelve months at first, then the last 31
    days, each figure also in the table under the chart (one row per bar)."""
    chart = page.get_by_test_id("consumption-chart")
    rows = page.get_by_test_id("consumption-table").locator("tbody tr")
    await expect(chart).to_be_visible()
    await expect(rows).to_have_count(12)
    await page.get_by_text(t(lang, "meter.chartTable"), exact=True).click()
    await expect(rows.first).to_be_visible()
    await shoot(page, "meter-by-month")
    await page.get_by_label(t(lang, "meter.granularity"), exact=True).select_option("day")
    await page.get_by_role("button", name=t(lang, "meter.show"), exact=True).click()
    await expect(rows).to_have_count(31)
    await expect(rows.first).to_be_visible()  # the table stays open as the person left it
    await expect(chart.locator("rect.chart-bar")).to_have_count(
        31 - await rows.filter(has_text=t(lang, "meter.noData")).count()
    )
    # A day between two daily readings: 0.350 m³, interpolated across midnight.
    await expect(rows.nth(27)).to_contain_text(re.compile(r"0[.,]350"))
    await check_accessibility(page, f"consumption by day ({lang})")


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_signed_out_pages(page: Page, shoot: Shoot, lang: str) -> None:
    await page.goto("/login")
    if lang != "pl":
        await choose_language(page, lang)
    await visit(page, shoot, "login", t(lang, "login.title"))

    # Keyboard: the skip link comes first and leads to the content.
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name=t(lang, "app.skip"))
    await expect(skip).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

    # A wrong password: the API's answer, announced.
    await sign_in(page, lang, "nobody-here", "Wrong-password-1")
    await expect(page.get_by_role("alert")).to_have_text(t(lang, "problem.invalid-credentials"))
    await check_accessibility(page, f"sign-in refused ({lang})")
    await shoot(page, "login-refused")

    await follow(
        page,
        page.get_by_role("link", name=t(lang, "nav.register"), exact=True),
        t(lang, "register.title"),
    )
    await settled(page)

    # The activation page without a token, and with one nobody issued: what to do next.
    await page.goto("/activate")
    await expect(page.get_by_text(t(lang, "activate.noToken"))).to_be_visible()
    await visit(page, shoot, "activate-no-token", t(lang, "activate.title"))
    await page.goto("/activate#token=" + "x" * 43)
    new_link = page.get_by_role("heading", name=t(lang, "activate.newLinkHeading"))
    await expect(new_link).to_be_visible()
    await visit(page, shoot, "activate-invalid", t(lang, "activate.title"))

    await page.goto("/no-such-page")
    await expect(page.get_by_text(t(lang, "notFound.body"))).to_be_visible()
    await visit(page, shoot, "not-found", t(lang, "notFound.title"))


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_signed_in_pages(page: Page, shoot: Shoot, resident: Resident, lang: str) -> None:
    household = resident.household
    await page.goto("/login")
    if lang != "pl":
        await choose_language(page, lang)
    await sign_in(page, lang, resident.login, resident.password)
    await visit(page, shoot, "dashboard", t(lang, "dashboard.title"))
    await expect(page.get_by_test_id("balance-amount-due")).to_have_text(amount(str(AMOUNT_DUE)))
    await expect(page.get_by_test_id("meter-card")).to_have_count(2)

    nav = page.get_by_role("navigation", name=t(lang, "nav.label"))

    async def go(key: str, title: str) -> None:
        await follow(page, nav.get_by_role("link", name=t(lang, key), exact=True), title)

    await go("nav.invoices", t(lang, "invoices.title"))
    rows = page.get_by_test_id("invoice-row")
    await expect(rows).to_have_count(3)
    await visit(page, shoot, "invoices", t(lang, "invoices.title"))

    number = household.invoices[1]
    await follow(
        page,
        rows.get_by_role("link", name=number, exact=True),
        t(lang, "invoiceDetail.title", number=number),
    )
    await expect(page.get_by_test_id("invoice-pdf")).to_be_visible()
    await expect(page.get_by_role("rowheader", name="Zaopatrzenie w wodę")).to_be_visible()
    await visit(page, shoot, "invoice", t(lang, "invoiceDetail.title", number=number))

    await go("nav.balance", t(lang, "balance.title"))
    await expect(page.get_by_test_id("balance-amount-due")).to_have_text(amount(str(AMOUNT_DUE)))
    await visit(page, shoot, "balance", t(lang, "balance.title"))

    await go("nav.payments", t(lang, "payments.title"))
    await expect(page.locator("main")).to_contain_text(amount("50.00"))
    await visit(page, shoot, "payments", t(lang, "payments.title"))

    await go("nav.notes", t(lang, "notes.title"))
    await expect(page.locator("main")).to_contain_text(amount("12.34"))
    await visit(page, shoot, "notes", t(lang, "notes.title"))

    await go("nav.contracts", t(lang, "contracts.title"))
    main = page.locator("main")
    await expect(main).to_contain_text(household.contract_number)
    for meter in household.meters:
        await expect(main).to_contain_text(meter)
    await visit(page, shoot, "contracts", t(lang, "contracts.title"))

    await go("nav.meters", t(lang, "meters.title"))
    await expect(page.get_by_test_id("meter-card")).to_have_count(2)
    await visit(page, shoot, "meters", t(lang, "meters.title"))

    meter = household.meters[0]
    await follow(
        page,
        page.get_by_role("link", name=t(lang, "meters.open", number=meter), exact=True),
        t(lang, "meter.title", number=meter),
    )
    await settled(page)
    await consumption_by_month_then_by_day(page, shoot, lang)
    # The readings a month at a time, older and newer by the API's cursors (no count, no pages).
    readings = page.get_by_test_id("readings-table").locator("tbody tr")
    first_page = await readings.count()
    assert 0 < first_page < READINGS_DAYS
    paging = page.get_by_role("navigation", name=t(lang, "common.paging"))
    newer = paging.get_by_role("button", name=t(lang, "common.newer"), exact=True)
    await expect(newer).to_be_disabled()
    first_row = await readings.first.text_content() or ""
    await paging.get_by_role("button", name=t(lang, "common.older"), exact=True).click()
    await expect(readings.first).not_to_have_text(first_row)
    await expect(readings).to_have_count(first_page)
    assert "cursor=" in page.url
    # The new rows' region has the focus (the button that chose them was gone while they loaded).
    focused = await page.evaluate("() => document.activeElement?.getAttribute('role')")
    assert focused == "region", focused
    await newer.click()
    await expect(readings.first).to_have_text(first_row)
    await expect(newer).to_be_disabled()
    await expect(page.get_by_test_id("reading-form")).to_be_visible()
    await visit(page, shoot, "meter", t(lang, "meter.title", number=meter))

    await go("nav.account", t(lang, "account.title"))
    await expect(main).to_contain_text(resident.login)
    await expect(page.get_by_test_id("sign-out")).to_be_visible()
    await visit(page, shoot, "account", t(lang, "account.title"))

    await follow(
        page,
        page.get_by_role("link", name=t(lang, "account.changePassword"), exact=True),
        t(lang, "password.title"),
    )
    await expect(page.get_by_label(t(lang, "password.current"), exact=True)).to_be_visible()
    await visit(page, shoot, "password", t(lang, "password.title"))

    await page.goto("/invoices/" + re.sub(r"\d", "9", number).replace("/", "%2F"))
    await expect(page.get_by_text(t(lang, "problem.not-found"))).to_be_visible()
    await visit(page, shoot, "invoice-not-found", t(lang, "notFound.title"))
