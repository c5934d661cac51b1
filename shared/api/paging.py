"""Keyset paging: every list that grows (invoices, payments, notes, readings) is read newest
first in pages that continue from an opaque cursor instead of an OFFSET (decision 53).

A cursor is the base64url (no padding) of a small JSON object: which list it belongs to, the way
it goes (`older`: the rows after a page, `newer`: the rows before it) and the sort key of the row
it continues from, e.g. {"l":"invoices","d":"older","k":["2026-10-31","FV/2026/10/1001"]}. It
carries nothing but that position, and every query is limited to the caller's rows anyway, so
a cursor someone else made or edited can move the position and no further. It is read strictly:
anything but a cursor this code would have written itself (other characters, other keys, another
list, a key of the wrong kind, a different spelling of the same JSON) is a 422 naming `cursor`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from shared.api.common import Out

T = TypeVar("T")

# What a part of a sort key is: a calendar day, a document number (the feed's Identifier), or a
# moment (kept to the microsecond, in UTC).
KeyPart = Literal["day", "text", "moment"]
Key = tuple[Any, ...]

CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
# The longest cursor this code writes is about 150 characters (a 64-character number).
CURSOR_MAX_LENGTH = 256
_CURSOR = re.compile(CURSOR_PATTERN)
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# shared.events.common.Identifier: what invoice, booking and note numbers are in the feed.
_TEXT = re.compile(r"[A-Za-z0-9/_.-]{1,64}")
_DIRECTIONS = {"older": False, "newer": True}


@dataclass(frozen=True)
class Position:
    """Where a page starts: right after `key` going older, or right before it going newer."""

    key: Key
    newer: bool = False


def _invalid(reason: str) -> PydanticCustomError:
    return PydanticCustomError(
        "invalid_cursor",
        "is not a cursor of this list ({reason}): pass next_cursor or prev_cursor as received, "
        "or leave it out for the newest rows",
        {"reason": reason},
    )


def _part_to_json(kind: KeyPart, value: Any) -> str:
    if kind == "day":
        return value.isoformat()
    if kind == "moment":
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def _part_from_json(kind: KeyPart, value: object) -> Any:
    """The key part, or ValueError; the caller checks that it spells back the same."""
    if not isinstance(value, str):
        raise ValueError
    if kind == "day":
        if not _DAY.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    if kind == "moment":
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise ValueError
        return moment
    if not _TEXT.fullmatch(value):
        raise ValueError
    return value


@dataclass(frozen=True)
class Keyset:
    """How one list is ordered: its name (so that one list's cursor is refused by another) and
    the kinds of the parts of its sort key, most significant first (the order is descending)."""

    name: str
    parts: tuple[KeyPart, ...]

    def encode(self, key: Key, *, newer: bool = False) -> str:
        body = {
            "l": self.name,
            "d": "newer" if newer else "older",
            "k": [_part_to_json(kind, v) for kind, v in zip(self.parts, key, strict=True)],
        }
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=True)
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> Position:
        """The position `cursor` names, or PydanticCustomError('invalid_cursor')."""
        if len(cursor) > CURSOR_MAX_LENGTH or not _CURSOR.fullmatch(cursor):
            raise _invalid("not base64url")
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            body = json.loads(raw.decode("utf-8"))
        except (binascii.Error, ValueError, RecursionError):
            raise _invalid("not encoded JSON") from None
        if not isinstance(body, dict) or set(body) != {"l", "d", "k"}:
            raise _invalid("not a cursor")
        if body["l"] != self.name:
            raise _invalid("a cursor of another list")
        if body["d"] not in _DIRECTIONS:
            raise _invalid("no direction")
        parts = body["k"]
        if not isinstance(parts, list) or len(parts) != len(self.parts):
            raise _invalid("no sort key")
        try:
            key = tuple(_part_from_json(kind, v) for kind, v in zip(self.parts, parts, strict=True))
            position = Position(key, _DIRECTIONS[body["d"]])
            canonical = self.encode(key, newer=position.newer)
        except (ValueError, OverflowError):
            raise _invalid("not a sort key") from None
        # Only what encode() writes: no other spelling of the same JSON, no altered padding bits.
        if canonical != cursor:
            raise _invalid("altered")
        return position


class CursorQuery(BaseModel):
    """`?limit=&cursor=` of a list; a subclass names its KEYSET."""

    KEYSET: ClassVar[Keyset]
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(20, ge=1, le=100, description="how many rows at most")
    cursor: str | None = Field(
        None,
        min_length=1,
        max_length=CURSOR_MAX_LENGTH,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` (older rows) or `prev_cursor` (newer rows) of a page of "
        "the same list, as received; leave it out for the newest rows",
    )

    @field_validator("cursor")
    @classmethod
    def _readable(cls, value: str | None) -> str | None:
        if value is not None:
            cls.KEYSET.decode(value)
        return value

    @property
    def position(self) -> Position | None:
        return None if self.cursor is None else self.KEYSET.decode(self.cursor)


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="the cursor of the older rows after these; null on the last page"
    )
    prev_cursor: str | None = Field(
        description="the cursor of the newer rows before these; null on the first page"
    )


async def read_page(
    fetch: Callable[[Position | None], Awaitable[tuple[list[T], bool]]],
    keyset: Keyset,
    key: Callable[[T], Key],
    position: Position | None,
) -> tuple[list[T], str | None, str | None]:
    """A page's rows, newest first, with its next and previous cursors.

    `fetch(position)` answers at most a page of rows from `position` (the newest rows for None),
    newest first, and whether there are more rows beyond them in the way it went (older rows, or
    for a `newer` position newer ones). A `newer` page that reaches the newest row is the first
    page, so the first page itself is answered then: full, and without a previous cursor."""
    rows, more = await fetch(position)
    if position is not None and position.newer and not more:
        position = None
        rows, more = await fetch(None)
    if position is None:
        newer, older = False, more
    elif position.newer:
        newer, older = True, True
    else:
        # Rows newer than the cursor's row are there, unless they have gone since (then the
        # previous cursor leads to the first page).
        newer, older = True, more
    if not rows:
        back = keyset.encode(position.key, newer=True) if position is not None else None
        return rows, None, back
    next_cursor = keyset.encode(key(rows[-1])) if older else None
    prev_cursor = keyset.encode(key(rows[0]), newer=True) if newer else None
    return rows, next_cursor, prev_cursor
