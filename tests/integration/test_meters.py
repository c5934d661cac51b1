"""Which meter sits on which service point, since when: metering follows the contracts."""

from __future__ import annotations

import secrets
from datetime import date

from shared.events import erp
from tests.support.erp import address
from tests.support.platform import wait_until
from tests.support.stack import Stack


def contract(suffix: str, meter: str, status: str = "active") -> erp.ContractUpserted:
    return erp.ContractUpserted(
        contract_number=f"U-{suffix}",
        customer_id=f"C-{suffix}",
        signed_on=date(2023, 5, 1),
        status=status,  # type: ignore[arg-type]
        service_points=[
            erp.ServicePoint(service_point_id=f"SP-{suffix}", address=address(), meter_number=meter)
        ],
    )


async def meters(stack: Stack, suffix: str) -> dict[str, tuple[date, date | None]]:
    conn = await stack.platform.db("metering")
    try:
        rows = await conn.fetch(
            "SELECT meter_number, installed_on, removed_on FROM meters WHERE customer_id = $1",
            f"C-{suffix}",
        )
    finally:
        await conn.close()
    return {r["meter_number"]: (r["installed_on"], r["removed_on"]) for r in rows}


async def test_meter_exchange_and_contract_end(stack: Stack) -> None:
    suffix = secrets.token_hex(4)
    today = stack.platform.settings.today()
    first, second = f"M-{suffix}-old", f"M-{suffix}-new"

    await stack.erp.publish("erp.contract.upserted", contract(suffix, first))
    found = await wait_until(lambda: meters(stack, suffix), what="the contract's meter")
    assert found == {first: (date(2023, 5, 1), None)}

    await stack.erp.publish("erp.contract.upserted", contract(suffix, second))
    found = await wait_until(
        lambda: _with(meters(stack, suffix), second), what="the exchanged meter"
    )
    assert found == {first: (date(2023, 5, 1), today), second: (today, None)}

    await stack.erp.publish("erp.contract.upserted", contract(suffix, second, "terminated"))
    found = await wait_until(
        lambda: _removed(meters(stack, suffix), second), what="the contract's end"
    )
    assert found[second] == (today, today)


async def _with(found: object, meter: str) -> object:
    result = await found  # type: ignore[misc]
    return result if meter in result else None


async def _removed(found: object, meter: str) -> object:
    result = await found  # type: ignore[misc]
    return result if result.get(meter, (None, None))[1] is not None else None
