from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from types import SimpleNamespace

import pytest
from aio_pika.tools import CallbackCollection
from aiormq.exceptions import AMQPConnectionError

from shared.logs import configure_logging, get_logger, set_correlation_id
from shared.messaging import broker as broker_module
from shared.messaging.broker import Broker
from shared.settings import ROOT, Settings


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


# Every line a process prints in `json` format must be one JSON object, whoever wrote it: our
# code (structlog), libraries (the standard library's logging), warnings and uncaught exceptions.
LIBRARY_LINES = """
import asyncio, logging, sys, warnings
import structlog
from shared.logs import configure_logging, get_logger

configure_logging("unit-svc", sys.argv[1], "json")
logging.getLogger("aiormq.connection").warning(
    "Connection to %s lost", "amqp://guest:url-pw-1@broker:5672/"
)
logging.getLogger("aiormq.connection").info("library info")
logging.getLogger("aiormq.connection").debug("library debug")
logging.getLogger("aiohttp.access").info("GET /activate?token=query-token-1")
logging.getLogger("mail.log").debug("DATA readline: Password: smtp-pw-1")
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("x").exception(
        "handler failed", extra={"password": "extra-pw-1", "login": "e1"}
    )
get_logger("t").info("login", one_time_password="otp-1", token="tok-1", login="e2")
structlog.get_logger("t").error("sending failed", note="Authorization: Bearer bearer-tok-1")
warnings.warn("old api")
asyncio.new_event_loop().call_exception_handler(
    {"message": "Task exception was never retrieved", "exception": ValueError("lost")}
)
raise RuntimeError("uncaught at the top")
"""
SECRETS = ("url-pw-1", "extra-pw-1", "otp-1", "tok-1", "bearer-tok-1", "query-token-1", "smtp-pw-1")


def run_library_lines(level: str) -> tuple[list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-c", LIBRARY_LINES, level],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr  # the uncaught exception
    output = result.stdout + result.stderr
    lines = [json.loads(line) for line in output.splitlines()]  # raises on any plain-text line
    return lines, output


def by_event(lines: list[dict], prefix: str) -> dict:
    found = [line for line in lines if line["event"].startswith(prefix)]
    assert len(found) == 1, (prefix, lines)
    return found[0]


def test_every_line_is_one_json_object_with_service_level_and_time() -> None:
    lines, output = run_library_lines("INFO")
    assert len(lines) == 7
    for line in lines:
        assert line["service"] == "unit-svc"
        assert line["level"] in {"info", "warning", "error", "critical"}
        assert line["timestamp"].endswith("Z")
    library = by_event(lines, "Connection to ")
    assert library["level"] == "warning" and library["logger"] == "aiormq.connection"
    failed = by_event(lines, "handler failed")
    assert failed["level"] == "error" and failed["logger"] == "x" and failed["login"] == "e1"
    assert failed["exception"].startswith("Traceback (most recent call last)")
    assert "ZeroDivisionError: division by zero" in failed["exception"]
    assert by_event(lines, "login")["login"] == "e2"
    assert by_event(lines, "sending failed")["level"] == "error"
    assert by_event(lines, "<string>")["logger"] == "py.warnings"  # warnings.warn
    lost = by_event(lines, "Task exception was never retrieved")
    assert lost["logger"] == "asyncio" and "ValueError: lost" in lost["exception"]
    uncaught = by_event(lines, "uncaught exception")
    assert uncaught["level"] == "critical"
    assert "RuntimeError: uncaught at the top" in uncaught["exception"]
    # Libraries stay below INFO quiet; aiohttp's access log (raw query strings) never speaks.
    assert "library info" not in output and "library debug" not in output
    assert "/activate" not in output


def test_secrets_are_redacted_in_library_lines_too() -> None:
    lines, output = run_library_lines("INFO")
    for secret in SECRETS:
        assert secret not in output
    assert by_event(lines, "handler failed")["password"] == "[redacted]"
    assert by_event(lines, "login")["one_time_password"] == "[redacted]"
    assert by_event(lines, "login")["token"] == "[redacted]"
    assert by_event(lines, "Connection to ")["event"] == (
        "Connection to amqp://guest:[redacted]@broker:5672/ lost"
    )
    assert by_event(lines, "sending failed")["note"] == "Authorization: Bearer [redacted]"


def test_debug_opens_the_broker_libraries_only() -> None:
    lines, output = run_library_lines("DEBUG")
    assert by_event(lines, "library debug")["level"] == "debug"
    assert by_event(lines, "library info")["logger"] == "aiormq.connection"
    # Other libraries may print what passes through them (an SMTP conversation): not at DEBUG.
    for secret in SECRETS:
        assert secret not in output
    assert "/activate" not in output and "DATA readline" not in output


def test_library_lines_follow_the_stdout_of_the_moment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging("unit", "INFO", "json")
    configure_logging("unit", "INFO", "json")  # configured twice: still one line per record
    swapped = io.StringIO()
    try:
        with monkeypatch.context() as patch:
            patch.setattr(sys, "stdout", swapped)
            logging.getLogger("aio_pika.robust_connection").warning("reconnecting in %s s", 5)
        logging.getLogger("aio_pika").error("once")
        after = capsys.readouterr().out.splitlines()
    finally:
        configure_logging("tests", "WARNING", "console")
    (line,) = [json.loads(text) for text in swapped.getvalue().splitlines()]
    assert line["event"] == "reconnecting in 5 s" and line["logger"] == "aio_pika.robust_connection"
    # pytest's own log capture formats the record first; its leftovers are no fields of ours.
    (once,) = [json.loads(text) for text in after]
    assert once["event"] == "once" and "message" not in once


class FakeRobustConnection:
    """What Broker uses of aio-pika's robust connection, with aio-pika's own callback lists."""

    def __init__(self) -> None:
        self.close_callbacks = CallbackCollection(self)
        self.reconnect_callbacks = CallbackCollection(self)
        self.is_closed = False

    async def channel(self, **_options: object) -> SimpleNamespace:
        return SimpleNamespace(is_closed=False, default_exchange=object())

    async def close(self) -> None:
        # aio-pika runs the close callbacks on a deliberate close too.
        self.is_closed = True
        await self.close_callbacks(None)


async def test_broker_logs_a_lost_and_a_restored_connection(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    connection = FakeRobustConnection()

    async def connect_robust(*_args: object, **_kwargs: object) -> FakeRobustConnection:
        return connection

    async def declare_exchanges(*_args: object) -> dict:
        return {}

    monkeypatch.setattr(broker_module.aio_pika, "connect_robust", connect_robust)
    monkeypatch.setattr(broker_module, "declare_exchanges", declare_exchanges)
    configure_logging("unit", "INFO", "json")
    try:
        broker = Broker(Settings(env="test"), "billing")
        await broker.connect()
        capsys.readouterr()
        await connection.close_callbacks(
            AMQPConnectionError("CONNECTION_FORCED - broker forced connection closure")
        )
        # aio-pika runs the close callbacks again on each failed reconnection attempt.
        await connection.close_callbacks(AMQPConnectionError("Connect call failed"))
        await connection.reconnect_callbacks()
        restored = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        await broker.close()
        closed = capsys.readouterr().out
    finally:
        configure_logging("tests", "WARNING", "console")
    lost, back = restored
    assert lost["event"] == "broker connection lost" and lost["level"] == "warning"
    assert lost["service"] == "billing" and lost["error_type"] == "AMQPConnectionError"
    assert lost["reason"] == "CONNECTION_FORCED - broker forced connection closure"
    assert back["event"] == "broker reconnected" and back["level"] == "info"
    assert back["service"] == "billing" and back["down_seconds"] >= 0
    assert connection.is_closed and "broker connection lost" not in closed
