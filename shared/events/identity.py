"""Events identity publishes. Those that ask for an email carry what the email must say.

Activation links and one-time passwords travel inside these payloads because the email has to
carry them; they are never logged, and notifications drops them once the email is sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr, Field

from shared.events.common import Contract, Identifier, Language


class RegistrationRequested(Contract):
    registration_id: uuid.UUID
    customer_id: Identifier
    email: EmailStr
    language: Language
    activation_url: str
    expires_at: datetime


class RegistrationRepeated(Contract):
    """Someone registered for a customer that already has an account: tell the owner."""

    account_id: uuid.UUID
    email: EmailStr
    language: Language
    login: str


class CredentialsIssued(Contract):
    account_id: uuid.UUID
    email: EmailStr
    language: Language
    login: str
    one_time_password: str = Field(min_length=8)


class AccountActivated(Contract):
    account_id: uuid.UUID
    email: EmailStr
    language: Language
    login: str


EVENTS = {
    "identity.registration.requested": RegistrationRequested,
    "identity.registration.repeated": RegistrationRepeated,
    "identity.credentials.issued": CredentialsIssued,
    "identity.account.activated": AccountActivated,
}
