"""Bodies of the account and registration routes served by identity."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictBool,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from shared.api.common import Out
from shared.api.paging import CursorQuery, Keyset
from shared.events.common import Address, Language


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationRequest(Body):
    invoice_number: str = Field(min_length=1, max_length=64)
    invoice_amount: Decimal = Field(gt=0, max_digits=14, decimal_places=2)
    email: EmailStr
    phone: str | None = Field(None, pattern=r"^\+?[0-9 ()-]{7,20}$")
    accept_terms: bool
    terms_version: str = Field(min_length=1, max_length=40)
    captcha_id: uuid.UUID
    captcha_answer: str = Field(min_length=1, max_length=20)
    language: Language = "pl"

    @field_validator("accept_terms")
    @classmethod
    def _must_accept(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the e-BOK regulations must be accepted to register")
        return value


class ActivationRequest(Body):
    token: str = Field(min_length=16, max_length=200)


class ActivationLinkRequest(Body):
    invoice_number: str = Field(min_length=1, max_length=64)
    email: EmailStr
    captcha_id: uuid.UUID
    captcha_answer: str = Field(min_length=1, max_length=20)


class LoginRequest(Body):
    login: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


RefreshToken = Annotated[str, Field(min_length=16, max_length=200)]


class RefreshRequest(Body):
    """What identity takes: the token is always named."""

    refresh_token: RefreshToken


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


# RefreshBody documents the public body; the gateway sends a named token on to identity as it
# came, so RefreshRequest is the one model that validates it. Its member, like TokensOut's
# refresh_token, is a string or absent: SkipJsonSchema keeps null out of the document and
# _no_default its `"default": null`, so a generated client types it `refresh_token?: string`.


class RefreshBody(Body):
    """The public body of /auth/refresh and /auth/logout. A browser client (header
    `X-Ebok-Session: cookie`) sends none, or `{}`, and the gateway takes the token from the
    `ebok_refresh` cookie."""

    refresh_token: RefreshToken | SkipJsonSchema[None] = Field(
        None,
        description="Required unless the header X-Ebok-Session: cookie is sent",
        json_schema_extra=_no_default,
    )


class PasswordChangeRequest(Body):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class ChallengeOut(Out):
    """A proof-of-work challenge (ALTCHA-style): find `number` ≤ `maxnumber` such that
    SHA-256(`salt` + decimal `number`) is `challenge` (hex), then ask for a CAPTCHA with it."""

    algorithm: Literal["SHA-256"]
    challenge: str
    salt: str
    maxnumber: int
    signature: str


class ProofIn(Body):
    algorithm: str = Field(max_length=20)
    challenge: str = Field(pattern=r"^[0-9a-f]{64}$")
    salt: str = Field(min_length=1, max_length=100)
    number: int = Field(ge=0)
    signature: str = Field(pattern=r"^[0-9a-f]{64}$")


class CaptchaRequest(Body):
    proof: ProofIn


class CaptchaOut(Out):
    captcha_id: uuid.UUID
    image: str = Field(description="PNG picture as a data URL")
    audio_url: str = Field(
        description="where the WAV recording of the same characters is made when asked for"
    )
    expires_at: datetime


class TermsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: Language = Field("pl", description="the language to read them in")


class TermsOut(Out):
    """One version of the regulations, in `language` (Polish where the asked one has no text)."""

    version: str
    language: Language
    title: str
    text: str
    published_at: datetime


class AcceptedOut(Out):
    status: str
    message: str


class TokensOut(Out):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme's name, not a secret
    expires_in: int
    refresh_token: str | SkipJsonSchema[None] = Field(
        None,
        description="Absent when the call sent X-Ebok-Session: cookie: the gateway keeps the "
        "refresh token in the HttpOnly cookie ebok_refresh instead",
        json_schema_extra=_no_default,
    )
    must_change_password: bool


class MeOut(Out):
    account_id: uuid.UUID
    login: str
    email: str
    phone: str | None
    language: str
    role: str
    customer_id: str | None
    status: str
    must_change_password: bool
    activated_at: datetime | None


# --- managers, operators and grants (issue 10) -------------------------------------------------

NIP_WEIGHTS = (6, 5, 7, 2, 3, 4, 5, 6, 7)
Scope = Literal["full", "partial"]
ServicePointId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9/_.-]+$")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9 ()-]{7,20}$")]
S = TypeVar("S", bound="GrantIn | GrantChangeIn | InvitationIn")


def normalize_nip(value: str) -> str:
    """A Polish tax id (NIP) as its ten digits; ValueError when it is not one (its tenth digit
    is the weighted sum of the first nine modulo 11)."""
    digits = "".join(value.removeprefix("PL").split()).replace("-", "")
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValueError("a NIP has ten digits (dashes and spaces allowed)")
    check = sum(w * int(d) for w, d in zip(NIP_WEIGHTS, digits, strict=False)) % 11
    if check == 10 or check != int(digits[9]):
        raise ValueError("the NIP's check digit does not match: check the number")
    return digits


def _scope_points(grant: S) -> S:
    """A partial grant lists its service points; a full one covers all of them and lists none."""
    if grant.scope == "partial" and not grant.service_point_ids:
        raise ValueError("a partial grant lists its service points")
    if grant.scope == "full" and grant.service_point_ids:
        raise ValueError("a full grant covers every service point: list none")
    return grant


class PropertyIn(Body):
    """One administered property: its address, a proof that it is the customer's (a contract
    number, or the number and gross amount of a recent invoice), and the scope asked for."""

    address: Address
    contract_number: ServicePointId | None = None
    invoice_number: ServicePointId | None = None
    invoice_amount: Decimal | None = Field(None, gt=0, max_digits=14, decimal_places=2)
    scope: Scope

    @model_validator(mode="after")
    def _proof(self) -> PropertyIn:
        invoice = self.invoice_number is not None and self.invoice_amount is not None
        if self.contract_number is None and not invoice:
            raise ValueError("give a proof: contract_number, or invoice_number with invoice_amount")
        return self


class ManagerRequestIn(Body):
    company: str = Field(min_length=1, max_length=300)
    nip: str = Field(min_length=10, max_length=20)
    contact_person: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: Phone
    properties: list[PropertyIn] = Field(min_length=1, max_length=500)
    accept_terms: bool
    terms_version: str = Field(min_length=1, max_length=40)
    captcha_id: uuid.UUID
    captcha_answer: str = Field(min_length=1, max_length=20)
    language: Language = "pl"

    @field_validator("nip")
    @classmethod
    def _nip(cls, value: str) -> str:
        return normalize_nip(value)

    @field_validator("accept_terms")
    @classmethod
    def _must_accept(cls, value: bool) -> bool:
        if not value:
            raise ValueError("the e-BOK regulations must be accepted to send a request")
        return value


class ManagerRequestAcceptedOut(Out):
    status: Literal["accepted"]
    reference: str = Field(description="the request's reference number, also in the email")
    message: str


class ServicePointMatchOut(Out):
    service_point_id: str
    contract_number: str
    address: Address
    address_matches: bool


class PropertyMatchOut(Out):
    """A requested property as identity's projection of the ERP knows it: `matched` (the proof
    names a customer and the address one or more of its service points), `ambiguous` (the proof
    names a customer but the address none of its service points, or more than one customer
    fits: the operator chooses), `unmatched` (the proof names nothing known)."""

    position: int
    address: Address
    contract_number: str | None
    invoice_number: str | None
    invoice_amount: Decimal | None
    scope_asked: Scope
    match: Literal["matched", "ambiguous", "unmatched"]
    customer_id: str | None
    customer_name: str | None
    service_points: list[ServicePointMatchOut]


class ManagerRequestOut(Out):
    request_id: uuid.UUID
    reference: str
    company: str
    nip: str
    contact_person: str
    email: str
    phone: str
    language: str
    created_at: datetime
    status: Literal["pending", "approved", "rejected"]
    properties: list[PropertyMatchOut]


class ManagerRequestsOut(Out):
    items: list[ManagerRequestOut] = Field(description="pending requests, oldest first (100)")


class GrantIn(Body):
    customer_id: ServicePointId
    scope: Scope
    service_point_ids: list[ServicePointId] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _points(self) -> GrantIn:
        return _scope_points(self)


class ApprovalIn(Body):
    grants: list[GrantIn] = Field(min_length=1, max_length=1000)


class RejectionIn(Body):
    reason: str = Field(min_length=1, max_length=2000)


class GrantChangeIn(Body):
    scope: Scope
    service_point_ids: list[ServicePointId] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _points(self) -> GrantChangeIn:
        return _scope_points(self)


class GrantOut(Out):
    manager_account_id: uuid.UUID
    customer_id: str
    scope: Scope
    service_point_ids: list[str]
    revoked: bool
    revision: int
    changed_by: Literal["operator", "customer", "erp"]
    changed_at: datetime


class GrantsOut(Out):
    items: list[GrantOut]


class DecisionOut(Out):
    reference: str
    status: Literal["approved", "rejected"]
    decided_at: datetime
    manager_account_id: uuid.UUID | None = None
    manager_login: str | None = None
    grants: list[GrantOut] = Field(default_factory=list)


class ManagerQuery(CursorQuery):
    """Manager accounts in the order of their logins, a page at a time (keyset paging)."""

    KEYSET = Keyset("managers", ("text",))

    q: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="only the managers whose login, company or email contains this "
        "(case-insensitive)",
    )


class ManagerSummaryOut(Out):
    """A manager account as an operator finds it."""

    account_id: uuid.UUID
    login: str
    company: str | None
    email: str
    status: str
    created_at: datetime
    grants: int = Field(description="how many grants the manager holds now (revoked ones not)")


class ManagerOfMineOut(Out):
    """A manager of some of my properties, and what they manage."""

    manager_account_id: uuid.UUID
    login: str
    company: str | None
    email: str
    scope: Scope
    service_point_ids: list[str]
    revision: int
    changed_at: datetime


class ManagersOut(Out):
    items: list[ManagerOfMineOut]


class InvitationIn(Body):
    """Invite a manager by email for some of my service points (partial) or all (full). An
    address that already has a manager account gets the grant at once; any other gets a new
    manager account with the three registration emails."""

    email: EmailStr
    scope: Scope
    service_point_ids: list[ServicePointId] = Field(default_factory=list, max_length=10_000)
    company: str | None = Field(None, max_length=300)
    language: Language = "pl"

    @model_validator(mode="after")
    def _points(self) -> InvitationIn:
        return _scope_points(self)


class OperatorIn(Body):
    """A new operator's account, made by an operator."""

    login: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{2,62}$")
    email: EmailStr
    language: Language = "pl"


class OperatorOut(Out):
    account_id: uuid.UUID
    login: str
    email: str
    status: str


# --- notification preferences (issue 12) --------------------------------------------------------


class NotificationPreferencesOut(Out):
    """The optional emails an account gets (the legal and security ones, registration, password,
    e-invoice and its confirmations, cannot be turned off)."""

    invoice_issued: bool = Field(description='"New invoice" (not sent for e-invoices)')
    due_reminder: bool = Field(description="a reminder before an unpaid invoice is due")
    payment_received: bool = Field(description='"Payment received": online and booked payments')
    reminder_days_before_due: int = Field(description="how many days before (the utility's)")


class NotificationPreferencesIn(Body):
    # JSON true or false only: pydantic would also take 0, 1, "yes" or "off", which the
    # document does not promise.
    invoice_issued: StrictBool
    due_reminder: StrictBool
    payment_received: StrictBool
