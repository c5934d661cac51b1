"""Customers for the browser tests, fed as the ERP and the reading system would."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from deploy.integration_client import IntegrationClient
from shared.events import reading
from tests.support.erp import Household, daily_readings, publish_household
from tests.support.flows import access_token, registered_account
from tests.support.platform import wait_until
from tests.support.stack import Stack

# What publish_household's bookings add up to (see its docstring).
AMOUNT_DUE = Decimal("442.34")
READINGS_DAYS = 400


@dataclass(frozen=True)
class Resident:
    """A registered customer with a changed password, three invoices, payments, notes, two
    meters (the first with daily readings for over a year) and one contract."""

    household: Household
    login: str
    password: str


async def balance_settled(stack: Stack, token: str) -> bool:
    status, balance = await stack.api.request("GET", "/api/v1/balance", token=token)
    return status == 200 and balance["amount_due"] == str(AMOUNT_DUE)  # type: ignore[index]


async def fed_household(stack: Stack) -> Household:
    """A household whose invoices billing already holds (no account)."""
    household = await publish_household(stack.erp, stack.platform.settings.today())
    conn = await stack.platform.db("billing")
    try:
        await wait_until(
            lambda: conn.fetchval(
                "SELECT count(*) = 3 FROM invoices WHERE invoice_number = ANY($1::text[])",
                list(household.invoices),
            ),
            what="billing to hold the household's invoices",
        )
    finally:
        await conn.close()
    return household


async def publish_readings(stack: Stack, meter: str, days: int = READINGS_DAYS) -> None:
    settings = stack.platform.settings
    start = settings.today() - timedelta(days=days)
    async with IntegrationClient(
        settings.amqp_url, settings.namespace, producer="reading"
    ) as reading_system:
        await reading_system.publish(
            "reading.batch.recorded",
            reading.ReadingBatchRecorded(
                readings=daily_readings(meter, start, days, Decimal("100.000"), Decimal("0.350"))
            ),
        )


async def resident(stack: Stack) -> Resident:
    household = await publish_household(stack.erp, stack.platform.settings.today())
    account = await registered_account(stack, customer=household.customer)
    token = await access_token(stack, account)
    await wait_until(lambda: balance_settled(stack, token), what="billing to settle")
    meter = household.meters[0]
    await publish_readings(stack, meter)

    async def readings_stored() -> bool:
        status, body = await stack.api.request(
            "GET", f"/api/v1/meters/{meter}/readings?limit=1", token=token
        )
        # One batch is stored in one statement: with one of its readings there are all.
        return status == 200 and bool(body["items"])  # type: ignore[index]

    await wait_until(readings_stored, what="the reading batch")
    return Resident(household, account.login, account.password)
