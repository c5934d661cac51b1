"""Every route of the gateway's table, for every role, answers as its policy says (issue 10).

Generated from the route table: a route added to it is walked by this test the day it is added.
The roles: anonymous, customer A, customer B, a manager with a full grant over A, a manager
with a partial grant over one of A's service points, a manager of B only, and an operator.
Every role signs in as its accounts do (customers after registration; managers' and the
operator's accounts are made in identity's database as `deploy.create_operator` makes an
operator's), and the grants reach the services as identity publishes them
(`identity.grant.changed` on the events exchange).

What each answers (shared/policy.py):
- a route of another role: 403 `insufficient-scope`; no token: 401;
- an account route: the customer and their managers reach A's objects; customer B and B's
  manager get 404 for anything of A's; the partial manager reaches the granted service point's
  objects (or gets 403 `partial-scope` where the route is `partial="forbidden"`) and gets 404
  for A's other properties.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote

import aio_pika
import pytest
import pytest_asyncio

from services.gateway.api import ROUTES, Route
from shared.envelope import new_envelope
from shared.events import erp
from shared.events.identity import GrantChanged
from shared.messaging.broker import envelope_message
from tests.support.erp import Household, address, publish_household
from tests.support.flows import access_token, registered_account, staff_account
from tests.support.platform import wait_until
from tests.support.stack import Stack

ROLES = (
    "anonymous",
    "customer-a",
    "customer-b",
    "full-manager-a",
    "partial-manager-a",
    "manager-b",
    "operator",
)
ROLE_OF = {
    "customer-a": "customer",
    "customer-b": "customer",
    "full-manager-a": "manager",
    "partial-manager-a": "manager",
    "manager-b": "manager",
    "operator": "operator",
}
# Queries that pass validation, so that an answer is about the caller, not the query.
QUERIES = {("POST", "/api/v1/attachments"): "filename=scan.pdf"}
# Bodies that pass validation, so that an answer is about the caller, not the body.
BODIES = {
    ("POST", "/api/v1/meters/{meter_number}/readings"): lambda: {
        "value": "1.000",
        "read_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    },
}


@dataclass
class World:
    a: Household
    b: Household
    other_contract_meter: str  # A's meter on a contract the partial manager has no grant over
    other_contract_invoice: str
    tokens: dict[str, str | None]
    case: str = ""  # A's case on the granted service point
    other_contract_case: str = ""  # A's case on the contract the partial manager has no grant over


async def publish_grant(stack: Stack, manager: str, customer: str, points: list[str]) -> None:
    grant = GrantChanged(
        manager_account_id=uuid.UUID(manager),
        customer_id=customer,
        scope="partial" if points else "full",
        service_point_ids=points,
        revision=1,
        changed_at=datetime.now(UTC),
        changed_by="operator",
    )
    settings = stack.platform.settings
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        events = await channel.get_exchange(stack.platform.names.exchange("events"))
        await events.publish(
            envelope_message(new_envelope(grant.TYPE, grant, "identity")),
            routing_key=grant.TYPE,
            mandatory=True,
        )


async def second_contract(stack: Stack, customer: str, today: date) -> tuple[str, str]:
    """A second contract of `customer` with its own service point (SP-<suffix>-9), meter and
    invoice."""
    suffix = secrets.token_hex(4)
    meter, invoice = f"M-{suffix}-9", f"FV/9/{suffix}"
    await stack.erp.publish(
        "erp.contract.upserted",
        erp.ContractUpserted(
            contract_number=f"U-{suffix}-9",
            customer_id=customer,
            signed_on=date(2024, 1, 10),
            status="active",
            service_points=[
                erp.ServicePoint(
                    service_point_id=f"SP-{suffix}-9", address=address(), meter_number=meter
                )
            ],
        ),
    )
    await stack.erp.publish(
        "erp.invoice.issued",
        erp.InvoiceIssued(
            invoice_number=invoice,
            customer_id=customer,
            contract_number=f"U-{suffix}-9",
            issued_on=today - timedelta(days=10),
            due_on=today + timedelta(days=4),
            period_from=today - timedelta(days=40),
            period_to=today - timedelta(days=10),
            net=Decimal("10.00"),
            vat=Decimal("0.80"),
            gross=Decimal("10.80"),
        ),
    )
    return meter, invoice


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(stack: Stack) -> World:
    today = stack.platform.settings.today()
    a = await publish_household(stack.erp, today)
    b = await publish_household(stack.erp, today)
    meter, invoice = await second_contract(stack, a.customer.customer_id, today)
    tokens: dict[str, str | None] = {"anonymous": None}
    for role, household in (("customer-a", a), ("customer-b", b)):
        account = await registered_account(stack, customer=household.customer)
        tokens[role] = await access_token(stack, account)
    ids = {}
    for role in ("full-manager-a", "partial-manager-a", "manager-b", "operator"):
        ids[role], tokens[role] = await staff_account(stack, ROLE_OF[role])
    await publish_grant(stack, ids["full-manager-a"], a.customer.customer_id, [])
    await publish_grant(
        stack, ids["partial-manager-a"], a.customer.customer_id, [first_service_point(a)]
    )
    await publish_grant(stack, ids["manager-b"], b.customer.customer_id, [])
    for role, household in (
        ("full-manager-a", a),
        ("partial-manager-a", a),
        ("manager-b", b),
    ):

        async def granted(role: str = role, household: Household = household) -> bool:
            status, _ = await stack.api.request(
                "GET",
                f"/api/v1/contracts?customer={household.customer.customer_id}",
                token=tokens[role],
            )
            return status == 200

        await wait_until(granted, what=f"the grant of {role} to reach the services")
    other_point = "SP-" + meter.removeprefix("M-")
    cases = [
        await failure_case(stack, tokens["customer-a"], point)
        for point in (first_service_point(a), other_point)
    ]
    return World(a, b, meter, invoice, tokens, *cases)


async def failure_case(stack: Stack, token: str | None, service_point: str) -> str:
    """A's failure report at `service_point` (once correspondence knows the point): its number."""

    async def created() -> str | None:
        async with stack.api.session.post(
            stack.api.base_url + "/api/v1/cases",
            json={"kind": "failure", "service_point_id": service_point, "description": "Leak"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": secrets.token_hex(8)},
        ) as resp:
            return (await resp.json())["number"] if resp.status == 201 else None

    return await wait_until(created, what=f"a case at {service_point}")  # type: ignore[return-value]


def first_service_point(household: Household) -> str:
    """The service point of the household's first meter (tests/support/erp.py names them)."""
    return f"SP-{household.customer.customer_id.removeprefix('C-')}-1"


def objects(world: World, route: Route, *, other: bool = False) -> dict[str, str]:
    """Path parameters naming A's objects: on the granted service point, or (`other`) on the
    contract the partial manager was not granted. `{number}` is a case's under /cases."""
    case = route.path.startswith("/api/v1/cases/")
    if other:
        number = world.other_contract_case if case else world.other_contract_invoice
        return {"number": number, "meter_number": world.other_contract_meter}
    number = world.case if case else world.a.invoices[0]
    return {"number": number, "meter_number": world.a.meters[0]}


def path_of(route: Route, params: dict[str, str]) -> tuple[str, bool]:
    """The route's path with its parameters filled, and whether one of them names nothing
    (a parameter this test has no object for: a random id, which may well answer 404)."""
    unknown = False

    def fill(match: re.Match[str]) -> str:
        nonlocal unknown
        name = match.group(1)
        if name not in params:
            unknown = True
            return str(uuid.uuid4())
        return quote(params[name], safe="")

    return re.sub(r"\{(\w+)\}", fill, route.path), unknown


def expected(route: Route, role: str, *, other: bool) -> str:
    """ "anyone" (an anonymous route), "ok", "401", "403" or "404" for `role` calling `route`
    on A's objects."""
    policy = route.policy
    if policy.anonymous:
        return "anyone"
    if role == "anonymous":
        return "401"
    if not policy.allows(ROLE_OF[role]):
        return "403"
    if policy.roles != {"customer", "manager"}:
        return "ok"  # about the caller itself: its account, its grants, its portfolio, its work
    if role in ("customer-b", "manager-b"):
        return "404"
    if role == "partial-manager-a":
        if policy.partial == "forbidden":
            return "403"
        return "404" if other else "ok"
    return "ok"


def names_objects(route: Route) -> bool:
    return bool(set(re.findall(r"\{(\w+)\}", route.path)) & {"number", "meter_number"})


CASES = [
    pytest.param(route, role, other, id=f"{route.method} {route.path} {role}{' other' * other}")
    for route in ROUTES
    for role in ROLES
    for other in (
        (False, True) if role == "partial-manager-a" and names_objects(route) else (False,)
    )
]


@pytest.mark.parametrize(("route", "role", "other"), CASES)
async def test_route_answers_each_role_as_its_policy_says(
    world: World, stack: Stack, route: Route, role: str, other: bool
) -> None:
    path, unknown = path_of(route, objects(world, route, other=other))
    if query := QUERIES.get((route.method, route.path)):
        path += f"?{query}"
    if ROLE_OF.get(role) == "manager" or role == "customer-b":
        separator = "&" if "?" in path else "?"
        path += f"{separator}customer={quote(world.a.customer.customer_id)}"
    body = BODIES.get((route.method, route.path))
    token = world.tokens[role]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if route.idempotent:  # a well-formed request: the roles decide the answer
        headers["Idempotency-Key"] = secrets.token_hex(8)
    async with stack.api.session.request(
        route.method,
        stack.api.base_url + path,
        json=body() if body else None,
        headers=headers,
    ) as resp:
        status = resp.status
        problem = resp.content_type == "application/problem+json"
        answer = await resp.json(content_type=None) if problem else resp.content_type
    want = expected(route, role, other=other)
    where = f"{route.method} {path} as {role}: {status} {answer}"
    assert status < 500, where
    if want == "anyone":  # no token asked for (a 401 here is the route's own: a refresh token)
        assert status != 403, where
        assert not (
            isinstance(answer, dict) and answer.get("type", "").endswith("/unauthorized")
        ), where
    elif want == "ok":
        assert status not in (401, 403), where
        if status == 404:
            assert unknown or route.policy.anonymous, where
    else:
        assert str(status) == want, where
        if want == "403":
            assert isinstance(answer, dict) and answer["type"].rsplit("/", 1)[-1] in (
                "insufficient-scope",
                "partial-scope",
                "password-change-required",
            ), where
