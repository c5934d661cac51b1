from __future__ import annotations

import asyncpg
import pytest

from shared.messaging.consumer import database_unreachable


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncpg.exceptions.AdminShutdownError(
            "terminating connection due to administrator command"
        ),
        asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle"),
        asyncpg.exceptions.TooManyConnectionsError("too many clients already"),
        asyncpg.InterfaceError("connection is closed"),
    ],
)
def test_these_may_say_the_database_is_away(exc: BaseException) -> None:
    # (the consumer then asks the database itself before it pauses)
    assert database_unreachable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.exceptions.UniqueViolationError("duplicate key"),
        asyncpg.exceptions.NumericValueOutOfRangeError("out of range"),
        ValueError("bad value"),
        KeyError("x"),
    ],
)
def test_other_failures_are_the_messages_own(exc: BaseException) -> None:
    assert not database_unreachable(exc)
