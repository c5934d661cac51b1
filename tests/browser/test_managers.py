"""Issue 10 in the browser: a property manager's request sent in the public form, approved by an
operator in the operator's pages (a partial grant: one of the customer's two service points),
the manager's three emails, the sign-in, and the partial view: a note on every account view,
only the granted property's meter and service point, e-invoice seen but not changeable. Then the
owner's "who manages my properties" shows the manager and revokes the grant."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.async_api import Page, expect

from deploy.create_operator import create_operator
from tests.browser.app import choose_language, field_error, sign_in
from tests.browser.conftest import Shoot, Web
from tests.browser.customers import fed_household
from tests.browser.helpers import (
    check_accessibility,
    emailed_credentials,
    find_link,
    heading,
    link_on,
    settled,
)
from tests.browser.texts import pattern, t
from tests.support.erp import Household
from tests.support.flows import (
    login,
    new_captcha,
    registered_account,
    staff_account,
    wait_for_mail,
)
from tests.support.platform import wait_until
from tests.support.stack import Stack

NEW_PASSWORD = "Wodociagi2026nowe"
VALID_NIP = "526-000-12-46"
BAD_NIP = "123-456-78-90"  # its check digit does not match


async def identity_knows(stack: Stack, household: Household) -> None:
    """Identity's projection of the ERP holds the household's service points (the operator's
    match is made against it)."""
    conn = await stack.platform.db("identity")
    try:
        await wait_until(
            lambda: conn.fetchval(
                "SELECT count(*) = 2 FROM service_points WHERE customer_id = $1",
                household.customer.customer_id,
            ),
            what="identity to learn the household's service points",
        )
    finally:
        await conn.close()


async def change_one_time_password(page: Page, lang: str, one_time: str) -> None:
    await heading(page, t(lang, "password.title"))
    await page.get_by_label(t(lang, "password.currentForced"), exact=True).fill(one_time)
    await page.get_by_label(t(lang, "password.new"), exact=True).fill(NEW_PASSWORD)
    await page.get_by_label(t(lang, "password.repeat"), exact=True).fill(NEW_PASSWORD)
    await page.get_by_role("button", name=t(lang, "password.submit"), exact=True).click()


async def operator_signed_in(web: Web, page: Page, lang: str) -> None:
    """A new operator, made as `python -m deploy.create_operator` makes one, signed in in the
    browser with its one-time password changed: the app shows the queue of requests."""
    name = f"op.{secrets.token_hex(3)}"
    made = await create_operator(
        web.stack.platform.settings, name, f"{name}@wodociagi.example", lang
    )
    assert made is not None
    _, one_time = made
    await page.goto("/login")
    await sign_in(page, lang, name, one_time)
    await change_one_time_password(page, lang, one_time)
    await heading(page, t(lang, "operator.requestsTitle"))
    await settled(page)


async def sign_out(page: Page, lang: str) -> None:
    await page.goto("/account")
    await heading(page, t(lang, "account.title"))
    await page.get_by_test_id("sign-out").click()
    await heading(page, t(lang, "login.title"))


@pytest.mark.parametrize("lang", ["pl", "en", "uk", "ru"])
async def test_request_approved_to_partial_view(
    web: Web, page: Page, shoot: Shoot, lang: str
) -> None:
    stack = web.stack
    household = await fed_household(stack)
    await identity_knows(stack, household)
    suffix = household.customer.customer_id.removeprefix("C-")
    granted, other = f"SP-{suffix}-1", f"SP-{suffix}-2"
    granted_meter, other_meter = household.meters
    manager_email = f"zarzadca.{secrets.token_hex(4)}@example.com"

    # --- the public request form ---------------------------------------------------------
    await page.goto("/manager-request")
    if lang != "pl":
        await choose_language(page, lang)
    await heading(page, t(lang, "managerRequest.title"))
    await settled(page)
    await page.get_by_label(t(lang, "managerRequest.company"), exact=True).fill(
        "Zarządca Nieruchomości Sp. z o.o."
    )
    await page.get_by_label(t(lang, "managerRequest.nip"), exact=True).fill(BAD_NIP)
    await page.get_by_label(t(lang, "managerRequest.contactPerson"), exact=True).fill("Anna Nowak")
    await page.get_by_label(t(lang, "register.email"), exact=True).fill(manager_email)
    await page.get_by_label(t(lang, "register.phone"), exact=True).fill("+48 600 100 200")
    await page.get_by_label(t(lang, "managerRequest.street"), exact=True).fill("Wodna")
    await page.get_by_label(t(lang, "managerRequest.building"), exact=True).fill("7")
    await page.get_by_label(re.compile(t(lang, "managerRequest.apartment"))).fill("3")
    await page.get_by_label(t(lang, "managerRequest.postal_code"), exact=True).fill("00-950")
    await page.get_by_label(t(lang, "managerRequest.city"), exact=True).fill("Warszawa")
    await page.get_by_label(t(lang, "managerRequest.contractNumber"), exact=True).fill(
        household.contract_number
    )
    await page.get_by_label(t(lang, "scope.partialLong"), exact=True).check()
    await page.get_by_role("checkbox").check()
    await page.get_by_label(t(lang, "register.captchaAnswer"), exact=True).fill("TEST1")
    await check_accessibility(page, "manager request form")
    await shoot(page, "manager-request")
    submit = page.get_by_role("button", name=t(lang, "managerRequest.submit"), exact=True)

    # A NIP whose check digit does not match: the API's refusal shown at the NIP field.
    await submit.click()
    assert await field_error(page, "nip") == t(lang, "field.nip.value_error")
    await check_accessibility(page, "manager request form with an error")
    await page.get_by_label(t(lang, "managerRequest.nip"), exact=True).fill(VALID_NIP)
    await submit.click()

    await heading(page, t(lang, "managerRequestSent.title"))
    reference = (await page.get_by_test_id("request-reference").inner_text()).strip()
    assert re.fullmatch(r"MR-\d{4}-\d{6}", reference), reference
    await expect(page.get_by_text(manager_email)).to_be_visible()
    await check_accessibility(page, "manager request received")
    await shoot(page, "manager-request-sent")
    received = await wait_for_mail(stack, manager_email, "manager-request-received")
    assert reference in received.subject

    # --- an operator decides -------------------------------------------------------------
    await operator_signed_in(web, page, lang)
    card = page.get_by_test_id("request-card").filter(has_text=reference)
    await expect(card).to_have_count(1)
    await expect(card.get_by_test_id("property-row")).to_contain_text(t(lang, "match.matched"))
    await expect(card.get_by_test_id("property-row")).to_contain_text(granted)
    await check_accessibility(page, "operator's queue")
    await shoot(page, "operator-requests")

    await card.get_by_role("link", name=t(lang, "operator.decide", reference=reference)).click()
    await heading(page, t(lang, "operator.decisionTitle", reference=reference))
    await settled(page)
    grant = page.get_by_test_id("grant-fieldset")
    await expect(grant.get_by_label(t(lang, "scope.partialLong"), exact=True)).to_be_checked()
    # Both service points are at the requested address; the grant is for the first only.
    await expect(grant.get_by_label(re.compile(f"^{granted}:"))).to_be_checked()
    await grant.get_by_label(re.compile(f"^{other}:")).uncheck()
    await check_accessibility(page, "operator's decision")
    await shoot(page, "operator-decision")
    await page.get_by_role("button", name=t(lang, "operator.approve"), exact=True).click()
    result = page.get_by_test_id("decision-result")
    await expect(result).to_contain_text(reference)
    await page.get_by_role("link", name=t(lang, "operator.managerGrants"), exact=True).click()
    await heading(page, t(lang, "grants.title"))
    await settled(page)
    grant_card = page.get_by_test_id("grant-card")
    await expect(grant_card).to_have_count(1)
    await expect(grant_card).to_contain_text(household.customer.customer_id)
    await expect(grant_card).to_contain_text(granted)
    await check_accessibility(page, "a manager's grants")
    await shoot(page, "operator-grants")
    manager_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    await sign_out(page, lang)

    # The manager also gets a full grant over another customer (as an operator can give one).
    other_household = await fed_household(stack)
    other_customer = other_household.customer.customer_id
    _, operator = await staff_account(stack, "operator")
    status, body = await stack.api.request(
        "PUT",
        f"/api/v1/operator/managers/{manager_id}/grants/{other_customer}",
        token=operator,
        json={"scope": "full"},
    )
    assert status == 200, body

    # --- the manager's three emails, then the sign-in ------------------------------------
    mail = await wait_for_mail(stack, manager_email, "registration")
    await page.goto(link_on(web.base_url, find_link(mail.body("plain"), "/activate")))
    await heading(page, t(lang, "activate.title"))
    await expect(page.get_by_text(t(lang, "activate.done"))).to_be_visible()
    confirmation = await wait_for_mail(stack, manager_email, "registration-confirmation")
    manager_login, manager_one_time = emailed_credentials(confirmation.body("plain"))
    await wait_for_mail(stack, manager_email, "account-activation")
    assert [m.template for m in stack.mailbox.to_address(manager_email)] == [
        "manager-request-received",
        "registration",
        "registration-confirmation",
        "account-activation",
    ]

    async def active() -> bool:
        status, _ = await login(stack, manager_login, manager_one_time)
        return status == 200

    await wait_until(active, what="the manager's account to become active")
    await page.goto("/login")
    await sign_in(page, lang, manager_login, manager_one_time)
    await change_one_time_password(page, lang, manager_one_time)

    # --- the partial view ----------------------------------------------------------------
    await heading(page, t(lang, "dashboard.title"))
    await settled(page)
    switcher = page.get_by_test_id("customer-select")
    await expect(switcher.locator("option")).to_have_count(2)
    await switcher.select_option(household.customer.customer_id)
    await settled(page)
    note = page.get_by_test_id("scope-note")
    await expect(note).to_contain_text(t(lang, "managed.partialTitle"))
    await expect(note).to_contain_text(household.customer.customer_id)
    await expect(page.get_by_test_id("customer-select")).to_have_value(
        household.customer.customer_id
    )
    meters = page.get_by_test_id("meter-card")
    await expect(meters).to_have_count(1)
    await expect(meters).to_contain_text(granted_meter)
    await check_accessibility(page, "a partial manager's dashboard")
    await shoot(page, "manager-dashboard-partial")

    await page.get_by_role("link", name=t(lang, "nav.meters"), exact=True).click()
    await heading(page, t(lang, "meters.title"))
    await settled(page)
    await expect(page.get_by_test_id("scope-note")).to_be_visible()
    await expect(page.get_by_test_id("meter-card")).to_have_count(1)
    await expect(page.get_by_text(other_meter)).to_have_count(0)

    await page.get_by_role("link", name=t(lang, "nav.contracts"), exact=True).click()
    await heading(page, t(lang, "contracts.title"))
    await settled(page)
    await expect(page.get_by_test_id("scope-note")).to_be_visible()
    await expect(page.get_by_text(granted)).to_have_count(1)
    await expect(page.get_by_text(other)).to_have_count(0)

    # The other meter's address is not the manager's: the app shows not found.
    await page.goto(f"/meters/{other_meter}")
    await heading(page, t(lang, "notFound.title"))
    await expect(page.get_by_text(t(lang, "problem.not-found"))).to_be_visible()

    # E-invoice covers all of the customer's properties: its state is shown, with no forms,
    # and the page says why (tests/browser/test_e_invoice.py covers it in detail).
    await page.get_by_role("link", name=t(lang, "nav.eInvoice"), exact=True).click()
    await heading(page, t(lang, "eInvoice.title"))
    await settled(page)
    await expect(page.get_by_test_id("not-in-scope")).to_contain_text(t(lang, "notInScope.why"))
    await expect(page.locator("main").get_by_role("button")).to_have_count(0)
    await check_accessibility(page, "not in your scope")
    await shoot(page, "manager-not-in-scope")

    await page.get_by_role("link", name=t(lang, "nav.portfolio"), exact=True).click()
    await heading(page, t(lang, "portfolio.title"))
    await settled(page)
    rows = page.get_by_test_id("portfolio-table").locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.filter(has_text=household.customer.customer_id)).to_contain_text(
        t(lang, "scope.partial")
    )
    await expect(rows.filter(has_text=other_customer)).to_contain_text(t(lang, "scope.full"))
    search = page.get_by_role("searchbox", name=t(lang, "portfolio.search"), exact=True)
    await search.fill(household.contract_number)
    await page.get_by_role("button", name=t(lang, "portfolio.searchSubmit"), exact=True).click()
    await expect(
        page.get_by_role("status").filter(has_text=household.contract_number)
    ).to_be_visible()
    await settled(page)
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(household.customer.customer_id)
    await check_accessibility(page, "the manager's portfolio")
    await shoot(page, "manager-portfolio")
    await search.fill("")
    await page.get_by_role("button", name=t(lang, "portfolio.searchSubmit"), exact=True).click()
    await expect(rows).to_have_count(2)

    # The other customer, chosen on the portfolio: a full grant, both meters, e-invoice offered
    # (its form), not refused as out of scope.
    await rows.filter(has_text=other_customer).get_by_role("button").click()
    await heading(page, t(lang, "dashboard.title"))
    await settled(page)
    await expect(switcher).to_have_value(other_customer)
    full_note = page.get_by_test_id("scope-note")
    await expect(full_note).to_contain_text(pattern(lang, "managed.full"))
    await expect(full_note).to_contain_text(other_customer)
    await expect(page.get_by_test_id("meter-card")).to_have_count(2)
    await page.goto("/e-invoice")
    await heading(page, t(lang, "eInvoice.title"))
    await settled(page)
    await expect(page.get_by_test_id("e-invoice-activate")).to_be_visible()
    await page.goto("/portfolio")
    await heading(page, t(lang, "portfolio.title"))
    await settled(page)
    await search.fill("Nieistniejąca")
    await page.get_by_role("button", name=t(lang, "portfolio.searchSubmit"), exact=True).click()
    await expect(page.get_by_text(t(lang, "portfolio.noMatch"))).to_be_visible()
    await sign_out(page, lang)

    # --- the owner sees who manages their properties, and revokes ------------------------
    owner = await registered_account(stack, customer=household.customer)
    await page.goto("/login")
    await sign_in(page, lang, owner.login, owner.password)
    await heading(page, t(lang, "dashboard.title"))
    await page.get_by_role("link", name=t(lang, "nav.managers"), exact=True).click()
    await heading(page, t(lang, "managers.title"))
    await settled(page)
    manager_card = page.get_by_test_id("manager-card")
    await expect(manager_card).to_have_count(1)
    await expect(manager_card).to_contain_text(manager_email)
    await expect(manager_card).to_contain_text(granted)
    await check_accessibility(page, "who manages my properties")
    await shoot(page, "owner-managers")
    await manager_card.get_by_role("button").click()
    await expect(page.get_by_text(t(lang, "managers.none"))).to_be_visible()

    # Invited again, for the other service point: the manager's account has it at once.
    invite = page.get_by_test_id("invite-form")
    await invite.get_by_label(t(lang, "register.email"), exact=True).fill(manager_email)
    await invite.get_by_label(re.compile(other)).check()
    await invite.get_by_role("button", name=t(lang, "managers.invite"), exact=True).click()
    await expect(
        page.get_by_text(t(lang, "managers.invitedMessage", email=manager_email))
    ).to_be_visible()
    await expect(manager_card).to_have_count(1)
    await expect(manager_card).to_contain_text(other)
    await check_accessibility(page, "who manages my properties, after an invitation")


async def test_operator_rejects_a_request_and_changes_a_managers_grants(
    web: Web, page: Page, shoot: Shoot
) -> None:
    lang = "pl"
    stack = web.stack
    household = await fed_household(stack)
    await identity_knows(stack, household)
    customer_id = household.customer.customer_id
    first_point = f"SP-{customer_id.removeprefix('C-')}-1"
    email = f"odrzucany.{secrets.token_hex(4)}@example.com"
    status, answer = await stack.api.request(
        "POST",
        "/api/v1/manager-requests",
        json={
            "company": "Administracja Domów Sp. z o.o.",
            "nip": VALID_NIP,
            "contact_person": "Jan Nowak",
            "email": email,
            "phone": "+48 600 100 300",
            "properties": [
                {
                    "address": {
                        "street": "Wodna",
                        "building": "7",
                        "apartment": "3",
                        "postal_code": "00-950",
                        "city": "Warszawa",
                    },
                    "contract_number": household.contract_number,
                    "scope": "full",
                }
            ],
            "accept_terms": True,
            "terms_version": "2026-01",
            "captcha_id": await new_captcha(stack),
            "captcha_answer": "TEST1",
            "language": lang,
        },
    )
    assert status == 202, answer
    reference = answer["reference"]
    manager_id, _ = await staff_account(stack, "manager")

    await operator_signed_in(web, page, lang)

    # A rejection needs its reason: refused at the field first, then sent with it.
    await page.goto(f"/operator/requests/{reference}")
    await heading(page, t(lang, "operator.decisionTitle", reference=reference))
    await settled(page)
    reject = page.get_by_role("button", name=t(lang, "operator.reject"), exact=True)
    await reject.click()
    assert await field_error(page, "reason") == t(lang, "field.reason.string_too_short")
    await check_accessibility(page, "a rejection without its reason")
    reason = "Umowa nie wskazuje Państwa jako zarządcy."
    await page.get_by_label(t(lang, "operator.reason"), exact=True).fill(reason)
    await reject.click()
    await expect(page.get_by_test_id("decision-result")).to_contain_text(
        t(lang, "operator.rejected", reference=reference)
    )
    mail = await wait_for_mail(stack, email, "manager-request-rejected")
    assert reason in mail.body("plain")
    await (
        page.get_by_test_id("decision-result")
        .get_by_role("link", name=t(lang, "operator.backToQueue"), exact=True)
        .click()
    )
    await heading(page, t(lang, "operator.requestsTitle"))
    await settled(page)
    await expect(page.get_by_test_id("request-card").filter(has_text=reference)).to_have_count(0)

    # The managers' list, searched by the manager's login: its row leads to its grants.
    conn = await stack.platform.db("identity")
    try:
        manager_login = await conn.fetchval("SELECT login FROM accounts WHERE id = $1", manager_id)
    finally:
        await conn.close()
    await page.get_by_role("link", name=t(lang, "nav.operatorManagers"), exact=True).click()
    await heading(page, t(lang, "operator.managersTitle"))
    await settled(page)
    await page.get_by_role("searchbox", name=t(lang, "operator.managersSearch")).fill(manager_login)
    await page.get_by_role("button", name=t(lang, "portfolio.searchSubmit"), exact=True).click()
    rows = page.get_by_test_id("managers-table").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(f"{manager_login}@example.com")
    await expect(rows.first).to_contain_text(t(lang, "operator.accountStatus.active"))
    await check_accessibility(page, "the managers' list, searched")
    await shoot(page, "operator-managers")
    await rows.first.get_by_role(
        "link", name=t(lang, "operator.showGrantsOf", manager=manager_login), exact=True
    ).click()
    await heading(page, t(lang, "grants.title"))
    await settled(page)
    await page.go_back()
    await heading(page, t(lang, "operator.managersTitle"))

    # A manager's grants, found by the account id: given (partial), changed (full), revoked.
    await page.get_by_label(t(lang, "operator.accountId"), exact=True).fill("not-an-id")
    await page.get_by_role("button", name=t(lang, "operator.showGrants"), exact=True).click()
    assert await field_error(page, "account_id") == t(lang, "operator.accountIdInvalid")
    await page.get_by_label(t(lang, "operator.accountId"), exact=True).fill(manager_id)
    await page.get_by_role("button", name=t(lang, "operator.showGrants"), exact=True).click()
    await heading(page, t(lang, "grants.title"))
    await settled(page)
    await expect(page.get_by_text(t(lang, "grants.none"))).to_be_visible()
    await page.get_by_label(t(lang, "grants.customerId"), exact=True).fill(customer_id)
    await page.locator("#new-points").fill(first_point)
    await page.get_by_role("button", name=t(lang, "grants.give"), exact=True).click()
    card = page.get_by_test_id("grant-card")
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text(first_point)
    await expect(card).to_contain_text(t(lang, "scope.partial"))

    await card.get_by_label(t(lang, "scope.fullLong"), exact=True).check()
    await card.get_by_role("button", name=t(lang, "grants.save"), exact=True).click()
    await expect(page.get_by_text(t(lang, "grants.changed", customer=customer_id))).to_be_visible()
    await expect(card).to_contain_text(t(lang, "grants.allPoints"))
    await check_accessibility(page, "a manager's grants, changed")
    await card.get_by_role("button", name=t(lang, "grants.revoke"), exact=True).click()
    await expect(
        page.get_by_text(t(lang, "grants.revokedNow", customer=customer_id))
    ).to_be_visible()
    await expect(card).to_contain_text(t(lang, "grants.revoked"))
    await shoot(page, "operator-grants-revoked")

    operator_status, grants = await stack.api.request(
        "GET",
        f"/api/v1/operator/managers/{manager_id}/grants",
        token=(await staff_account(stack, "operator"))[1],
    )
    assert operator_status == 200, grants
    [grant] = grants["items"]
    assert (grant["revoked"], grant["revision"], grant["scope"]) == (True, 3, "full"), grant
