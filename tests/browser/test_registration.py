"""A new customer's whole way in the browser, from the registration form to a self-reading:
CAPTCHA, regulations, the activation link from the received email, the emailed one-time
password, the forced change, the dashboard with what the ERP fed, an invoice PDF, and a meter
reading accepted and one refused."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Page, expect

from tests.browser.app import amount, choose_language, field_error, invoice_url, sign_in
from tests.browser.conftest import Shoot, Web
from tests.browser.customers import AMOUNT_DUE, fed_household
from tests.browser.helpers import (
    Checks,
    check_accessibility,
    emailed_credentials,
    find_link,
    heading,
    link_on,
    settled,
)
from tests.browser.texts import pattern, t
from tests.support.flows import known_customer, login, wait_for_mail
from tests.support.platform import wait_until

NEW_PASSWORD = "Wodociagi2026nowe"
WARSAW = ZoneInfo("Europe/Warsaw")


def local_minute(moment: datetime) -> str:
    """A datetime-local input's value in the browser's time zone (the context's: Warsaw)."""
    return moment.astimezone(WARSAW).strftime("%Y-%m-%dT%H:%M")


# Words from the fourth point of the regulations (services/identity/migrations).
TERMS_WORDS = {
    "pl": "informacją o ochronie danych osobowych",
    "en": "as described in its privacy notice",
}


def decimal_in(lang: str, value: str) -> str:
    """As a person types it: a decimal comma in Polish, Ukrainian and Russian."""
    return value if lang == "en" else value.replace(".", ",")


@pytest.mark.parametrize("lang", ["pl", "en"])
async def test_self_registration(web: Web, page: Page, shoot: Shoot, lang: str) -> None:
    stack = web.stack
    checks = Checks()
    household = await fed_household(stack)
    customer = await known_customer(stack, household.customer)

    # Registration: the form, the regulations in full, the CAPTCHA (image, audio, new one).
    await page.goto("/register")
    if lang != "pl":
        await choose_language(page, lang)
    await heading(page, t(lang, "register.title"))
    await settled(page)
    terms = page.get_by_role("region", name=t(lang, "register.termsRegion"))
    # The regulations in full, in the language of the page.
    await expect(terms).to_have_attribute("lang", lang)
    await expect(terms).to_contain_text(TERMS_WORDS[lang])
    image = page.get_by_test_id("captcha-image")
    await expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    # The picture came after the browser solved the proof of work; the recording is made when
    # the player asks for it.
    audio = page.get_by_test_id("captcha-audio")
    await expect(audio).to_have_attribute(
        "src", re.compile(r"^/api/v1/captcha/[0-9a-f-]{36}/audio$")
    )
    wav = await audio.evaluate(
        """async (player) => {
            const answer = await fetch(player.src);
            const bytes = new Uint8Array(await answer.arrayBuffer());
            return [answer.status, answer.headers.get("content-type"), bytes.length,
                    String.fromCharCode(...bytes.slice(0, 4))];
        }"""
    )
    assert wav[:2] == [200, "audio/wav"] and wav[2] > 10_000 and wav[3] == "RIFF", wav[:2]
    first_captcha = await image.get_attribute("src")
    await page.get_by_test_id("captcha-new").click()
    await expect(image).not_to_have_attribute("src", first_captcha or "")
    await check_accessibility(page, f"registration ({lang})")
    await shoot(page, "register")

    await page.get_by_label(t(lang, "register.invoiceNumber"), exact=True).fill(
        customer.invoice_number
    )
    await page.get_by_label(t(lang, "register.invoiceAmount"), exact=True).fill(
        decimal_in(lang, str(customer.gross))
    )
    await page.get_by_label(t(lang, "register.email"), exact=True).fill(customer.email)
    await page.get_by_role("checkbox").check()
    answer = page.get_by_label(t(lang, "register.captchaAnswer"), exact=True)
    submit = page.get_by_role("button", name=t(lang, "register.submit"), exact=True)

    # A wrong CAPTCHA answer: the API's refusal shown at the CAPTCHA field, and a new CAPTCHA.
    refused_captcha = await image.get_attribute("src")
    await answer.fill("WRONG")
    await submit.click()
    assert await field_error(page, "captcha_answer") == t(lang, "field.captcha_failed")
    await expect(page.get_by_role("alert").first).to_be_visible()
    await expect(image).not_to_have_attribute("src", refused_captcha or "")
    await check_accessibility(page, f"registration with an error ({lang})")

    await answer.fill("TEST1")
    await submit.click()
    await heading(page, t(lang, "registerSent.title"))
    await expect(page.get_by_text(customer.email)).to_be_visible()
    await check_accessibility(page, f"check your mailbox ({lang})")
    await shoot(page, "register-sent")

    # The activation link from the "Registration" email, opened on this gateway.
    mail = await wait_for_mail(stack, customer.email, "registration")
    link = find_link(mail.body("plain"), "/activate")
    assert "#token=" in link, link
    await page.goto(link_on(web.base_url, link))
    await heading(page, t(lang, "activate.title"))
    await expect(page.get_by_text(t(lang, "activate.done"))).to_be_visible()
    assert "token" not in page.url, f"the token stays in the address bar: {page.url}"
    await check_accessibility(page, f"activation ({lang})")
    await shoot(page, "activate")

    # Sign in with the emailed login and one-time password, once the account is active.
    confirmation = await wait_for_mail(stack, customer.email, "registration-confirmation")
    login_name, one_time = emailed_credentials(confirmation.body("plain"))
    await wait_for_mail(stack, customer.email, "account-activation")

    async def active() -> bool:
        status, _ = await login(stack, login_name, one_time)
        return status == 200

    await wait_until(active, what="the account to become active")
    await page.get_by_role("link", name=t(lang, "activate.toLogin")).click()
    await sign_in(page, lang, login_name, one_time)

    # The forced password change: nothing else is reachable before it.
    await heading(page, t(lang, "password.title"))
    await expect(page.get_by_text(t(lang, "password.forcedIntro"))).to_be_visible()
    await check_accessibility(page, f"forced password change ({lang})")
    await shoot(page, "password-forced")
    await page.goto("/invoices")
    await heading(page, t(lang, "password.title"))
    await page.get_by_label(t(lang, "password.currentForced"), exact=True).fill(one_time)
    await page.get_by_label(t(lang, "password.new"), exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(t(lang, "password.repeat"), exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=t(lang, "password.submit"), exact=True).click()

    # The dashboard with what the ERP fed: balance, the three invoices, both meters, contract.
    await heading(page, t(lang, "dashboard.title"))
    await settled(page)
    await expect(page.get_by_test_id("balance-amount-due")).to_have_text(amount(str(AMOUNT_DUE)))
    rows = page.get_by_test_id("invoice-row")
    await expect(rows).to_have_count(3)
    for number in household.invoices:
        await expect(rows.filter(has_text=number)).to_have_count(1)
    meters = page.get_by_test_id("meter-card")
    await expect(meters).to_have_count(2)
    for meter in household.meters:
        await expect(meters.filter(has_text=meter)).to_have_count(1)
    await expect(page.get_by_text(household.contract_number).first).to_be_visible()
    await check_accessibility(page, f"dashboard ({lang})")
    await shoot(page, "dashboard")

    # An invoice's PDF, downloaded.
    overdue = household.invoices[1]
    await rows.filter(has_text=overdue).get_by_role("link").first.click()
    await heading(page, t(lang, "invoiceDetail.title", number=overdue))
    await settled(page)
    assert page.url.endswith(invoice_url(overdue)), page.url
    async with page.expect_download() as download_info:
        await page.get_by_test_id("invoice-pdf").click()
    download = await download_info.value
    pdf = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert pdf.startswith(b"%PDF-"), pdf[:20]
    assert download.suggested_filename.endswith(".pdf")

    # A self-reading accepted, then one lower than it refused at the value field.
    meter = household.meters[1]
    await page.goto(f"/meters/{meter}")
    await heading(page, t(lang, "meter.title", number=meter))
    await settled(page)
    form = page.get_by_test_id("reading-form")
    value = form.get_by_label(t(lang, "meter.formValue"), exact=True)
    read_at = form.get_by_label(t(lang, "meter.formReadAt"), exact=True)
    send = form.get_by_role("button", name=t(lang, "meter.formSubmit"), exact=True)
    now = datetime.now(WARSAW)
    await value.fill(decimal_in(lang, "15.250"))
    await read_at.fill(local_minute(now - timedelta(hours=1)))
    await send.click()
    await expect(page.get_by_test_id("readings-table")).to_contain_text(re.compile(r"15[.,]25"))
    async with checks.check("the self-reading's confirmation"):
        saved = page.get_by_role("status").filter(has_text=pattern(lang, "meter.formSaved"))
        await expect(saved).to_be_visible()

    await value.fill(decimal_in(lang, "10.000"))
    await read_at.fill(local_minute(now))
    await send.click()
    error = await field_error(page, "value")
    assert re.search(r"15[.,]25", error), error
    assert pattern(lang, "reading.belowLast").fullmatch(error), error
    await check_accessibility(page, f"meter with a refused reading ({lang})")
    await shoot(page, "meter-refused")
    checks.verify()
