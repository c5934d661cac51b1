"""The e-invoice regulations: `<version>/<language>.md`, the first line a `# title`. The version
in force is CURRENT_VERSION; a customer turning e-invoice on names the version they accepted, and
the history keeps it. A new version is a new directory (the old ones stay: the history names
them)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from shared.events.common import Language

CURRENT_VERSION = "2026-11"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Regulations:
    version: str
    language: Language
    title: str
    text: str


@functools.cache
def regulations(language: Language, version: str = CURRENT_VERSION) -> Regulations:
    """The regulations of `version` in `language` (read once per process)."""
    raw = (_HERE / version / f"{language}.md").read_text(encoding="utf-8")
    first, _, rest = raw.partition("\n")
    return Regulations(version, language, first.removeprefix("# ").strip(), rest.strip() + "\n")
