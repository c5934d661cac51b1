"""Every migration keeps the previous release working (docs/operations.md, "Upgrading without
downtime"): during a rolling upgrade the new release's migration runs while instances of the
previous release still serve, against the same tables. So a migration only adds (tables,
nullable columns or columns with a default, indexes, constraints added NOT VALID or on new
tables, rows); it never drops, renames or narrows what the previous release reads or writes.

Removing something the code no longer uses is a second, later migration, shipped in the release
after the one whose code stopped using it, and marked on its first line with
`-- contract: <why the previous release no longer needs it>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.settings import ROOT

MIGRATION_DIRECTORIES = sorted(
    [
        *ROOT.glob("services/*/migrations"),
        ROOT / "shared" / "migrations",
        ROOT / "shared" / "bulk" / "migrations",
    ]
)

# Before the first release nothing ran two versions at once; these stay as they were written.
BEFORE_FIRST_RELEASE = {
    "services/identity/migrations/0002_terms_languages.sql",  # drops terms.title, terms.body
    "services/identity/migrations/0003_session_lifetime.sql",  # SET NOT NULL after a backfill
}

CONTRACT_MARKER = re.compile(r"\A--\s*contract:\s*\S")

# What breaks the previous release while it still runs (comments and strings removed first).
BREAKING = {
    "drops a table": re.compile(r"\bDROP\s+TABLE\b", re.I),
    "drops a column": re.compile(r"\bDROP\s+COLUMN\b", re.I),
    "renames": re.compile(r"\bRENAME\b", re.I),
    "changes a column's type": re.compile(r"\bALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE\b", re.I),
    "makes a column NOT NULL": re.compile(r"\bSET\s+NOT\s+NULL\b", re.I),
    "adds a NOT NULL column without a default": re.compile(
        r"\bADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)?\w+\s+[^,;]*?\bNOT\s+NULL\b(?![^,;]*\bDEFAULT\b)",
        re.I,
    ),
    "drops a type or function the code uses": re.compile(r"\bDROP\s+(TYPE|FUNCTION)\b", re.I),
}


def _code_only(sql: str) -> str:
    """The statement text without comments and string literals (a string may say anything)."""
    sql = re.sub(r"--[^\n]*", " ", sql)
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    return re.sub(r"E?'(?:[^']|'')*'", "''", sql)


def _migrations() -> list[Path]:
    return [p for d in MIGRATION_DIRECTORIES for p in sorted(d.glob("*.sql"))]


def breaking_changes(sql: str) -> list[str]:
    if CONTRACT_MARKER.match(sql):
        return []
    code = _code_only(sql)
    return [what for what, pattern in BREAKING.items() if pattern.search(code)]


def test_there_are_migrations_to_check() -> None:
    assert len(_migrations()) > 30


@pytest.mark.parametrize("path", _migrations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_migration_keeps_the_previous_release_working(path: Path) -> None:
    relative = str(path.relative_to(ROOT))
    found = breaking_changes(path.read_text())
    if relative in BEFORE_FIRST_RELEASE:
        assert found, f"{relative} is listed as breaking but is not: take it off the list"
        return
    assert not found, (
        f"{relative} {', '.join(found)}: the previous release still runs during a rolling "
        "upgrade. Add now, remove in the next release with a `-- contract:` migration "
        "(docs/operations.md, Upgrading without downtime)."
    )


@pytest.mark.parametrize(
    "sql",
    [
        "ALTER TABLE a DROP COLUMN b;",
        "ALTER TABLE a RENAME COLUMN b TO c;",
        "ALTER TABLE a ALTER COLUMN b TYPE bigint;",
        "ALTER TABLE a ALTER COLUMN b SET NOT NULL;",
        "ALTER TABLE a ADD COLUMN b text NOT NULL;",
        "DROP TABLE a;",
    ],
)
def test_breaking_statements_are_found(sql: str) -> None:
    assert breaking_changes(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "CREATE TABLE a (b text NOT NULL);",
        "ALTER TABLE a ADD COLUMN b text NOT NULL DEFAULT '';",
        "ALTER TABLE a ADD COLUMN b text;",
        "CREATE INDEX a_b ON a (b);",
        "-- we never DROP COLUMN here\nINSERT INTO t VALUES ('DROP TABLE x');",
        "-- contract: release 2 stopped reading a.b\nALTER TABLE a DROP COLUMN b;",
    ],
)
def test_additive_statements_pass(sql: str) -> None:
    assert not breaking_changes(sql)
