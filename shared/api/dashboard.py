"""The dashboard: one call, several services' parts, each of which may be unavailable."""

from __future__ import annotations

from typing import Generic, TypeVar

from shared.api.billing import BalanceOut, ContractOut, InvoiceOut
from shared.api.common import Out
from shared.api.correspondence import CasesSummaryOut
from shared.api.metering import MeterOut

T = TypeVar("T")


class Part(Out, Generic[T]):
    available: bool
    data: T | None = None
    error: str | None = None

    @classmethod
    def missing(cls, error: str) -> Part[T]:
        return cls(available=False, error=error)


class DashboardOut(Out):
    balance: Part[BalanceOut]
    latest_invoices: Part[list[InvoiceOut]]
    meters: Part[list[MeterOut]]
    contracts: Part[list[ContractOut]]
    open_cases: Part[CasesSummaryOut]
