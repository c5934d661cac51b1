"""Which outbox rows travel together, and what a packed body must be."""

from __future__ import annotations

import pytest

from shared.messaging.packing import MAX_BYTES, MAX_ENVELOPES, NotPacked, pack, runs, unpack


def keyed(rows: list[tuple[str | None, int]]) -> list[list[int]]:
    """Runs of rows given as (key, size), answered as the rows' positions."""
    numbered = [(n, key, size) for n, (key, size) in enumerate(rows)]
    found = runs(numbered, lambda r: (r[1],) if r[1] is not None else None, lambda r: r[2])
    return [[n for n, _, _ in run] for run in found]


def test_only_neighbours_of_one_key_travel_together() -> None:
    rows = [("a", 1), ("a", 1), ("b", 1), ("a", 1), ("a", 1), ("a", 1)]
    assert keyed(rows) == [[0, 1], [2], [3, 4, 5]]


def test_a_row_without_a_key_is_never_packed() -> None:
    assert keyed([("a", 1), (None, 1), (None, 1), ("a", 1)]) == [[0], [1], [2], [3]]


def test_runs_are_cut_by_count_and_by_size() -> None:
    by_count = keyed([("a", 1)] * (MAX_ENVELOPES + 1))
    assert [len(r) for r in by_count] == [MAX_ENVELOPES, 1]
    half = MAX_BYTES // 2
    by_size = keyed([("a", half), ("a", half), ("a", 1), ("a", MAX_BYTES * 2), ("a", 1)])
    assert by_size == [[0, 1], [2], [3], [4]]


def test_pack_and_unpack_keep_the_envelopes_in_order() -> None:
    body = pack(['{"id": "1"}', '{"id": "2"}'])
    assert unpack(body) == [{"id": "1"}, {"id": "2"}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[", "invalid JSON"),
        (b"[]", "non-empty JSON array"),
        (b'{"id": "1"}', "non-empty JSON array"),
        (b'[{"id": "1"}, 2]', "every item must be a JSON object"),
    ],
)
def test_a_body_that_is_not_an_array_of_envelopes_is_refused(body: bytes, reason: str) -> None:
    with pytest.raises(NotPacked, match=reason):
        unpack(body)
