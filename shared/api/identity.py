"""Bodies of the account and registration routes served by identity."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from shared.api.common import Out
from shared.events.common import Language


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
