"""Issue 11 in the browser: a customer pays two invoices online through the development
Przelewy24 (deploy/p24_dev_provider.py, the real protocol on localhost): "Pay" from the
dashboard, the invoices and amount chosen (an overpayment refused until confirmed), pay-by-link
with a bank, the provider's page, "pay", back to e-BOK's return page, which follows the payment
until it is paid; the invoices show as paid and the balance counts the payment before any ERP
booking. Another customer starts a BLIK payment from an invoice's page, declines it at the
provider, comes back to a payment still awaiting confirmation, cancels it, and the invoice is
still due. axe-core on each page, screenshots at 1280 and 375 px.

The platform here is this module's own: the payments service must know the provider's address,
and its `public_url` must be the address the browser uses (the return URL is checked against
it), so the gateway is started on a port chosen beforehand."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
from playwright.async_api import Page, expect

from deploy.p24_dev_provider import DevProvider, start
from tests.browser.app import amount, invoice_url, sign_in_to_dashboard
from tests.browser.conftest import Shoot, Web
from tests.browser.helpers import check_accessibility, heading, settled
from tests.browser.texts import pattern, t
from tests.support.erp import Household, publish_household
from tests.support.flows import NEW_PASSWORD, access_token, registered_account, staff_account
from tests.support.infra import Infra
from tests.support.platform import wait_until
from tests.support.stack import Stack, free_port, start_stack

MERCHANT, CRC, API_KEY = 100002, secrets.token_hex(8), secrets.token_urlsafe(16)
# publish_household: #2 200.00 less 50.00 and a 20.00 credit, #3 300.00; interest note 12.34.
SECOND_DUE, THIRD_DUE, INTEREST = "130.00", "300.00", "12.34"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def web(infra: Infra, keys: Path, web_dist: Path) -> AsyncIterator[Web]:
    """This module's platform, with the development provider (replaces the package's)."""
    provider = DevProvider(MERCHANT, MERCHANT, CRC, API_KEY, notify_delay=0.3)
    runner, provider_url = await start(provider, "127.0.0.1", 0)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    try:
        async for stack in start_stack(
            infra,
            keys,
            ports={"gateway": port},
            web_dist=str(web_dist),
            public_url=base_url,
            p24_base_url=provider_url,
            p24_merchant_id=MERCHANT,
            p24_pos_id=MERCHANT,
            p24_crc=CRC,
            p24_api_key=API_KEY,
        ):
            assert stack.platform.urls["gateway"] == base_url
            yield Web(stack, base_url)
    finally:
        await runner.cleanup()


async def payer(stack: Stack) -> tuple[Household, str, str]:
    """A registered customer whose invoices billing and payments both hold: the household,
    its login and password."""
    household = await publish_household(stack.erp, stack.platform.settings.today())
    account = await registered_account(stack, customer=household.customer)
    token = await access_token(stack, account)

    async def balance_settled() -> bool:
        status, balance = await stack.api.request("GET", "/api/v1/balance", token=token)
        return status == 200 and balance["amount_due"] == "442.34"  # type: ignore[index]

    await wait_until(balance_settled, what="billing to settle")
    conn = await stack.platform.db("payments")
    try:
        await wait_until(
            lambda: conn.fetchval(
                """SELECT count(*) = 3 FROM invoices i JOIN customers c USING (customer_id)
                    WHERE i.customer_id = $1 AND c.email IS NOT NULL""",
                household.customer.customer_id,
            ),
            what="payments to learn the invoices",
        )
    finally:
        await conn.close()
    return household, account.login, account.password


async def visit(page: Page, shoot: Shoot, name: str, title: str) -> None:
    await heading(page, title)
    await settled(page)
    await check_accessibility(page, name)
    await shoot(page, name)


async def submit(page: Page, lang: str) -> None:
    await page.get_by_role("button", name=pattern(lang, "pay.submit")).click()


async def provider_page(page: Page) -> None:
    await expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Przelewy24"))


async def test_pay_two_invoices_by_link_see_them_paid_at_once(
    web: Web, page: Page, shoot: Shoot
) -> None:
    lang = "pl"
    household, login, password = await payer(web.stack)
    _, second, third = household.invoices
    await sign_in_to_dashboard(page, lang, login, password)
    await expect(page.get_by_test_id("balance-amount-due")).to_have_text(amount("442.34"))
    # "Pay" in the rows of the invoices with something due (#2 and #3), and on the balance.
    await expect(page.get_by_role("link", name=pattern(lang, "pay.invoice"))).to_have_count(2)

    await page.get_by_role("link", name=t(lang, "pay.action"), exact=True).click()
    await visit(page, shoot, "pay", t(lang, "pay.title"))
    # Both invoices with something due, ticked; the amount is what they have due.
    choices = page.get_by_test_id("pay-invoice")
    await expect(choices).to_have_count(2)
    for number in (second, third):
        await expect(page.get_by_role("checkbox", name=number)).to_be_checked()
    field = page.get_by_label(t(lang, "pay.amount"), exact=True)
    await expect(field).to_have_value(amount("430.00"))

    # More than is due only with the overpayment confirmed.
    await field.fill("500")
    await submit(page, lang)
    await expect(page.locator("#confirm_overpayment-error")).to_have_text(
        t(lang, "pay.confirmOverpaymentMissing")
    )
    await check_accessibility(page, "pay: overpayment not confirmed")
    await shoot(page, "pay-overpayment")
    await field.fill("430,00")
    await expect(page.locator("#confirm_overpayment")).to_have_count(0)

    await page.get_by_label(t(lang, "pay.method.pay-by-link"), exact=True).check()
    await submit(page, lang)
    await expect(page.locator("#bank-error")).to_have_text(t(lang, "pay.chooseBank"))
    await page.get_by_label(t(lang, "pay.bank"), exact=True).select_option("25")
    await submit(page, lang)

    # The provider's page (another origin), then back to e-BOK's return page.
    await provider_page(page)
    await expect(page.get_by_text("430.00 PLN")).to_be_visible()
    await page.get_by_role("button", name="Zapłać / Pay").click()
    await heading(page, t(lang, "onlinePayment.title"))
    status = page.get_by_test_id("payment-status")
    await expect(status).to_have_attribute("data-status", "paid")
    await expect(status).to_contain_text(t(lang, "onlinePayment.state.paid"))
    await expect(page.get_by_test_id("payment-amount")).to_have_text(amount("430.00"))
    await check_accessibility(page, "payment paid")
    await shoot(page, "payment-paid")

    # Paid at once, before any ERP booking: the invoices and the balance.
    await page.get_by_role("link", name=t(lang, "dashboard.allInvoices"), exact=True).click()
    await heading(page, t(lang, "invoices.title"))
    await settled(page)
    for number in (second, third):
        row = page.get_by_test_id("invoice-row").filter(has_text=number)
        await expect(row).to_contain_text(t(lang, "invoice.status.paid"))
        await expect(
            row.get_by_role("link", name=t(lang, "pay.invoice", number=number))
        ).to_have_count(0)
    # The first invoice (paid long ago) and the two just paid: no "Pay" left in the list.
    await expect(page.get_by_role("link", name=pattern(lang, "pay.invoice"))).to_have_count(0)
    await check_accessibility(page, "invoices after paying")
    await shoot(page, "invoices-paid")
    await page.get_by_role("link", name=t(lang, "nav.dashboard"), exact=True).click()
    await heading(page, t(lang, "dashboard.title"))
    await expect(page.get_by_test_id("balance-amount-due")).to_have_text(amount(INTEREST))
    await check_accessibility(page, "dashboard after paying")
    await shoot(page, "dashboard-paid")
    # What is left is the interest note: not an invoice, so nothing to pay online.
    await page.get_by_role("link", name=t(lang, "pay.action"), exact=True).click()
    await heading(page, t(lang, "pay.title"))
    await expect(page.get_by_test_id("nothing-due")).to_have_text(t(lang, "pay.nothingDue"))
    await check_accessibility(page, "nothing to pay online")

    # The history.
    await page.get_by_role("link", name=t(lang, "nav.onlinePayments"), exact=True).click()
    await visit(page, shoot, "online-payments", t(lang, "onlinePayments.title"))
    rows = page.get_by_test_id("online-payments-table").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(t(lang, "onlinePayment.status.paid"))
    await expect(rows.first).to_contain_text(second)
    await expect(rows.first).to_contain_text(third)


async def test_a_declined_payment_leaves_the_invoice_due(
    web: Web, page: Page, shoot: Shoot
) -> None:
    lang = "en"
    household, login, password = await payer(web.stack)
    third = household.invoices[2]
    await sign_in_to_dashboard(page, lang, login, password)

    await page.goto(invoice_url(third))
    await heading(page, t(lang, "invoiceDetail.title", number=third))
    await settled(page)
    await page.get_by_role("link", name=pattern(lang, "pay.invoiceAmount")).click()
    await heading(page, t(lang, "pay.title"))
    await settled(page)
    # Only the invoice it came from is ticked.
    await expect(page.get_by_role("checkbox", name=third)).to_be_checked()
    await expect(page.get_by_role("checkbox", checked=True)).to_have_count(1)
    await expect(page.get_by_label(t(lang, "pay.amount"), exact=True)).to_have_value(
        amount(THIRD_DUE)
    )
    await page.get_by_label(t(lang, "pay.method.blik"), exact=True).check()
    await check_accessibility(page, "pay (en)")
    await shoot(page, "pay-blik")
    await submit(page, lang)

    await provider_page(page)
    await page.get_by_role("button", name="Odrzuć / Decline").click()
    await heading(page, t(lang, "onlinePayment.title"))
    status = page.get_by_test_id("payment-status")
    await expect(status).to_have_attribute("data-status", "pending")
    # The status is followed, visibly.
    await expect(page.get_by_role("progressbar")).to_be_visible()
    await check_accessibility(page, "payment pending (en)")
    await shoot(page, "payment-pending")
    await page.get_by_role("button", name=t(lang, "onlinePayment.cancel"), exact=True).click()
    await expect(status).to_have_attribute("data-status", "cancelled")
    await expect(page.get_by_role("progressbar")).to_have_count(0)
    await check_accessibility(page, "payment cancelled (en)")
    await shoot(page, "payment-cancelled")

    await page.goto(invoice_url(third))
    await heading(page, t(lang, "invoiceDetail.title", number=third))
    await settled(page)
    await expect(page.get_by_text(t(lang, "invoice.status.unpaid"), exact=True)).to_be_visible()
    await expect(page.get_by_role("link", name=pattern(lang, "pay.invoiceAmount"))).to_be_visible()


async def test_a_manager_pays_for_the_customer_chosen(web: Web, page: Page, shoot: Shoot) -> None:
    """A manager with a full grant pays the customer's invoices: every payment call carries
    ?customer=, and the return page finds the payment under the same customer."""
    lang = "pl"
    stack = web.stack
    household, _, _ = await payer(stack)
    manager_id, _ = await staff_account(stack, "manager")
    _, operator = await staff_account(stack, "operator")
    customer_id = household.customer.customer_id
    status, body = await stack.api.request(
        "PUT",
        f"/api/v1/operator/managers/{manager_id}/grants/{customer_id}",
        token=operator,
        json={"scope": "full"},
    )
    assert status == 200, body
    conn = await stack.platform.db("identity")
    try:
        manager_login = await conn.fetchval("SELECT login FROM accounts WHERE id = $1", manager_id)
    finally:
        await conn.close()

    sent: list[str] = []
    page.on(
        "request",
        lambda request: sent.append(request.url) if "/api/v1/payments" in request.url else None,
    )
    await sign_in_to_dashboard(page, lang, manager_login, NEW_PASSWORD)
    await expect(page.get_by_test_id("scope-note")).to_contain_text("Łęcka")
    await page.get_by_role("link", name=t(lang, "pay.action"), exact=True).click()
    await heading(page, t(lang, "pay.title"))
    await settled(page)
    await expect(page.get_by_test_id("pay-invoice")).to_have_count(2)
    await submit(page, lang)
    await provider_page(page)
    await page.get_by_role("button", name="Zapłać / Pay").click()
    await heading(page, t(lang, "onlinePayment.title"))
    await expect(page.get_by_test_id("payment-status")).to_have_attribute("data-status", "paid")
    await check_accessibility(page, "a manager's payment, paid")
    assert sent, "no payment call seen"
    assert all(f"customer={customer_id}" in url for url in sent), sent
