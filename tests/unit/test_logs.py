from __future__ import annotations

import json

import pytest

from shared.logs import configure_logging, get_logger, set_correlation_id


def test_log_lines_are_json_with_correlation_id_and_no_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("unit", "INFO", "json")
    try:
        set_correlation_id("corr-123")
        get_logger("t").info("login", password="hunter22", refresh_token="abc", login="e1")
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        configure_logging("tests", "WARNING", "console")
    assert line["correlation_id"] == "corr-123"
    assert line["password"] == "[redacted]" and line["refresh_token"] == "[redacted]"
    assert line["login"] == "e1" and line["event"] == "login" and line["service"] == "unit"
