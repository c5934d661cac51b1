"""`?customer=`: which customer an account view is about (decision 58). A customer may leave it
out or name themself; a manager names one of the customers they hold a grant over (they may
leave it out while they hold exactly one)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from shared.events.common import Identifier

CUSTOMER_DESCRIPTION = (
    "the customer whose account to show: a manager's granted customer (may be left out while "
    "the manager holds exactly one grant); a customer may leave it out or name themself"
)


class CustomerSelector(BaseModel):
    """The selector alone, for account views that take no other query parameter."""

    model_config = ConfigDict(extra="forbid")

    customer: Identifier | None = Field(None, description=CUSTOMER_DESCRIPTION)
