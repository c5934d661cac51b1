"""Issue 12 in the browser: a customer turns e-invoice on (the e-invoice regulations shown in the
page's language and accepted), the confirmation email arrives, its link opened in the browser
confirms the address (public page, token in the fragment), and the e-invoice page shows "on"
with the history; the address is changed the same way (the old address told), then e-invoice is
withdrawn after a second step. A used link says so. The notification preferences are switched
and saved (a reload shows them). A manager with a partial grant sees the state and history but
no forms, and why. axe-core on each page, screenshots at 1280 and 375 px."""

from __future__ import annotations

import re
import secrets

from playwright.async_api import Locator, Page, expect

from services.billing.regulations import CURRENT_VERSION
from tests.browser.app import field_error, sign_in_to_dashboard
from tests.browser.conftest import Shoot, Web
from tests.browser.helpers import check_accessibility, find_link, heading, link_on, settled
from tests.browser.texts import pattern, t
from tests.support.flows import (
    NEW_PASSWORD,
    access_token,
    known_customer,
    manager_granted_by_erp,
    registered_account,
    wait_for_mail,
)

CONFIRMATION = "e-invoice-confirmation"


def new_address(what: str) -> str:
    return f"{what}.{secrets.token_hex(4)}@example.com"


async def emailed_link(web: Web, address: str) -> str:
    """The confirmation link emailed to `address`, on the test's gateway."""
    mail = await wait_for_mail(web.stack, address, CONFIRMATION)
    return link_on(web.base_url, find_link(mail.body("plain"), "/e-invoice/confirm"))


async def e_invoice_page(page: Page, lang: str) -> None:
    await heading(page, t(lang, "eInvoice.title"))
    await settled(page)


def state(page: Page) -> Locator:
    return page.get_by_test_id("e-invoice-state")


def history_rows(page: Page) -> Locator:
    return page.get_by_test_id("e-invoice-history").locator("tbody tr")


async def test_turn_on_confirm_change_and_withdraw(web: Web, page: Page, shoot: Shoot) -> None:
    lang = "pl"
    account = await registered_account(web.stack)
    first, second = new_address("efaktura"), new_address("nowy")
    await sign_in_to_dashboard(page, lang, account.login, account.password)

    # --- off: the form, prefilled with the account's address, and the regulations -----------
    await page.get_by_role("link", name=t(lang, "nav.eInvoice"), exact=True).click()
    await e_invoice_page(page, lang)
    await expect(state(page)).to_have_attribute("data-state", "off")
    address = page.get_by_label(t(lang, "eInvoice.address"), exact=True)
    await expect(address).to_have_value(account.customer.email)
    regulations = page.get_by_role("region", name=t(lang, "eInvoice.regulationsRegion"))
    await expect(regulations).to_have_attribute("lang", "pl")
    await expect(regulations).not_to_be_empty()
    await expect(page.get_by_test_id("e-invoice-history")).to_have_count(0)
    await check_accessibility(page, "e-invoice off")
    await shoot(page, "e-invoice-off")

    # Not without the regulations accepted.
    submit = page.get_by_role("button", name=t(lang, "eInvoice.activate"), exact=True)
    await address.fill(first)
    await submit.click()
    assert await field_error(page, "accept_regulations") == t(lang, "eInvoice.acceptMissing")
    await expect(page.locator("#accept_regulations")).to_be_focused()
    await page.get_by_label(pattern(lang, "eInvoice.accept")).check()
    await submit.click()

    # --- pending: check your mailbox ------------------------------------------------------
    await expect(page.get_by_role("status").filter(has_text=first)).to_have_text(
        t(lang, "eInvoice.sent", address=first)
    )
    await expect(state(page)).to_have_attribute("data-state", "pending")
    await expect(page.get_by_test_id("e-invoice-pending")).to_contain_text(first)
    await expect(history_rows(page)).to_have_count(1)
    await check_accessibility(page, "e-invoice pending")
    await shoot(page, "e-invoice-pending")

    # --- the link from the email, opened in the browser ----------------------------------
    link = await emailed_link(web, first)
    assert "#token=" in link, link
    await page.goto(link)
    await heading(page, t(lang, "eInvoiceConfirm.title"))
    await expect(page.get_by_test_id("e-invoice-confirmed")).to_have_text(
        t(lang, "eInvoiceConfirm.done.activate")
    )
    await expect(page.get_by_text(t(lang, "eInvoiceConfirm.goesTo", address=first))).to_be_visible()
    # The token leaves the address bar (and the history).
    await expect(page).to_have_url(re.compile(r"/e-invoice/confirm$"))
    await check_accessibility(page, "e-invoice confirmed")
    await shoot(page, "e-invoice-confirmed")

    # --- on, with the history -------------------------------------------------------------
    await page.get_by_role("link", name=t(lang, "eInvoiceConfirm.toEInvoice"), exact=True).click()
    await e_invoice_page(page, lang)
    await expect(state(page)).to_have_attribute("data-state", "on")
    await expect(page.get_by_test_id("e-invoice-address")).to_have_text(first)
    rows = history_rows(page)
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0).locator("th")).to_have_text(t(lang, "eInvoice.action.activated"))
    await expect(rows.nth(1).locator("th")).to_have_text(
        t(lang, "eInvoice.action.activation-requested")
    )
    for row in (rows.nth(0), rows.nth(1)):
        await expect(row).to_contain_text(first)
        await expect(row).to_contain_text(CURRENT_VERSION)
    await expect(rows.nth(1)).to_contain_text(
        f"{account.login} ({t(lang, 'eInvoice.by.customer')})"
    )
    # No activation form or regulations while on.
    await expect(page.get_by_test_id("e-invoice-activate")).to_have_count(0)
    await check_accessibility(page, "e-invoice on")
    await shoot(page, "e-invoice-on")

    # The same link again: used, and what to do.
    await page.goto(link)
    await heading(page, t(lang, "eInvoiceConfirm.title"))
    refused = page.get_by_test_id("e-invoice-link-refused")
    await expect(refused).to_have_attribute("data-refusal", "used")
    await expect(refused).to_contain_text(t(lang, "eInvoiceConfirm.refused.used"))
    await check_accessibility(page, "e-invoice link used")
    await shoot(page, "e-invoice-link-used")

    # --- a new address: a link to it, the old one told ------------------------------------
    await page.goto("/e-invoice")
    await e_invoice_page(page, lang)
    await page.get_by_label(t(lang, "eInvoice.newAddress"), exact=True).fill(second)
    await page.get_by_role("button", name=t(lang, "eInvoice.change"), exact=True).click()
    await expect(page.get_by_role("status").filter(has_text=second)).to_have_text(
        t(lang, "eInvoice.sentChange", address=second)
    )
    # Still on, to the old address, until the link is used.
    await expect(state(page)).to_have_attribute("data-state", "on")
    await expect(page.get_by_test_id("e-invoice-address")).to_have_text(first)
    await expect(page.get_by_test_id("e-invoice-pending")).to_contain_text(second)
    await check_accessibility(page, "e-invoice address change pending")
    await shoot(page, "e-invoice-change-pending")
    await page.goto(await emailed_link(web, second))
    await expect(page.get_by_test_id("e-invoice-confirmed")).to_have_text(
        t(lang, "eInvoiceConfirm.done.change-address")
    )
    await expect(
        page.get_by_text(t(lang, "eInvoiceConfirm.goesTo", address=second))
    ).to_be_visible()
    await wait_for_mail(web.stack, first, "e-invoice-address-changed")

    # --- withdrawn, after the second step -------------------------------------------------
    await page.get_by_role("link", name=t(lang, "eInvoiceConfirm.toEInvoice"), exact=True).click()
    await e_invoice_page(page, lang)
    await expect(page.get_by_test_id("e-invoice-address")).to_have_text(second)
    await page.get_by_role("button", name=t(lang, "eInvoice.withdraw"), exact=True).click()
    question = page.get_by_text(t(lang, "eInvoice.withdrawQuestion"))
    await expect(question).to_be_focused()
    await check_accessibility(page, "e-invoice withdrawal asked")
    await page.get_by_role("button", name=t(lang, "eInvoice.withdrawYes"), exact=True).click()
    await expect(
        page.get_by_role("status").filter(has_text=t(lang, "eInvoice.withdrawn"))
    ).to_be_visible()
    await expect(state(page)).to_have_attribute("data-state", "off")
    await expect(rows.nth(0).locator("th")).to_have_text(t(lang, "eInvoice.action.withdrawn"))
    await expect(rows).to_have_count(5)
    # Off again: the form is offered again.
    await expect(page.get_by_test_id("e-invoice-activate")).to_be_visible()
    await page.reload()
    await e_invoice_page(page, lang)
    await expect(state(page)).to_have_attribute("data-state", "off")
    await expect(history_rows(page)).to_have_count(5)
    await check_accessibility(page, "e-invoice withdrawn")
    await shoot(page, "e-invoice-withdrawn")


async def test_notification_preferences_saved(web: Web, page: Page, shoot: Shoot) -> None:
    lang = "uk"
    account = await registered_account(web.stack)
    await sign_in_to_dashboard(page, lang, account.login, account.password)
    await page.get_by_role("link", name=t(lang, "nav.account"), exact=True).click()
    await heading(page, t(lang, "account.title"))
    await settled(page)
    await check_accessibility(page, "the account page")
    await shoot(page, "account")
    await page.get_by_role("link", name=t(lang, "account.notifications"), exact=True).click()
    await heading(page, t(lang, "notifications.title"))
    await settled(page)

    switches = {
        key: page.get_by_role("switch", name=t(lang, key), exact=True)
        for key in (
            "notifications.invoiceIssued",
            "notifications.dueReminder",
            "notifications.paymentReceived",
        )
    }
    for switch in switches.values():
        await expect(switch).to_be_checked()
    await expect(page.get_by_text(pattern(lang, "notifications.dueReminderHint"))).to_contain_text(
        re.compile(r"\d")
    )
    await expect(page.get_by_test_id("notifications-always")).to_have_text(
        t(lang, "notifications.always")
    )
    await check_accessibility(page, "notification preferences")
    await shoot(page, "notifications")

    await switches["notifications.invoiceIssued"].click()
    await switches["notifications.paymentReceived"].click()
    await page.get_by_role("button", name=t(lang, "notifications.save"), exact=True).click()
    await expect(
        page.get_by_role("status").filter(has_text=t(lang, "notifications.saved"))
    ).to_be_visible()
    await check_accessibility(page, "notification preferences saved")
    await shoot(page, "notifications-saved")

    await page.reload()
    await heading(page, t(lang, "notifications.title"))
    await settled(page)
    await expect(switches["notifications.invoiceIssued"]).not_to_be_checked()
    await expect(switches["notifications.dueReminder"]).to_be_checked()
    await expect(switches["notifications.paymentReceived"]).not_to_be_checked()
    # What the API holds, too.
    status, saved = await web.stack.api.request(
        "GET",
        "/api/v1/me/notification-preferences",
        token=await access_token(web.stack, account),
    )
    assert status == 200, saved
    assert (saved["invoice_issued"], saved["due_reminder"], saved["payment_received"]) == (  # type: ignore[index]
        False,
        True,
        False,
    ), saved


async def test_a_partial_manager_sees_the_state_without_forms(
    web: Web, page: Page, shoot: Shoot
) -> None:
    lang = "ru"
    stack = web.stack
    customer = await known_customer(stack)
    _, partial_login, _ = await manager_granted_by_erp(stack, customer, "partial")
    _, full_login, full = await manager_granted_by_erp(stack, customer, "full")
    # The full manager turns e-invoice on for the customer (through the API).
    address = new_address("zarzadca")
    status, body = await stack.api.request(
        "POST",
        f"/api/v1/e-invoice?customer={customer.customer_id}",
        token=full,
        json={"address": address, "regulations_version": CURRENT_VERSION},
    )
    assert status == 202, body
    status, body = await stack.api.request(
        "POST",
        "/api/v1/e-invoice/confirmations",
        json={"token": (await emailed_link(web, address)).rsplit("#token=", 1)[1]},
    )
    assert status == 200, body

    await sign_in_to_dashboard(page, lang, partial_login, NEW_PASSWORD)
    await page.get_by_role("link", name=t(lang, "nav.eInvoice"), exact=True).click()
    await e_invoice_page(page, lang)
    await expect(page.get_by_test_id("scope-note")).to_contain_text(customer.customer_id)
    await expect(state(page)).to_have_attribute("data-state", "on")
    await expect(page.get_by_test_id("e-invoice-address")).to_have_text(address)
    rows = history_rows(page)
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text(f"{full_login} ({t(lang, 'eInvoice.by.manager')})")
    note = page.get_by_test_id("not-in-scope")
    await expect(note).to_contain_text(t(lang, "notInScope.eInvoice"))
    await expect(note).to_contain_text(t(lang, "notInScope.why"))
    # No forms: nothing to type, tick or press in the page's content.
    main = page.locator("main")
    await expect(main.get_by_role("textbox")).to_have_count(0)
    await expect(main.get_by_role("checkbox")).to_have_count(0)
    await expect(main.get_by_role("button")).to_have_count(0)
    await check_accessibility(page, "e-invoice, partial manager")
    await shoot(page, "e-invoice-partial-manager")
