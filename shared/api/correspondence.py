"""Bodies of correspondence's routes (issue 13): cases, their messages and attachments."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    RootModel,
    TypeAdapter,
    model_validator,
)

from shared.api.common import IsoDay, Out
from shared.api.paging import CursorQuery, Keyset
from shared.api.selector import CustomerSelector
from shared.events.common import Identifier
from shared.events.correspondence import (
    AttachmentType,
    CaseKind,
    CaseStatus,
    DataField,
)

MAX_ATTACHMENTS = 5  # per case, its messages' included
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
Text = Annotated[str, Field(min_length=1, max_length=5_000)]
AttachmentIds = Annotated[list[uuid.UUID], Field(default_factory=list, max_length=MAX_ATTACHMENTS)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FailureIn(_Body):
    """A failure: where (one of the customer's service points, or a free address), what is
    wrong, since when."""

    kind: Literal["failure"]
    service_point_id: Identifier | None = None
    location: str | None = Field(None, min_length=3, max_length=500)
    description: Text
    since: date | None = None
    attachment_ids: AttachmentIds

    @model_validator(mode="after")
    def _one_place(self) -> FailureIn:
        if (self.service_point_id is None) == (self.location is None):
            raise ValueError("name either service_point_id or location")
        return self


class WaterQualityIn(_Body):
    kind: Literal["water-quality"]
    service_point_id: Identifier
    description: Text
    attachment_ids: AttachmentIds


class DataChangeIn(_Body):
    field: DataField
    current: str | None = Field(None, max_length=500)
    requested: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _valid_value(self) -> DataChangeIn:
        if self.field == "contact_email":
            _EMAIL.validate_python(self.requested)
        return self


class DataChangeRequestIn(_Body):
    """Basic data (name, correspondence address) and auxiliary data (phone, contact email): each
    field's current and requested value. A manager whose grant covers only part of the
    customer's properties may not ask (403)."""

    kind: Literal["data-change"]
    changes: list[DataChangeIn] = Field(min_length=1, max_length=4)
    comment: str | None = Field(None, max_length=5_000)
    attachment_ids: AttachmentIds

    @model_validator(mode="after")
    def _each_field_once(self) -> DataChangeRequestIn:
        fields = [c.field for c in self.changes]
        if len(set(fields)) != len(fields):
            raise ValueError("each field at most once")
        return self


class BillingComplaintIn(_Body):
    kind: Literal["billing-complaint"]
    invoice_number: Identifier
    reason: Text
    attachment_ids: AttachmentIds


class QuestionIn(_Body):
    kind: Literal["question"]
    subject: str = Field(min_length=1, max_length=200)
    description: Text
    attachment_ids: AttachmentIds


class CaseIn(
    RootModel[
        Annotated[
            FailureIn | WaterQualityIn | DataChangeRequestIn | BillingComplaintIn | QuestionIn,
            Field(discriminator="kind"),
        ]
    ]
):
    """A new case: its `kind` says which fields it has."""


class MessageIn(_Body):
    text: Text
    attachment_ids: AttachmentIds


class AttachmentOut(Out):
    attachment_id: uuid.UUID
    filename: str
    content_type: AttachmentType
    size: int
    uploaded_at: datetime


class AuthorOut(Out):
    role: Literal["customer", "manager", "utility"]
    login: str | None
    name: str | None


class MessageOut(Out):
    message_id: uuid.UUID
    author: AuthorOut
    text: str
    attachments: list[AttachmentOut]
    posted_at: datetime


class StatusChangeOut(Out):
    status: CaseStatus
    at: datetime
    by: AuthorOut
    reason: str | None


class DataChangeOut(Out):
    field: DataField
    current: str | None
    requested: str


class CaseSummaryOut(Out):
    number: str
    kind: CaseKind
    status: CaseStatus
    title: str = Field(description="a line that names the case: subject, place or invoice")
    service_point_id: str | None
    invoice_number: str | None
    submitted_by: AuthorOut
    submitted_at: datetime
    updated_at: datetime


class CaseOut(CaseSummaryOut):
    customer_id: str
    description: str
    location: str | None
    since: date | None
    subject: str | None
    changes: list[DataChangeOut]
    attachments: list[AttachmentOut]
    timeline: list[StatusChangeOut] = Field(description="every status, oldest first")
    messages: list[MessageOut] = Field(description="the thread, oldest first")


class CaseQuery(CursorQuery, CustomerSelector):
    """Cases by (submitted_at, number), newest first."""

    KEYSET = Keyset("cases", ("moment", "text"))

    kind: CaseKind | None = None
    status: CaseStatus | None = None
    since: IsoDay | None = Field(None, description="submitted on or after this day")
    until: IsoDay | None = Field(None, description="submitted on or before this day")


class AttachmentQuery(CustomerSelector):
    """An upload: the file is the body, sent as it is (Content-Type: the file's type), its name
    here."""

    filename: str = Field(min_length=1, max_length=200, pattern=r"^[^/\\\x00-\x1f]+$")


class CasesSummaryOut(Out):
    """For the dashboard: how many cases are open, and the latest of them."""

    open: int
    latest_open: list[CaseSummaryOut]
