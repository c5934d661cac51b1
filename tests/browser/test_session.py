"""Sessions and languages in the browser: a reload keeps the customer signed in (the refresh
token in an HttpOnly cookie, nothing in Web Storage), signing out ends the session, the chosen
language is remembered, and another customer's invoice is not found."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from playwright.async_api import BrowserContext, Page, Request, Route, expect

from shared.auth import ALGORITHM, AUDIENCE, ISSUER
from tests.browser.app import choose_language, invoice_url, sign_in, sign_in_to_dashboard
from tests.browser.conftest import Web
from tests.browser.customers import Resident
from tests.browser.helpers import check_accessibility, heading, settled
from tests.browser.texts import t
from tests.support.erp import Household

COOKIE = "ebok_refresh"


async def storage(page: Page) -> dict[str, dict[str, str]]:
    return await page.evaluate(
        """() => ({
            local: Object.fromEntries(Object.entries(localStorage)),
            session: Object.fromEntries(Object.entries(sessionStorage)),
        })"""
    )


async def refresh_cookie(context: BrowserContext) -> dict | None:
    return next((c for c in await context.cookies() if c["name"] == COOKIE), None)


def expired_access_token(keys: Path) -> str:
    """An access token signed with the platform's real key that expired a minute ago."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "expired", "iat": now - 960, "exp": now - 60}
    return jwt.encode(claims, (keys / "private.pem").read_bytes(), algorithm=ALGORITHM)


class ExpireNextCall:
    """Makes the browser's next call to one API path carry an expired access token, as if it
    had been made 15 minutes later; records what the real gateway answered to each call."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.armed = False
        self.expired_answers: list[int] = []

    async def handle(self, route: Route, request: Request) -> None:
        if not self.armed:
            await route.continue_()
            return
        self.armed = False
        response = await route.fetch(
            headers={**request.headers, "authorization": f"Bearer {self.token}"}
        )
        self.expired_answers.append(response.status)
        await route.fulfill(response=response)


async def test_an_expired_access_token_is_renewed_and_a_lost_session_leads_to_sign_in(
    web: Web, keys: Path, context: BrowserContext, page: Page, resident: Resident
) -> None:
    await sign_in_to_dashboard(page, "pl", resident.login, resident.password)
    nav = page.get_by_role("navigation", name=t("pl", "nav.label"))
    expire = ExpireNextCall(expired_access_token(keys))
    await page.route(
        lambda url: "/api/v1/invoices" in url or "/api/v1/payments" in url, expire.handle
    )

    # The access token has expired: the app renews it through the cookie and repeats the call.
    expire.armed = True
    async with page.expect_response("**/api/v1/auth/refresh") as refreshed:
        await nav.get_by_role("link", name=t("pl", "nav.invoices"), exact=True).click()
    assert (await refreshed.value).status == 200
    await heading(page, t("pl", "invoices.title"))
    await expect(page.get_by_test_id("invoice-row")).to_have_count(3)
    assert expire.expired_answers == [401]

    # The session was ended elsewhere (its refresh token revoked): with the next expiry the app
    # cannot renew it and goes back to sign-in, saying why.
    cookie = await refresh_cookie(context)
    assert cookie is not None
    async with web.stack.api.session.post(
        web.base_url + "/api/v1/auth/logout", json={"refresh_token": cookie["value"]}
    ) as resp:
        assert resp.status == 204, await resp.text()
    expire.armed = True
    async with page.expect_response("**/api/v1/auth/refresh") as refused:
        await nav.get_by_role("link", name=t("pl", "nav.payments"), exact=True).click()
    assert (await refused.value).status == 401
    await heading(page, t("pl", "login.title"))
    await expect(page.get_by_text(t("pl", "login.expired"))).to_be_visible()
    assert expire.expired_answers == [401, 401]
    await check_accessibility(page, "sign-in after the session expired (pl)")

    # Signing in again leads back to the page the customer was going to.
    await sign_in(page, "pl", resident.login, resident.password)
    await heading(page, t("pl", "payments.title"))
    await settled(page)
    assert expire.expired_answers == [401, 401], "no call went out with the expired token again"


async def test_ukrainian_is_shown_and_remembered(page: Page, resident: Resident) -> None:
    await page.goto("/login")
    await heading(page, "Logowanie")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")

    await choose_language(page, "uk")
    await heading(page, "Вхід")
    await expect(page.get_by_role("link", name="Перейти до змісту")).to_be_attached()
    await expect(page.get_by_role("button", name="Увійти", exact=True)).to_be_visible()
    assert (await storage(page))["local"].get("ebok.language") == "uk"

    await page.reload()
    await expect(page.locator("html")).to_have_attribute("lang", "uk")
    await heading(page, "Вхід")
    await expect(page.get_by_test_id("language-select")).to_have_value("uk")

    await sign_in(page, "uk", resident.login, resident.password)
    await heading(page, t("uk", "dashboard.title"))
    await settled(page)
    await expect(page.get_by_role("navigation", name=t("uk", "nav.label"))).to_contain_text(
        t("uk", "nav.invoices")
    )
    await check_accessibility(page, "dashboard (uk)")


async def test_reload_keeps_the_session_and_sign_out_ends_it(
    web: Web, context: BrowserContext, page: Page, resident: Resident
) -> None:
    await sign_in_to_dashboard(page, "pl", resident.login, resident.password)

    cookie = await refresh_cookie(context)
    assert cookie is not None, await context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
    assert cookie["path"] == "/api/v1/auth", cookie
    kept = await storage(page)
    assert set(kept["local"]) <= {"ebok.language"} and not kept["session"], kept

    # A reload: the app is loaded afresh and signs in again through the cookie.
    await page.reload()
    await heading(page, t("pl", "dashboard.title"))
    await settled(page)
    await expect(page.get_by_test_id("invoice-row")).to_have_count(3)
    await page.goto("/invoices")
    await heading(page, t("pl", "invoices.title"))
    await page.reload()
    await heading(page, t("pl", "invoices.title"))
    await expect(page.get_by_test_id("invoice-row")).to_have_count(3)
    rotated = await refresh_cookie(context)
    assert rotated is not None and rotated["value"] != cookie["value"], "not rotated"

    # Sign out from the account page.
    await page.goto("/account")
    await heading(page, t("pl", "account.title"))
    await page.get_by_test_id("sign-out").click()
    await heading(page, t("pl", "login.title"))
    await expect(page.get_by_text(t("pl", "login.signedOut"))).to_be_visible()
    assert await refresh_cookie(context) is None, await context.cookies()

    # The session is over on the server too: its refresh token is refused.
    async with web.stack.api.session.post(
        web.base_url + "/api/v1/auth/refresh", json={"refresh_token": rotated["value"]}
    ) as resp:
        assert resp.status == 401, await resp.text()

    # Back to a private page: the sign-in page.
    await page.go_back()
    await heading(page, t("pl", "login.title"))
    await page.goto("/invoices")
    await heading(page, t("pl", "login.title"))
    await expect(page.get_by_test_id("invoice-row")).to_have_count(0)


async def test_another_customers_invoice_is_not_found(
    page: Page, resident: Resident, neighbour: Household
) -> None:
    await sign_in_to_dashboard(page, "pl", resident.login, resident.password)
    theirs = neighbour.invoices[0]
    await page.goto(invoice_url(theirs))
    await heading(page, t("pl", "notFound.title"))
    await settled(page)
    await expect(page.get_by_text(t("pl", "problem.not-found"))).to_be_visible()
    await expect(page.get_by_test_id("invoice-pdf")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text(neighbour.contract_number)
    # The same route shows this customer's own invoice.
    mine = resident.household.invoices[0]
    await page.goto(invoice_url(mine))
    await heading(page, t("pl", "invoiceDetail.title", number=mine))
