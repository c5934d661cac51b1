"""The public REST API, /api/v1: the route table, edge authentication, forwarding, aggregation.

Every route is declared once in ROUTES with its models; the OpenAPI document is generated from
the same table (services/gateway/openapi.py), so the two cannot drift.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import quote

import orjson
from aiohttp import web
from pydantic import BaseModel

from services.gateway.upstream import UpstreamResponse, Upstreams
from shared.api import billing, correspondence, identity, metering, payments
from shared.api.dashboard import DashboardOut, Part
from shared.api.paging import Page
from shared.api.selector import CustomerSelector
from shared.events.correspondence import AttachmentType
from shared.http.problems import PROBLEM_CONTENT_TYPE, Problem, json_response
from shared.policy import (
    ANONYMOUS,
    Policy,
    account,
    insufficient_scope,
    operator,
    owner,
    signed_in,
)
from shared.runtime import authenticate

UPSTREAMS = web.AppKey("upstreams", Upstreams)
DASHBOARD_INVOICES = 5
ATTACHMENT_TYPES: tuple[str, ...] = get_args(AttachmentType)

# How a route takes part in a browser's cookie session (services/gateway/browser_session.py):
# "issues" answers a token pair, "refreshes" also reads the refresh token from the cookie, "ends"
# reads it from the cookie and clears the cookie.
BrowserSession = Literal["issues", "refreshes", "ends"]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    summary: str
    policy: Policy  # who may call it, and what it touches (shared/policy.py); required
    service: str | None = None  # forwarded to this service's same path without /api/v1
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()  # besides those the policy and the body or query imply
    content_type: str = "application/json"
    browser_session: BrowserSession | None = None
    # Takes a required Idempotency-Key header (the same key and body: the same answer).
    idempotent: bool = False
    # Its request body and its answer (a file) are piped through a chunk at a time, never read
    # whole (services/gateway/upstream.py, Upstreams.stream).
    stream: bool = False
    # The request body is a file of one of these media types (instead of a `body` model).
    body_types: tuple[str, ...] = ()
    # The answer is a file of one of these media types (instead of `content_type`).
    response_types: tuple[str, ...] = ()
    handler: Handler | None = field(default=None, compare=False)


def authorize(request: web.Request, policy: Policy) -> None:
    """The caller may call a route of `policy`: a valid token (unless anonymous) of one of its
    roles. Which customer and service points it may touch, the service decides (it holds the
    grants)."""
    if policy.anonymous:
        return
    principal = authenticate(request, password_change=policy.password_change)
    if not policy.allows(principal.role):
        raise insufficient_scope(principal.role, policy)


def check_routes(routes: Sequence[Route]) -> None:
    """Refuse to start with a route that declares no policy (or one route declared twice)."""
    seen = set()
    for route in routes:
        if not isinstance(route.policy, Policy):
            raise TypeError(f"{route.method} {route.path}: no policy (shared/policy.py)")
        if (route.method, route.path) in seen:
            raise ValueError(f"{route.method} {route.path}: declared twice")
        seen.add((route.method, route.path))


# Path segments that URL resolution removes or climbs out of (RFC 3986, 5.2.4); percent-encoding
# leaves dots as they are, so in the upstream URL they would name another path.
DOT_SEGMENTS = ("", ".", "..")


def path_segment(name: str, value: str) -> str:
    """A path parameter as one segment of the upstream path, or a 400 naming it."""
    if value in DOT_SEGMENTS or "\x00" in value:
        message = (
            "must not contain a NUL character"
            if "\x00" in value
            else f"cannot be {value!r}"
            if value
            else "cannot be empty"
        )
        raise Problem(
            400,
            "Invalid path parameter",
            f"The path parameter {name} {message}",
            code="invalid-path-parameter",
            errors=[{"field": name, "message": message, "code": "invalid_path_segment"}],
        )
    return quote(value, safe="")


def forwarding_handler(route: Route) -> Handler:
    assert route.service
    upstream_path = route.path.removeprefix("/api/v1")

    async def handler(request: web.Request) -> web.StreamResponse:
        authorize(request, route.policy)
        path = upstream_path.format(
            **{k: path_segment(k, v) for k, v in request.match_info.items()}
        )
        if route.stream:
            return await request.app[UPSTREAMS].stream(route.service, path, request)
        return await request.app[UPSTREAMS].forward(route.service, path, request)

    return handler


# The dashboard's calls, one per service, at once; and which member of whose answer each part of
# DashboardOut is. The services render their answers from the same models, so the gateway only
# composes them: validating and serialising them again cost a sixth of the dashboard's throughput.
DASHBOARD_CALLS = {
    "billing": f"/summary?invoices={DASHBOARD_INVOICES}",
    "metering": "/meters",
    "correspondence": "/cases-summary",
}
DASHBOARD_POLICY = account("customer", partial="filtered")
# Answers of a service that are the whole dashboard's: the token refused, the customer not the
# caller's, the customer not named by a manager who holds several grants.
REFUSALS = (401, 404, 422)
# Whose 404 or 422 speaks for the whole dashboard. Every service decides the caller's customer
# from the same grants (shared/scopes.py), so billing's and metering's answer is everyone's; a
# 404 from correspondence (issue 13) only leaves its part unavailable, as does a correspondence
# that does not serve the route (yet).
SCOPE_SERVICES = ("billing", "metering")
# Each part: the service, and the member of its answer (None: the whole answer).
DASHBOARD_PARTS: dict[str, tuple[str, str | None]] = {
    "balance": ("billing", "balance"),
    "latest_invoices": ("billing", "latest_invoices"),
    "meters": ("metering", "items"),
    "contracts": ("billing", "contracts"),
    "open_cases": ("correspondence", None),
}
assert DASHBOARD_PARTS.keys() == DashboardOut.model_fields.keys(), "every part has its source"
_AVAILABLE = Part(available=True).model_dump(mode="json")


def compose_dashboard(answers: dict[str, Any]) -> dict[str, Any]:
    """DashboardOut's body from each service's parsed answer, or the reason it has none."""
    parts = {}
    for name, (service, member) in DASHBOARD_PARTS.items():
        answer = answers[service]
        if isinstance(answer, str):
            parts[name] = Part.missing(answer).model_dump(mode="json")
        else:
            parts[name] = {**_AVAILABLE, "data": answer if member is None else answer[member]}
    return parts


async def dashboard(request: web.Request) -> web.Response:
    """Balance, latest invoices, meters with their latest reading, contracts and open cases: one
    call to billing, one to metering and one to correspondence, at once; a service that fails
    leaves only its parts unavailable."""
    authorize(request, DASHBOARD_POLICY)
    upstreams = request.app[UPSTREAMS]
    headers = {"Authorization": request.headers["Authorization"]}
    # Whose dashboard (a manager's selected customer) goes to each service, which checks it.
    selector = {"customer": request.query["customer"]} if "customer" in request.query else {}

    async def fetch(service: str, path: str) -> Any:
        """The service's answer, or why there is none."""
        try:
            result = await upstreams.call(
                service, "GET", path, headers=headers, params=selector or None
            )
        except Problem as problem:
            return problem.detail or problem.title
        if result.status == 401 or (result.status in REFUSALS and service in SCOPE_SERVICES):
            return result
        if result.status != 200:
            return f"{service} answered {result.status}"
        return orjson.loads(result.body)

    answers = await asyncio.gather(*(fetch(s, path) for s, path in DASHBOARD_CALLS.items()))
    for answer in answers:
        # Not this caller's customer, or a manager who must name one: the services' own answer.
        if isinstance(answer, UpstreamResponse) and answer.status in (404, 422):
            return web.Response(
                status=answer.status, body=answer.body, content_type=PROBLEM_CONTENT_TYPE
            )
    for answer in answers:
        # A service refused the token itself (its session has ended): so is the whole dashboard.
        if isinstance(answer, UpstreamResponse) and answer.status == 401:
            raise Problem(
                401,
                "Unauthorized",
                "The session has ended; sign in again",
                code="unauthorized",
                headers={"WWW-Authenticate": 'Bearer realm="e-BOK"'},
            )
    return json_response(compose_dashboard(dict(zip(DASHBOARD_CALLS, answers, strict=True))))


ROUTES: tuple[Route, ...] = (
    # registration and session (identity)
    Route(
        "POST",
        "/api/v1/captcha/challenge",
        "A proof-of-work challenge, to solve before asking for a CAPTCHA",
        ANONYMOUS,
        "identity",
        response=identity.ChallengeOut,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/captcha",
        "Create a CAPTCHA (image, and where its recording is made) for a solved challenge",
        ANONYMOUS,
        "identity",
        body=identity.CaptchaRequest,
        response=identity.CaptchaOut,
        status=201,
        errors=(400, 429),
    ),
    Route(
        "GET",
        "/api/v1/captcha/{captcha_id}/audio",
        "The CAPTCHA's characters as a WAV recording (made when asked for)",
        ANONYMOUS,
        "identity",
        content_type="audio/wav",
        errors=(400, 404, 503),
    ),
    Route(
        "GET",
        "/api/v1/terms",
        "The current e-BOK regulations",
        ANONYMOUS,
        "identity",
        query=identity.TermsQuery,
        response=identity.TermsOut,
    ),
    Route(
        "POST",
        "/api/v1/registrations",
        "Register with an invoice number and its amount",
        ANONYMOUS,
        "identity",
        body=identity.RegistrationRequest,
        response=identity.AcceptedOut,
        status=202,
        errors=(400, 409, 415, 422, 429),
    ),
    Route(
        "POST",
        "/api/v1/registrations/activate",
        "Activate with the emailed link's token",
        ANONYMOUS,
        "identity",
        body=identity.ActivationRequest,
        response=identity.AcceptedOut,
        errors=(400, 409, 410, 422),
    ),
    Route(
        "POST",
        "/api/v1/registrations/activation-links",
        "Ask for a new activation link",
        ANONYMOUS,
        "identity",
        body=identity.ActivationLinkRequest,
        response=identity.AcceptedOut,
        status=202,
        errors=(400, 422, 429),
    ),
    Route(
        "POST",
        "/api/v1/auth/login",
        "Log in",
        ANONYMOUS,
        "identity",
        body=identity.LoginRequest,
        response=identity.TokensOut,
        errors=(401, 403, 422, 429),
        browser_session="issues",
    ),
    Route(
        "POST",
        "/api/v1/auth/refresh",
        "Exchange a refresh token for a new pair",
        ANONYMOUS,
        "identity",
        body=identity.RefreshBody,
        response=identity.TokensOut,
        errors=(401, 422),
        browser_session="refreshes",
    ),
    Route(
        "POST",
        "/api/v1/auth/logout",
        "End the session",
        ANONYMOUS,
        "identity",
        body=identity.RefreshBody,
        status=204,
        errors=(422,),
        browser_session="ends",
    ),
    Route(
        "GET",
        "/api/v1/me",
        "The logged-in account",
        signed_in(),
        "identity",
        response=identity.MeOut,
    ),
    Route(
        "POST",
        "/api/v1/me/password",
        "Change the password",
        signed_in(password_change=True),
        "identity",
        body=identity.PasswordChangeRequest,
        response=identity.TokensOut,
        errors=(422, 429),
        browser_session="issues",
    ),
    # the customer's account (billing, metering)
    Route(
        "GET",
        "/api/v1/me/dashboard",
        "Balance, latest invoices, meters and contracts",
        account("customer", partial="filtered"),
        query=CustomerSelector,
        response=DashboardOut,
        handler=dashboard,
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/v1/contracts",
        "Contracts with their service points and meters",
        account("customer", partial="filtered"),
        "billing",
        query=CustomerSelector,
        response=billing.ContractsOut,
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/v1/invoices",
        "Invoices, newest first, a page at a time (keyset paging by cursor)",
        account("customer", partial="filtered"),
        "billing",
        query=billing.InvoiceQuery,
        response=Page[billing.InvoiceOut],
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/api/v1/invoices/{number}/pdf",
        "The invoice as a PDF document",
        account("invoice", partial="filtered"),
        "billing",
        query=CustomerSelector,
        content_type="application/pdf",
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/v1/invoices/{number}",
        "One invoice with its lines",
        account("invoice", partial="filtered"),
        "billing",
        query=CustomerSelector,
        response=billing.InvoiceDetailOut,
        errors=(400, 404),
    ),
    Route(
        "GET",
        "/api/v1/balance",
        "The account balance",
        account("customer", partial="filtered"),
        "billing",
        query=CustomerSelector,
        response=billing.BalanceOut,
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/v1/payments-received",
        "Payments received, newest first, a page at a time (keyset paging by cursor)",
        account("customer", partial="filtered"),
        "billing",
        query=billing.PaymentQuery,
        response=Page[billing.PaymentOut],
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/api/v1/notes",
        "Accounting notes (interest, debit, credit), newest first, a page at a time",
        account("customer", partial="filtered"),
        "billing",
        query=billing.NoteQuery,
        response=Page[billing.NoteOut],
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/api/v1/meters",
        "Meters with their latest reading",
        account("customer", partial="filtered"),
        "metering",
        query=CustomerSelector,
        response=metering.MetersOut,
        errors=(404,),
    ),
    Route(
        "GET",
        "/api/v1/meters/{meter_number}/readings",
        "Readings since the contract date, newest first, with consumption, a page at a time",
        account("meter", partial="filtered"),
        "metering",
        query=metering.ReadingQuery,
        response=Page[metering.ReadingOut],
        errors=(400, 404, 422),
    ),
    Route(
        "POST",
        "/api/v1/meters/{meter_number}/readings",
        "Submit your own meter reading",
        account("meter", partial="filtered"),
        "metering",
        body=metering.SelfReadingIn,
        query=CustomerSelector,
        response=metering.ReadingOut,
        status=201,
        errors=(404, 409, 422),
    ),
    Route(
        "GET",
        "/api/v1/meters/{meter_number}/consumption",
        "Consumption per hour, day or month of the utility's calendar, for a chart",
        account("meter", partial="filtered"),
        "metering",
        query=metering.ConsumptionQuery,
        response=metering.ConsumptionOut,
        errors=(400, 404, 422),
    ),
    # --- portfolio (billing)
    Route(
        "GET",
        "/api/v1/portfolio",
        "A manager's customers: service points, addresses, balance and overdue amount (of the "
        "granted part for a partial grant), searchable, a page at a time",
        Policy(frozenset({"manager"}), "portfolio", "filtered"),
        "billing",
        query=billing.PortfolioQuery,
        response=Page[billing.PortfolioEntryOut],
        errors=(422,),
    ),
    # --- managers, operators and grants (identity)
    Route(
        "POST",
        "/api/v1/manager-requests",
        "Ask for a property manager account (company, NIP, properties with their proofs)",
        ANONYMOUS,
        "identity",
        body=identity.ManagerRequestIn,
        response=identity.ManagerRequestAcceptedOut,
        status=202,
        errors=(400, 409, 415, 422, 429),
    ),
    Route(
        "GET",
        "/api/v1/operator/manager-requests",
        "Pending manager requests, oldest first, each property matched against the ERP's data",
        operator("manager-request"),
        "identity",
        response=identity.ManagerRequestsOut,
    ),
    Route(
        "POST",
        "/api/v1/operator/manager-requests/{reference}/approval",
        "Approve a manager request with its grants: the manager account and its emails",
        operator("manager-request"),
        "identity",
        body=identity.ApprovalIn,
        response=identity.DecisionOut,
        errors=(400, 404, 409, 415, 422),
    ),
    Route(
        "POST",
        "/api/v1/operator/manager-requests/{reference}/rejection",
        "Reject a manager request, with the reason the company is told",
        operator("manager-request"),
        "identity",
        body=identity.RejectionIn,
        response=identity.DecisionOut,
        errors=(400, 404, 409, 415, 422),
    ),
    Route(
        "GET",
        "/api/v1/operator/managers",
        "Manager accounts by login, searched by login, company or email, a page at a time "
        "(keyset paging by cursor), each with how many grants it holds",
        operator("grants"),
        "identity",
        query=identity.ManagerQuery,
        response=Page[identity.ManagerSummaryOut],
        errors=(422,),
    ),
    Route(
        "GET",
        "/api/v1/operator/managers/{account_id}/grants",
        "A manager's grants, revoked ones included",
        operator("grants"),
        "identity",
        response=identity.GrantsOut,
        errors=(400, 404),
    ),
    Route(
        "PUT",
        "/api/v1/operator/managers/{account_id}/grants/{customer_id}",
        "Give or change a manager's grant over a customer's properties",
        operator("grants"),
        "identity",
        body=identity.GrantChangeIn,
        response=identity.GrantOut,
        errors=(400, 404, 415, 422),
    ),
    Route(
        "DELETE",
        "/api/v1/operator/managers/{account_id}/grants/{customer_id}",
        "Revoke a manager's grant over a customer's properties",
        operator("grants"),
        "identity",
        response=identity.GrantOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/v1/operator/operators",
        "Make another operator's account (login and one-time password sent by email)",
        operator("operators"),
        "identity",
        body=identity.OperatorIn,
        response=identity.OperatorOut,
        status=201,
        errors=(415, 422),
    ),
    Route(
        "GET",
        "/api/v1/me/managers",
        "Who manages my properties, and which",
        owner("grants"),
        "identity",
        response=identity.ManagersOut,
    ),
    Route(
        "POST",
        "/api/v1/me/managers",
        "Invite a manager (by email) for some or all of my service points",
        owner("grants"),
        "identity",
        body=identity.InvitationIn,
        response=identity.GrantOut,
        status=201,
        errors=(415, 422, 429),
    ),
    Route(
        "DELETE",
        "/api/v1/me/managers/{account_id}",
        "Revoke a manager's grant over my properties",
        owner("grants"),
        "identity",
        response=identity.GrantOut,
        errors=(400, 404),
    ),
    # --- e-invoice consent (billing)
    Route(
        "GET",
        "/api/v1/e-invoice",
        "E-invoice consent: state, address, since when, a pending confirmation and the history "
        "of every change",
        account("customer", partial="filtered"),
        "billing",
        query=CustomerSelector,
        response=billing.EInvoiceOut,
        errors=(404,),
    ),
    Route(
        "POST",
        "/api/v1/e-invoice",
        "Turn e-invoice on: the address and the e-invoice regulations accepted; on once the "
        "link sent to the address is used",
        account("customer", partial="forbidden"),
        "billing",
        body=billing.EInvoiceActivateIn,
        query=CustomerSelector,
        response=billing.EInvoiceOut,
        status=202,
        errors=(404, 409, 429),
    ),
    Route(
        "PUT",
        "/api/v1/e-invoice/address",
        "Change the e-invoice address: in force once the link sent to it is used (the old "
        "address is told)",
        account("customer", partial="forbidden"),
        "billing",
        body=billing.EInvoiceAddressIn,
        query=CustomerSelector,
        response=billing.EInvoiceOut,
        status=202,
        errors=(404, 409, 429),
    ),
    Route(
        "DELETE",
        "/api/v1/e-invoice",
        "Withdraw the e-invoice consent (paper from the next invoice)",
        account("customer", partial="forbidden"),
        "billing",
        query=CustomerSelector,
        response=billing.EInvoiceOut,
        errors=(404, 409),
    ),
    Route(
        "POST",
        "/api/v1/e-invoice/confirmations",
        "Confirm an e-invoice address with the token of the link sent to it",
        ANONYMOUS,
        "billing",
        body=billing.EInvoiceConfirmationIn,
        response=billing.EInvoiceConfirmedOut,
        errors=(400, 410),
    ),
    Route(
        "GET",
        "/api/v1/e-invoice/regulations",
        "The e-invoice regulations in force, in a language",
        ANONYMOUS,
        "billing",
        query=billing.EInvoiceRegulationsQuery,
        response=billing.EInvoiceRegulationsOut,
        errors=(422,),
    ),
    # --- notification preferences (identity)
    Route(
        "GET",
        "/api/v1/me/notification-preferences",
        "Which optional emails the account gets",
        signed_in(),
        "identity",
        response=identity.NotificationPreferencesOut,
    ),
    Route(
        "PUT",
        "/api/v1/me/notification-preferences",
        "Turn optional emails on or off (legal and security emails cannot be turned off)",
        signed_in(),
        "identity",
        body=identity.NotificationPreferencesIn,
        response=identity.NotificationPreferencesOut,
        errors=(415, 422),
    ),
    # --- correspondence
    Route(
        "POST",
        "/api/v1/attachments",
        "Upload a file for a case or a message (the body is the file: PDF, JPEG or PNG, at most "
        "10 MB; its type is read from its content); name it in a case or message within a day",
        account("case", partial="filtered"),
        "correspondence",
        query=correspondence.AttachmentQuery,
        response=correspondence.AttachmentOut,
        status=201,
        errors=(404, 408, 413, 415, 422),
        stream=True,
        body_types=ATTACHMENT_TYPES,
    ),
    Route(
        "GET",
        "/api/v1/attachments/{attachment_id}",
        "An attachment of a case (to whoever may see the case, or its uploader)",
        account("case", partial="filtered"),
        "correspondence",
        query=CustomerSelector,
        errors=(400, 404),
        stream=True,
        response_types=ATTACHMENT_TYPES,
    ),
    Route(
        "POST",
        "/api/v1/cases",
        "Write to us: a failure report, a water-quality or billing complaint, a data-change "
        "request or a question (Idempotency-Key required: a repeated request makes one case)",
        account("case", partial="filtered"),
        "correspondence",
        body=correspondence.CaseIn,
        query=CustomerSelector,
        response=correspondence.CaseOut,
        status=201,
        errors=(404, 409, 422),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/cases",
        "Cases sent, newest first, filtered by kind, status and date, a page at a time",
        account("case", partial="filtered"),
        "correspondence",
        query=correspondence.CaseQuery,
        response=Page[correspondence.CaseSummaryOut],
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/api/v1/cases/{number}",
        "One case with its timeline, messages and attachments",
        account("case", partial="filtered"),
        "correspondence",
        query=CustomerSelector,
        response=correspondence.CaseOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/v1/cases/{number}/messages",
        "Add a message to a case",
        account("case", partial="filtered"),
        "correspondence",
        body=correspondence.MessageIn,
        query=CustomerSelector,
        response=correspondence.MessageOut,
        status=201,
        errors=(400, 404, 409, 422),
    ),
    # --- payments
    Route(
        "POST",
        "/api/v1/payments",
        "Pay invoices online: the payment and the provider's page to send the payer to "
        "(Idempotency-Key required: the same key and body give the same payment)",
        account("payment", partial="filtered"),
        "payments",
        body=payments.OnlinePaymentIn,
        query=CustomerSelector,
        response=payments.OnlinePaymentOut,
        status=201,
        errors=(404, 409, 502),
        idempotent=True,
    ),
    Route(
        "GET",
        "/api/v1/payments",
        "Online payments and their status, newest first, a page at a time (keyset paging)",
        account("payment", partial="filtered"),
        "payments",
        query=payments.OnlinePaymentQuery,
        response=Page[payments.OnlinePaymentOut],
        errors=(404, 422),
    ),
    Route(
        "GET",
        "/api/v1/payments/{payment_id}",
        "One online payment and its status",
        account("payment", partial="filtered"),
        "payments",
        query=CustomerSelector,
        response=payments.OnlinePaymentOut,
        errors=(400, 404),
    ),
    Route(
        "POST",
        "/api/v1/payments/{payment_id}/cancel",
        "Cancel a payment still created or pending (the payer gave up): cancelled; money the "
        "provider takes for it all the same still pays it",
        account("payment", partial="filtered"),
        "payments",
        query=CustomerSelector,
        response=payments.OnlinePaymentOut,
        errors=(400, 404, 409),
    ),
    Route(
        "POST",
        "/api/v1/payments/notifications/p24",
        "Przelewy24's status notification (signed by the provider; verified before anything is "
        "paid)",
        ANONYMOUS,
        "payments",
        response=payments.NotificationAcceptedOut,
        errors=(400, 403, 429, 502),
    ),
)
