"""Correspondence (issue 13): cases customers and managers send, told to the back office; the back
office's answers (`backoffice.case.updated`, inbound on the integration exchange); and what the
account is told of them (through identity, for its email)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from shared.events.common import Contract, Event, Identifier

CaseKind = Literal["failure", "water-quality", "data-change", "billing-complaint", "question"]
CaseStatus = Literal["submitted", "registered", "in-progress", "answered", "closed", "rejected"]
# What the back office may set (a case starts as submitted).
BackOfficeStatus = Literal["registered", "in-progress", "answered", "closed", "rejected"]
AttachmentType = Literal["application/pdf", "image/jpeg", "image/png"]
DataField = Literal["name", "correspondence_address", "phone", "contact_email"]
CASE_NUMBER_PATTERN = r"^KOR/[0-9]{4}/[0-9]{6}$"
CaseNumber = str


class Author(Contract):
    """Who wrote: the customer, a manager acting for the customer, or the utility's staff."""

    role: Literal["customer", "manager", "utility"]
    account_id: uuid.UUID | None = None
    login: str | None = Field(None, max_length=100)
    name: str | None = Field(None, max_length=200, description="the utility's clerk")


class AttachmentRef(Contract):
    """An attachment as the back office fetches it: with the service credential
    (`Authorization: Bearer <EBOK_BACKOFFICE_TOKEN>`) from `url`; never inlined."""

    attachment_id: uuid.UUID
    filename: str = Field(min_length=1, max_length=200)
    content_type: AttachmentType
    size: int = Field(ge=1)
    url: str


class DataChange(Contract):
    field: DataField
    current: str | None = Field(None, max_length=500)
    requested: str = Field(min_length=1, max_length=500)


class CaseSubmitted(Event, event="correspondence.case.submitted", exchange="integration"):
    """For the back office (integration exchange, queue `<ns>.backoffice.cases`): a new case,
    once. The kind's fields: failure (`service_point_id` or `location`, `since`), water-quality
    (`service_point_id`), data-change (`changes`), billing-complaint (`invoice_number`),
    question (`subject`)."""

    case_id: uuid.UUID
    number: str = Field(pattern=CASE_NUMBER_PATTERN)
    customer_id: Identifier
    kind: CaseKind
    subject: str | None = Field(None, max_length=200)
    text: str = Field(max_length=10_000)
    service_point_id: Identifier | None = None
    location: str | None = Field(None, max_length=500)
    since: date | None = None
    invoice_number: Identifier | None = None
    changes: list[DataChange] = Field(default_factory=list, max_length=4)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=5)
    submitted_by: Author
    submitted_at: datetime


class CaseMessagePosted(Event, event="correspondence.message.posted", exchange="integration"):
    """For the back office (queue `<ns>.backoffice.case-messages`): a message the customer (or
    their manager) added to a case, once."""

    case_id: uuid.UUID
    number: str = Field(pattern=CASE_NUMBER_PATTERN)
    customer_id: Identifier
    message_id: uuid.UUID
    text: str = Field(max_length=10_000)
    attachments: list[AttachmentRef] = Field(default_factory=list, max_length=5)
    posted_by: Author
    posted_at: datetime


class BackOfficeCaseUpdated(Event, event="backoffice.case.updated", exchange="integration"):
    """The back office moves a case on (inbound, queue `<ns>.correspondence.backoffice`): its new
    status, a reply to the customer (shown in the thread), who. `reason` is required when it
    rejects. An unknown case number goes to the dead-letter queue with the reason."""

    number: str = Field(pattern=CASE_NUMBER_PATTERN)
    status: BackOfficeStatus
    reply: str | None = Field(None, min_length=1, max_length=10_000)
    reason: str | None = Field(None, min_length=1, max_length=1_000)
    by: str = Field(min_length=1, max_length=200, description="the clerk, as the customer sees")
    updated_at: AwareDatetime

    @model_validator(mode="after")
    def _reason_when_rejected(self) -> BackOfficeCaseUpdated:
        if self.status == "rejected" and self.reason is None:
            raise ValueError("a rejection gives its reason")
        return self


class CaseChanged(Event, event="correspondence.case.changed"):
    """A case's status changed or the utility replied (domain exchange): identity asks for the
    "case updated" email of the account that submitted it, in that account's language."""

    case_id: uuid.UUID
    number: str = Field(pattern=CASE_NUMBER_PATTERN)
    customer_id: Identifier
    kind: CaseKind
    status: CaseStatus
    reply: str | None = Field(None, max_length=10_000)
    reason: str | None = Field(None, max_length=1_000)
    submitted_by_account_id: uuid.UUID
    changed_at: datetime
