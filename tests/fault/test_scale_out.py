"""Two instances of every service, each a process of its own in one namespace, behind two
gateways that balance over them (EBOK_<NAME>_URL lists both instances); in front, the test's
client takes the gateways in turn as a load balancer would (another gateway when one refuses the
connection). Under a fault workload — the ERP feed (households with invoices, payments and notes;
e-invoice consents and their invoices), the reading system's batches, and customers registering
through the gateways (three emails each), then changing the one-time password, writing a case,
reading their dashboard and payments, logging out (the session refused everywhere), and getting
a new invoice and a booked payment told by email — one instance of every service (the one that
consumed most, so that the other takes over the in-order queues) and one gateway are SIGKILLed
mid-stream; the survivors work alone for a while; the killed ones start again.

Then: nothing lost, nothing applied twice (every invoice's paid amount, every reading, one
account per customer, every case numbered once and told to the back office once), every email
exactly once, no dead-lettered message, every queue and outbox drained; before the kill, both
instances of each service had served HTTP and consumed messages, as both gateways had served
(their own /metrics); after the restart, the restarted instances serve HTTP again.

`pytest -s` prints the figures: when the kill and restart came, calls refused by the dead
gateway, outcomes lost (a call cut by a kill) and how the client recovered them, and each
instance's HTTP requests and handled messages."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import aio_pika
import aiohttp
import pytest
import pytest_asyncio

from deploy.integration_client import IntegrationClient
from deploy.mailbox import MailStore, ReceivedMail
from services.identity import proof_of_work
from shared.events import erp, reading
from shared.messaging.topology import Names
from shared.runtime import subscriptions_of
from shared.services import GATEWAY_UPSTREAMS, SERVICES
from tests.support.erp import (
    Household,
    customer_feed,
    daily_readings,
    publish_e_invoice_customer,
    publish_household,
)
from tests.support.flows import (
    NEW_PASSWORD,
    activation_token,
    credentials,
    mails_of,
    registration_body,
)
from tests.support.infra import Infra
from tests.support.platform import ApiClient, Platform, make_settings, wait_until
from tests.support.processes import ServiceProcess, metric_sum
from tests.support.stack import Stack, free_port

pytestmark = pytest.mark.fault

SCALED = tuple(s.name for s in SERVICES if not s.public)
INSTANCES = 2
HOUSEHOLDS = 60  # 9 ERP messages each, and a reading batch per meter (two meters)
E_INVOICE_CUSTOMERS = 10
REGISTRATIONS = 12
JOURNEYS_AT_ONCE = 4
READING_DAYS = 30
# The feed's pace (a household every this many seconds): a stream that lasts through the kill.
FEED_PACE_SECONDS = 0.4
# The kill comes once this many customers went through their journey; the killed instances
# come back once the survivors alone took this many more households and one more journey.
KILL_AFTER_JOURNEYS, ALONE_FOR_HOUSEHOLDS = 2, 8
# Statuses of a call whose outcome the client cannot know: the connection was cut, or the
# gateway could not get an answer (the service may have applied the call before it died).
UNKNOWN = (0, 502, 503)
MAIL_TIMEOUT = 60.0
# How long a registration whose answer was lost may still take to be recorded (identity's
# handler runs on when the gateway in front of it dies).
REGISTRATION_LANDS_SECONDS = 10.0


class Gateways(ApiClient):
    """The front end's view through a load balancer over the two gateways: each call goes to
    the next gateway; a refused connection (never sent) goes to the other. A call that can be
    repeated safely (a GET, one with an Idempotency-Key, or `repeat`) is asked again while its
    outcome is unknown; any other returns the unknown status for the caller to sort out."""

    ATTEMPTS = 40
    RETRY_PAUSE = 0.25

    def __init__(self, session: aiohttp.ClientSession, urls: list[str]) -> None:
        super().__init__(session, urls[0])
        self.urls = urls
        self._next = 0
        self.refused = 0  # connections a gateway refused: the other took the call
        self.unknown = 0  # outcomes cut by a kill

    async def request(  # type: ignore[override]
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        repeat: bool = False,
        **kwargs: object,
    ) -> tuple[int, object]:
        sent = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
        repeatable = repeat or method == "GET" or "Idempotency-Key" in sent
        status, body = 0, None
        for _ in range(self.ATTEMPTS):
            base = self.urls[self._next % len(self.urls)]
            self._next += 1
            try:
                async with self.session.request(
                    method, base + path, json=json, headers=sent, **kwargs
                ) as resp:  # type: ignore[arg-type]
                    status = resp.status
                    body = await resp.json(content_type=None) if resp.content_length != 0 else None
            except aiohttp.ClientConnectorError:
                self.refused += 1
                continue
            except (aiohttp.ClientError, TimeoutError):
                status, body = 0, None
            if status not in UNKNOWN:
                return status, body
            self.unknown += 1
            if not repeatable:
                return status, body
            await asyncio.sleep(self.RETRY_PAUSE)  # a pause between attempts, as a client's
        return status, body


@dataclass
class Cluster:
    stack: Stack
    api: Gateways
    instances: dict[str, list[ServiceProcess]]
    sent_households: int = 0
    done_journeys: int = 0
    before_kill: dict[str, str] = field(default_factory=dict)  # label: /metrics

    @property
    def platform(self) -> Platform:
        return self.stack.platform

    def everyone(self) -> list[ServiceProcess]:
        return [p for group in self.instances.values() for p in group]

    def logs(self) -> str:
        return "\n".join(p.tail(2000) for p in self.everyone())

    async def db_value(self, service: str, sql: str, *args: object) -> object:
        conn = await self.platform.db(service)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()


async def _start(processes: list[ServiceProcess]) -> None:
    for process in processes:
        process.start()
    await asyncio.gather(*(p.ready(timeout=120) for p in processes))


async def _stop(processes: list[ServiceProcess]) -> None:
    await asyncio.gather(*(process.stop() for process in processes))


@pytest_asyncio.fixture(loop_scope="session")
async def cluster(infra: Infra, keys: Path, tmp_path: Path) -> AsyncIterator[Cluster]:
    smtp_port = free_port()
    settings = make_settings(
        infra.database_url,
        infra.amqp_url,
        keys,
        smtp_port=smtp_port,
        log_level="WARNING",
        # 14 processes: PostgreSQL's 100 connections are shared with other test runs.
        db_pool_max=2,
        outbox_poll_seconds=0.2,
        e_invoice_poll_seconds=0.2,
        email_max_attempts=1000,
    )
    platform = Platform(settings)
    instances: dict[str, list[ServiceProcess]] = {
        name: [
            ServiceProcess.instance(name, settings, tmp_path, f"{name}-{n}")
            for n in range(1, INSTANCES + 1)
        ]
        for name in SCALED
    }
    upstreams = {f"{name}_url": ",".join(p.url for p in instances[name]) for name in SCALED}
    instances["gateway"] = [
        ServiceProcess.instance("gateway", settings, tmp_path, f"gateway-{n}", **upstreams)
        for n in range(1, INSTANCES + 1)
    ]
    assert set(GATEWAY_UPSTREAMS) <= set(SCALED)
    everyone = [p for group in instances.values() for p in group]
    try:
        async with (
            IntegrationClient(settings.amqp_url, settings.namespace) as feed,
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        ):
            api = Gateways(session, [p.url for p in instances["gateway"]])
            stack = Stack(platform, MailStore(), feed, api, smtp_port)
            await stack.start_smtp()
            try:
                began = asyncio.get_running_loop().time()
                await _start([p for name in SCALED for p in instances[name]])
                await _start(instances["gateway"])
                print(f"\n14 processes ready in {asyncio.get_running_loop().time() - began:.1f}s")
                yield Cluster(stack, api, instances)
            finally:
                await _stop(everyone)
                await stack.stop_smtp()
    finally:
        await _stop(everyone)
        await platform.remove_namespace()


# --- the workload


async def feed(cluster: Cluster, today: date) -> list[Household]:
    """The ERP's and the reading system's stream, at a pace: households and their meters'
    readings."""
    erp_feed = cluster.stack.erp
    households = []
    for n in range(HOUSEHOLDS):
        household = await publish_household(erp_feed, today)
        for number, meter in enumerate(household.meters):
            readings = daily_readings(
                meter,
                today - timedelta(days=READING_DAYS),
                READING_DAYS,
                Decimal(number),
                Decimal("0.5"),
            )
            await erp_feed.publish(
                reading.ReadingBatchRecorded.TYPE, reading.ReadingBatchRecorded(readings=readings)
            )
        households.append(household)
        cluster.sent_households = n + 1
        await asyncio.sleep(FEED_PACE_SECONDS)  # the feed's pace, not a wait for anything
    return households


async def e_invoicing(cluster: Cluster) -> list[str]:
    """Customers whose e-invoice consent the ERP sets, then their invoice (once billing has the
    consent: the two come on different queues, in no order between them): the e-invoice
    addresses."""
    erp_feed = cluster.stack.erp
    addresses = []
    for _ in range(E_INVOICE_CUSTOMERS):
        customer, address, issued = await publish_e_invoice_customer(erp_feed)
        await wait_until(
            lambda c=customer.customer_id: cluster.db_value(
                "billing",
                "SELECT 1 FROM e_invoice_consents WHERE customer_id = $1 AND state = 'on'",
                c,
            ),
            what="billing to take the consent",
            timeout=60,
        )
        await erp_feed.publish(erp.InvoiceIssued.TYPE, issued)
        addresses.append(address)
    return addresses


async def mail(cluster: Cluster, address: str, template: str) -> object:
    stack = cluster.stack
    try:
        await stack.mailbox.wait_for(
            lambda _: bool(mails_of(stack, address, template)), timeout=MAIL_TIMEOUT
        )
    except TimeoutError:
        rows = await cluster.db_value(
            "notifications",
            "SELECT array_agg((template, status, attempts)::text) FROM emails WHERE recipient = $1",
            address,
        )
        raise AssertionError(
            f"no {template} email to {address}; notifications' rows: {rows}\n{cluster.logs()}"
        ) from None
    return mails_of(stack, address, template)[0]


async def captcha(cluster: Cluster) -> str:
    """A CAPTCHA, with a new proof of work whenever a call's outcome was lost."""
    api = cluster.api
    for _ in range(10):
        status, challenge = await api.request("POST", "/api/v1/captcha/challenge", repeat=True)
        assert status == 201, challenge
        number = proof_of_work.solve(proof_of_work.Challenge(**challenge))  # type: ignore[arg-type]
        proof = {**{k: v for k, v in challenge.items() if k != "maxnumber"}, "number": number}  # type: ignore[union-attr]
        status, made = await api.request("POST", "/api/v1/captcha", json={"proof": proof})
        if status == 201:
            return made["captcha_id"]  # type: ignore[index]
        assert status in UNKNOWN, made
    raise AssertionError("no CAPTCHA in ten tries")


async def journey(cluster: Cluster, today: date) -> dict:
    """A customer the ERP sends registers through the gateways, activates, signs in, writes a
    case, reads the dashboard and payments, logs out; the ERP then issues an invoice and books
    a payment (each told by email)."""
    stack, api = cluster.stack, cluster.api
    customer, messages = customer_feed()
    for event_type, payload in messages:
        await stack.erp.publish(event_type, payload)  # type: ignore[arg-type]
    await wait_until(
        lambda: cluster.db_value(
            "identity", "SELECT 1 FROM invoices WHERE invoice_number = $1", customer.invoice_number
        ),
        what="identity to learn the invoice",
        timeout=60,
    )
    # Registering: a lost outcome is asked about (did identity take it?) before trying again,
    # as a second registration would rightly send a second email.
    for _ in range(5):
        status, body = await api.request(
            "POST",
            "/api/v1/registrations",
            json=registration_body(customer, await captcha(cluster)),
        )
        if status == 202:
            break
        assert status in UNKNOWN, body
        # The call may still be running in identity (a gateway killed under it does not stop
        # it): a registration it takes shows within seconds.
        try:
            await wait_until(
                lambda: cluster.db_value(
                    "identity",
                    "SELECT count(*) FROM registrations WHERE customer_id = $1",
                    customer.customer_id,
                ),
                what="a registration whose answer was lost",
                timeout=REGISTRATION_LANDS_SECONDS,
            )
            break
        except AssertionError:
            continue  # not taken: registering again is what the customer would do
    token = activation_token(await mail(cluster, customer.email, "registration"))  # type: ignore[arg-type]
    for attempt in range(10):
        status, body = await api.request(
            "POST", "/api/v1/registrations/activate", json={"token": token}
        )
        # "Link used" (410) after a lost outcome: that first call activated the account.
        if status == 200 or (status == 410 and attempt > 0):
            break
        assert status in UNKNOWN, body
        await asyncio.sleep(Gateways.RETRY_PAUSE)
    login, password = credentials(await mail(cluster, customer.email, "registration-confirmation"))  # type: ignore[arg-type]
    await mail(cluster, customer.email, "account-activation")

    async def signed_in() -> dict | None:
        status, tokens = await api.request(
            "POST", "/api/v1/auth/login", json={"login": login, "password": password}, repeat=True
        )
        return tokens if status == 200 else None  # type: ignore[return-value]

    first = await wait_until(signed_in, what="the login to work", timeout=60)
    assert isinstance(first, dict)
    # The one-time password replaced (a lost outcome: the new one works if it was taken).
    change = {"current_password": password, "new_password": NEW_PASSWORD}
    for attempt in range(10):
        status, body = await api.request(
            "POST", "/api/v1/me/password", json=change, token=first["access_token"]
        )
        if status == 200:
            break
        if status not in UNKNOWN and attempt > 0:
            password = NEW_PASSWORD
            assert await signed_in(), body
            break
        assert status in UNKNOWN, body
        await asyncio.sleep(Gateways.RETRY_PAUSE)
    password = NEW_PASSWORD
    tokens = await wait_until(signed_in, what="the login with the new password", timeout=60)
    assert isinstance(tokens, dict)
    access = tokens["access_token"]
    key = f"case-{uuid.uuid4()}"
    case_body = {"kind": "question", "subject": "Odczyt", "description": "Kiedy będzie odczyt?"}
    status, case = await api.request(
        "POST", "/api/v1/cases", json=case_body, token=access, headers={"Idempotency-Key": key}
    )
    assert status == 201, case
    for path in ("/api/v1/me/dashboard", "/api/v1/payments", "/api/v1/invoices"):
        status, body = await api.request("GET", path, token=access)
        assert status == 200, (path, body)
    # Logged out: the session ends on every instance of every service (each service's
    # sessions queue is shared by its instances; each instance learns from the database).
    status, body = await api.request(
        "POST",
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        repeat=True,
    )
    assert status in (204, 401), body

    async def refused_everywhere() -> bool:
        answers = [
            (await api.request("GET", path, token=access))[0]
            for path in ("/api/v1/me/dashboard", "/api/v1/payments", "/api/v1/cases")
            for _ in range(INSTANCES)
        ]
        return set(answers) == {401}

    await wait_until(refused_everywhere, what="the ended session to be refused", timeout=30)
    # Billing must know the account before it is told of invoices and bookings for it.
    await wait_until(
        lambda: cluster.db_value(
            "billing",
            "SELECT 1 FROM account_languages WHERE customer_id = $1",
            customer.customer_id,
        ),
        what="billing to learn of the account",
        timeout=60,
    )
    issued = messages[2][1]
    assert isinstance(issued, erp.InvoiceIssued)
    second = issued.model_copy(
        update={
            "invoice_number": f"{customer.invoice_number}/2",
            "issued_on": today,
            "due_on": today + timedelta(days=20),
        }
    )
    await stack.erp.publish(erp.InvoiceIssued.TYPE, second)
    await stack.erp.publish(
        erp.PaymentBooked.TYPE,
        erp.PaymentBooked(
            booking_id=f"B-{customer.customer_id}",
            customer_id=customer.customer_id,
            booked_on=today,
            amount=customer.gross,
            invoice_number=customer.invoice_number,
            channel="transfer",
        ),
    )
    cluster.done_journeys += 1
    return {"customer": customer, "case": case, "login": login}


async def journeys(cluster: Cluster, today: date) -> list[dict]:
    turn = asyncio.Semaphore(JOURNEYS_AT_ONCE)

    async def one() -> dict:
        async with turn:
            return await journey(cluster, today)

    return list(await asyncio.gather(*(one() for _ in range(REGISTRATIONS))))


# --- what is checked


HTTP_OF_HEALTH = ("/health/", "/metrics")


def served_http(metrics: str) -> float:
    """Requests answered on other routes than health and metrics."""
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith("ebok_http_request_seconds_count{"):
            continue
        if any(f'route="{prefix}' in line for prefix in HTTP_OF_HEALTH):
            continue
        total += float(line.rpartition(" ")[2])
    return total


def handled(metrics: str) -> float:
    return metric_sum(metrics, "ebok_messages_total", outcome="handled")


def handled_in_order(metrics: str, namespace: str, service: str) -> float:
    """Messages handled from the service's queues with a single active consumer."""
    names = Names(namespace)
    return sum(
        metric_sum(
            metrics,
            "ebok_messages_total",
            queue=names.queue(service, s.purpose),
            outcome="handled",
        )
        for s in subscriptions_of(service)
        if s.in_order
    )


async def queue_depths(cluster: Cluster) -> dict[str, int]:
    """Messages waiting on every consumer queue and its dead-letter queue."""
    consumer_queues, _ = cluster.platform.queues()
    depths: dict[str, int] = {}
    connection = await aio_pika.connect(cluster.platform.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in sorted(consumer_queues):
            for name in (queue, Names.dead_letter_queue(queue)):
                declared = await channel.declare_queue(name, passive=True)
                depths[name] = declared.declaration_result.message_count or 0
    return depths


async def unpublished_outboxes(cluster: Cluster) -> dict[str, int]:
    return {
        name: int(
            await cluster.db_value(name, "SELECT count(*) FROM outbox WHERE published_at IS NULL")  # type: ignore[arg-type]
        )
        for name in SCALED
    }


async def test_two_instances_of_everything_lose_nothing_and_repeat_nothing(
    cluster: Cluster,
) -> None:
    today = cluster.platform.settings.today()
    started = asyncio.get_running_loop().time()
    feeding = asyncio.create_task(feed(cluster, today))
    e_invoiced = asyncio.create_task(e_invoicing(cluster))
    travelling = asyncio.create_task(journeys(cluster, today))

    async def going(check: Callable[[], bool]) -> bool:
        for task in (feeding, e_invoiced, travelling):
            if task.done():
                task.result()  # a failure of the workload, at once
        return check()

    # Mid-stream: the feed under way and some customers through their journey.
    await wait_until(
        lambda: going(lambda: cluster.done_journeys >= KILL_AFTER_JOURNEYS),
        what="the workload to be under way",
        timeout=90,
        interval=0.05,
    )
    for process in cluster.everyone():
        cluster.before_kill[process.label] = await process.metrics()
    # Of each service, the active consumer of its queues with a single active consumer (else
    # the instance that consumed most), so that the other must take them over.
    namespace = cluster.platform.settings.namespace

    def in_order(process: ServiceProcess) -> float:
        return handled_in_order(cluster.before_kill[process.label], namespace, process.service)

    killed = [
        max(group, key=lambda p: (in_order(p), handled(cluster.before_kill[p.label])))
        for group in cluster.instances.values()
    ]
    for process in killed:
        process.kill()
    at_kill = (cluster.sent_households, cluster.done_journeys)
    await wait_until(
        lambda: going(
            lambda: (
                cluster.sent_households >= at_kill[0] + ALONE_FOR_HOUSEHOLDS
                and cluster.done_journeys > at_kill[1]
            )
        ),
        what="the stream to go on with one instance of each",
        timeout=60,
    )
    await asyncio.gather(*(p.restart(timeout=120) for p in killed))
    at_restart = (cluster.sent_households, cluster.done_journeys)
    households = await feeding
    addresses = await e_invoiced
    done = await travelling
    assert at_kill[0] < HOUSEHOLDS and at_kill[1] < REGISTRATIONS, "killed after the stream"

    # Everything arrives: the households and readings, the e-invoices, every journey's emails.
    customers = [h.customer.customer_id for h in households]
    meters = [m for h in households for m in h.meters]

    async def settled() -> bool:
        billing = await cluster.db_value(
            "billing",
            """SELECT (SELECT count(*) FROM payments WHERE customer_id = ANY($1::text[]))
                    + (SELECT count(*) FROM notes WHERE customer_id = ANY($1::text[]))""",
            customers,
        )
        readings = await cluster.db_value(
            "metering", "SELECT count(*) FROM readings WHERE meter_number = ANY($1::text[])", meters
        )
        return billing == 4 * HOUSEHOLDS and readings == READING_DAYS * len(meters)

    await wait_until(settled, what="billing and metering to take the feed", timeout=60)
    for address in addresses:
        await mail(cluster, address, "e-invoice")
    for trip in done:
        address = trip["customer"].email
        await mail(cluster, address, "invoice-issued")
        await mail(cluster, address, "payment-booked")

    async def drained() -> bool:
        depths = await queue_depths(cluster)
        outboxes = await unpublished_outboxes(cluster)
        return not any(depths.values()) and not any(outboxes.values())

    try:
        await wait_until(drained, what="every queue and outbox to drain", timeout=60)
    except AssertionError:
        raise AssertionError(
            f"{await queue_depths(cluster)}\n{await unpublished_outboxes(cluster)}"
        ) from None

    # Nothing applied twice: every household's invoices paid exactly what was booked for them
    # (100 on #1, 50 + a 20 credit on #2, nothing on #3), each meter's readings once.
    paid = await cluster.db_value(
        "billing",
        """SELECT array_agg(DISTINCT (n, p)::text) FROM (
               SELECT count(*) AS n, sum(paid) AS p FROM invoices
                WHERE customer_id = ANY($1::text[]) GROUP BY customer_id) AS per_customer""",
        customers,
    )
    assert paid == ["(3,170.00)"], paid
    per_meter = await cluster.db_value(
        "metering",
        """SELECT array_agg(DISTINCT n) FROM (SELECT count(*) AS n FROM readings
             WHERE meter_number = ANY($1::text[]) GROUP BY meter_number) AS counts""",
        meters,
    )
    assert per_meter == [READING_DAYS], per_meter
    # Each journey: one account, one case numbered once, told to the back office once.
    registered = [t["customer"].customer_id for t in done]
    accounts = await cluster.db_value(
        "identity",
        """SELECT array_agg(DISTINCT n) FROM (SELECT count(*) AS n FROM accounts
             WHERE customer_id = ANY($1::text[]) GROUP BY customer_id) AS counts""",
        registered,
    )
    assert accounts == [1], accounts
    numbers = [t["case"]["number"] for t in done]
    assert len(set(numbers)) == REGISTRATIONS, numbers
    cases = await cluster.db_value(
        "correspondence", "SELECT count(*) FROM cases WHERE number = ANY($1::text[])", numbers
    )
    assert cases == REGISTRATIONS
    assert await backoffice_told(cluster) == Counter({n: 1 for n in numbers})

    # Every email exactly once: one email (one Message-ID) for each recipient and template, and
    # one row for it in notifications. The SMTP handover alone may repeat a message, with the
    # same Message-ID: one at most for a notifications instance killed between the server's
    # acceptance and its commit (services/notifications/delivery.py); a second copy under
    # another Message-ID is a second email, never allowed.
    stack = cluster.stack
    expected = {
        (t["customer"].email, template)
        for t in done
        for template in (
            "registration",
            "registration-confirmation",
            "account-activation",
            "invoice-issued",
            "payment-booked",
        )
    } | {(address, "e-invoice") for address in addresses}
    message_ids: dict[tuple[str, str | None], list[str]] = {}
    for m in stack.mailbox.messages:
        for key in received_keys(m):
            message_ids.setdefault(key, []).append(str(m.message["Message-ID"]))
    missing = expected - message_ids.keys()
    twice = {key: ids for key, ids in message_ids.items() if len(set(ids)) != 1}
    handed_twice = {key: ids for key, ids in message_ids.items() if len(ids) > len(set(ids))}
    rows = await cluster.db_value(
        "notifications",
        """SELECT array_agg((recipient, template, status)::text) FROM emails
            WHERE recipient = ANY($1::text[])""",
        [recipient for recipient, _ in (*twice, *handed_twice)],
    )
    assert not missing and not twice, f"missing: {missing}\ntwice: {twice}\nrows: {rows}"
    assert len(handed_twice) <= 1, f"handed over again: {handed_twice}\nrows: {rows}"
    emails = await cluster.db_value(
        "notifications",
        """SELECT array_agg(DISTINCT n) FROM (SELECT count(*) AS n FROM emails
             WHERE status = 'sent' GROUP BY recipient, template) AS counts""",
    )
    assert emails == [1], emails
    unsent = await cluster.db_value(
        "notifications", "SELECT count(*) FROM emails WHERE status <> 'sent'"
    )
    assert unsent == 0, unsent

    # Both instances of every service worked before the kill: HTTP (the upstreams and both
    # gateways) and messages (every service that consumes).
    for name, group in cluster.instances.items():
        for process in group:
            metrics = cluster.before_kill[process.label]
            if name == "gateway" or name in GATEWAY_UPSTREAMS:
                assert served_http(metrics) > 0, f"{process.label} served no HTTP"
            if name != "gateway":
                assert handled(metrics) > 0, f"{process.label} consumed nothing"
    # The restarted instances take their share again: the gateways' readiness check takes
    # back every instance that is live (else each would after its few seconds set aside); then
    # a customer's calls alternate between the instances of each upstream.
    for gateway in cluster.instances["gateway"]:
        await gateway.ready()
    status, tokens = await cluster.api.request(
        "POST",
        "/api/v1/auth/login",
        json={"login": done[0]["login"], "password": NEW_PASSWORD},
        repeat=True,
    )
    assert status == 200, tokens
    for _ in range(2 * INSTANCES):
        for path in ("/api/v1/me/dashboard", "/api/v1/payments"):
            status, body = await cluster.api.request("GET", path, token=tokens["access_token"])  # type: ignore[index]
            assert status == 200, body
    after = {p.label: await p.metrics() for p in cluster.everyone()}
    # The queues with a single active consumer were taken over: the survivor handled them after
    # the kill (the restarted instance stands by). The ERP's stream into billing went on.
    took_over = {}
    for process in killed:
        if process.service == "gateway" or in_order(process) == 0:
            continue
        (survivor,) = [p for p in cluster.instances[process.service] if p is not process]
        gained = handled_in_order(after[survivor.label], namespace, survivor.service) - in_order(
            survivor
        )
        took_over[process.service] = gained
        restarted = handled_in_order(after[process.label], namespace, process.service)
        if gained + restarted > 0:
            assert gained > 0, f"{survivor.label} did not take over ({process.label} handled)"
    assert took_over.get("billing", 0) > 0, took_over
    for process in killed:
        if process.service == "gateway" or process.service in GATEWAY_UPSTREAMS:
            assert served_http(after[process.label]) > 0, f"{process.label} restarted idle"
    print(  # the figures, for the report (pytest -s)
        f"\nscale-out: {asyncio.get_running_loop().time() - started:.1f}s of workload; "
        f"killed at {at_kill[0]} households, {at_kill[1]} journeys; restarted at "
        f"{at_restart[0]} households, {at_restart[1]} journeys "
        f"({', '.join(p.label for p in killed)} killed); "
        f"{cluster.api.refused} calls refused by the dead gateway, "
        f"{cluster.api.unknown} outcomes lost and recovered; "
        f"{len(handed_twice)} email handed over twice (same Message-ID); in-order messages "
        f"the survivors took over: {took_over}\nbefore the kill: "
        + ", ".join(
            f"{p.label}: http {served_http(cluster.before_kill[p.label]):.0f} "
            f"msgs {handled(cluster.before_kill[p.label]):.0f}"
            for p in cluster.everyone()
        )
        + "\nafter the restart: "
        + ", ".join(
            f"{label}: http {served_http(text):.0f} msgs {handled(text):.0f}"
            for label, text in after.items()
        )
    )


def received_keys(mail: ReceivedMail) -> set[tuple[str, str | None]]:
    return {(recipient, mail.template) for recipient in mail.rcpt_to}


async def backoffice_told(cluster: Cluster) -> Counter:
    """How many times each case number was published on the back office's cases queue."""
    told: Counter = Counter()
    connection = await aio_pika.connect(cluster.platform.settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        queue = await channel.get_queue(
            Names(cluster.platform.settings.namespace).queue("backoffice", "cases"), ensure=False
        )
        while (message := await queue.get(fail=False, no_ack=True)) is not None:
            told[json.loads(message.body)["payload"]["number"]] += 1
    return told
