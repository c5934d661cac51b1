"""The sample ERP export (deploy/erp_export_sample.py): deterministic, and every line a valid
payload of its feed message."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from deploy.erp_export_sample import FILES, write_export
from shared.events import erp

MODELS = {
    "customers.jsonl": erp.CustomerUpserted,
    "contracts.jsonl": erp.ContractUpserted,
    "invoices.jsonl": erp.InvoiceIssued,
    "payments.jsonl": erp.PaymentBooked,
    "notes.jsonl": erp.NoteIssued,
}


def test_the_same_arguments_write_the_same_bytes(tmp_path: Path) -> None:
    write_export(tmp_path / "a", 120, date(2026, 10, 1), progress=None)
    write_export(tmp_path / "b", 120, date(2026, 10, 1), progress=None)
    for name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_every_line_is_a_valid_payload_of_its_feed_message(tmp_path: Path) -> None:
    write_export(tmp_path, 200, date(2026, 10, 1), progress=None)
    parsed = {
        name: [MODELS[name].model_validate_json(line) for line in (tmp_path / name).open("rb")]
        for name in FILES
    }
    assert [len(parsed[name]) for name in FILES] == [200, 200, 2400, 1200, 6]
    invoices = parsed["invoices.jsonl"]
    assert invoices[-1].period_from == date(2026, 10, 1)  # the last month asked for
    assert invoices[0].period_from == date(2025, 11, 1)  # twelve months
    assert all(len(i.lines) == 2 for i in invoices)
    assert sum(1 for p in parsed["payments.jsonl"] if p.invoice_number is None) == 200 // 7
    assert {n.kind for n in parsed["notes.jsonl"]} == {"interest", "credit"}
    assert sum(i.gross for i in invoices) > Decimal(0)
    assert [c.status for c in parsed["contracts.jsonl"]].count("terminated") == 2  # 97, 194
