"""Issue 13 in the browser: a customer reports a failure at one of their service points with a
photo ("Write to us"; a file that is not what its name says refused by the server, shown at the
file and removed; a double click makes one case), sees the case in the list as submitted; the
back office registers it and then answers it through the queue (backoffice.case.updated on the
integration exchange), and the case page shows the statuses and the reply in the thread; the
photo downloads; the dashboard counts the open case. axe-core on each page, screenshots at 1280
and 375 px in Polish and English."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from playwright.async_api import Page, expect

from deploy.integration_client import IntegrationClient
from shared.events.correspondence import BackOfficeCaseUpdated
from tests.browser.app import choose_language, sign_in_to_dashboard
from tests.browser.conftest import Shoot, Web
from tests.browser.helpers import check_accessibility, heading, settled
from tests.browser.texts import pattern, t
from tests.support.erp import publish_household
from tests.support.flows import access_token, registered_account
from tests.support.platform import wait_until

REPLY = "Ekipa usunęła awarię, woda płynie od 14:00."


def png(width: int = 24, height: int = 16) -> bytes:
    """A small real PNG (a blue rectangle): correspondence reads the type from the content."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\x0b\x4f\x8a" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def case_url(number: str) -> str:
    return "/cases/" + quote(number, safe="")


async def visit(page: Page, shoot: Shoot, name: str, title: str | re.Pattern[str]) -> None:
    await heading(page, title)
    await settled(page)
    await check_accessibility(page, name)
    await shoot(page, name)


async def case_status(page: Page, status: str) -> None:
    await expect(page.get_by_test_id("case-status")).to_have_attribute("data-status", status)


async def test_report_a_failure_with_a_photo_see_it_registered_and_answered(
    web: Web, page: Page, shoot: Shoot
) -> None:
    lang = "pl"
    stack = web.stack
    household = await publish_household(stack.erp, stack.platform.settings.today())
    account = await registered_account(stack, customer=household.customer)
    db = await stack.platform.db("correspondence")
    try:
        await wait_until(
            lambda: db.fetchval(
                "SELECT count(*) = 2 FROM service_points WHERE customer_id = $1",
                household.customer.customer_id,
            ),
            what="correspondence to learn the customer's service points",
        )
    finally:
        await db.close()
    photo = png()

    await sign_in_to_dashboard(page, lang, account.login, account.password)
    await expect(page.get_by_test_id("open-cases-count")).to_have_text(
        t(lang, "dashboard.noOpenCases")
    )
    await page.get_by_role("link", name=t(lang, "nav.cases"), exact=True).click()
    await visit(page, shoot, "cases-empty", t(lang, "cases.title"))
    await expect(page.get_by_text(t(lang, "cases.empty"))).to_be_visible()

    await page.get_by_role("link", name=t(lang, "writeToUs.title"), exact=True).click()
    await heading(page, t(lang, "writeToUs.title"))
    await page.get_by_role("radio", name=pattern(lang, "case.kind.failure")).check()
    points = page.get_by_label(t(lang, "writeToUs.servicePoint"), exact=True)
    await expect(points.locator("option")).to_have_count(3)  # "choose" and the two points
    await points.select_option(index=1)
    await page.get_by_label(t(lang, "writeToUs.description"), exact=True).fill(
        "Brak wody w kranie, w piwnicy słychać szum."
    )
    yesterday = (stack.platform.settings.today() - timedelta(days=1)).isoformat()
    await page.get_by_label(re.compile("^" + re.escape(t(lang, "writeToUs.since")))).fill(yesterday)

    files = page.get_by_test_id("attachment-input")
    # A program named as a PDF: the browser cannot tell, the server reads the content.
    await files.set_input_files(
        [{"name": "faktura.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" * 64}]
    )
    refused = page.get_by_test_id("upload").filter(has_text="faktura.pdf")
    await expect(refused).to_have_attribute("data-state", "refused")
    await expect(refused).to_contain_text(t(lang, "attachments.wrongType"))
    await files.set_input_files([{"name": "awaria.png", "mimeType": "image/png", "buffer": photo}])
    sent = page.get_by_test_id("upload").filter(has_text="awaria.png")
    await expect(sent).to_have_attribute("data-state", "done")
    await check_accessibility(page, "write to us: a file refused")
    await shoot(page, "write-to-us")
    await page.get_by_role(
        "button", name=t(lang, "attachments.removeNamed", name="faktura.pdf"), exact=True
    ).click()
    await expect(page.get_by_test_id("upload")).to_have_count(1)

    # A double click sends one case.
    await page.get_by_role("button", name=t(lang, "writeToUs.submit"), exact=True).dblclick()
    await heading(page, pattern(lang, "case.heading"))
    number = (await page.locator("h1").inner_text()).rsplit(" ", 1)[-1]
    assert re.fullmatch(r"KOR/\d{4}/\d{6}", number), number
    await case_status(page, "submitted")
    await expect(page.get_by_role("status").filter(has_text=number)).to_be_visible()
    await settled(page)
    await check_accessibility(page, "case submitted")
    await shoot(page, "case-submitted")

    await page.get_by_role("link", name=t(lang, "case.back"), exact=True).click()
    await visit(page, shoot, "cases", t(lang, "cases.title"))
    rows = page.get_by_test_id("cases-table").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text(number)
    await expect(rows.first).to_contain_text(t(lang, "case.kind.failure"))
    await expect(rows.first).to_contain_text(t(lang, "case.status.submitted"))
    status, listed = await stack.api.request(
        "GET", "/api/v1/cases", token=await access_token(stack, account)
    )
    assert status == 200, listed
    assert [item["number"] for item in listed["items"]] == [number]  # type: ignore[index]

    # The back office registers the case, then answers it, through the queue.
    settings = stack.platform.settings
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="backoffice"
    ) as backoffice:

        async def update(status: str, reply: str | None = None) -> None:
            await backoffice.publish(
                BackOfficeCaseUpdated.TYPE,
                BackOfficeCaseUpdated(
                    number=number,
                    status=status,  # type: ignore[arg-type]
                    reply=reply,
                    by="Anna Nowak",
                    updated_at=datetime.now(UTC),
                ),
            )

        await rows.first.get_by_role("link", name=number, exact=True).click()
        await heading(page, t(lang, "case.heading", number=number))
        await update("registered")
        await page.reload()
        await case_status(page, "registered")
        await update("answered", REPLY)
        await page.reload()
        await case_status(page, "answered")

    timeline = page.get_by_test_id("case-timeline").locator("li")
    await expect(timeline).to_have_count(3)
    for index, status in enumerate(("submitted", "registered", "answered")):
        await expect(timeline.nth(index)).to_have_attribute("data-status", status)
    reply = page.get_by_test_id("case-messages").locator("li[data-role=utility]")
    await expect(reply).to_have_count(1)
    await expect(reply).to_contain_text(REPLY)
    await expect(reply).to_contain_text(t(lang, "case.author.utilityNamed", name="Anna Nowak"))
    await settled(page)
    await check_accessibility(page, "case answered")
    await shoot(page, "case-answered")

    # The photo comes back as sent (fetched with the session's token).
    async with page.expect_download() as download_info:
        await page.get_by_role(
            "button", name=t(lang, "attachments.download", name="awaria.png"), exact=True
        ).click()
    download = await download_info.value
    assert download.suggested_filename == "awaria.png"
    path = await download.path()
    assert path.read_bytes() == photo

    await choose_language(page, "en")
    await case_status(page, "answered")
    await expect(page.get_by_test_id("case-status")).to_have_text(t("en", "case.status.answered"))
    await check_accessibility(page, "case answered (en)")
    await shoot(page, "case-answered")

    await page.get_by_role("link", name=t("en", "nav.dashboard"), exact=True).click()
    await heading(page, t("en", "dashboard.title"))
    await settled(page)
    await expect(page.get_by_test_id("open-cases-count")).to_have_text("1")
    link = page.get_by_test_id("open-cases").get_by_role("link", name=number)
    await expect(link).to_have_attribute("href", case_url(number))
    await check_accessibility(page, "dashboard with an open case")
    await shoot(page, "dashboard-open-case")
    await link.click()
    await heading(page, t("en", "case.heading", number=number))
