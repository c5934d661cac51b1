"""The app's own texts (web/src/i18n/<lang>.ts, and the texts loaded with some pages,
web/src/i18n/<part>/<lang>.ts), so the tests find headings, labels and buttons
by what a person reads in each language."""

from __future__ import annotations

import functools
import json
import re

from tests.browser.helpers import ROOT

I18N = ROOT / "web" / "src" / "i18n"
LANGUAGES = ("pl", "en", "uk", "ru")
_ENTRY = re.compile(r'^\s*("[^"]+")\s*:\s*("(?:[^"\\]|\\.)*")\s*,?\s*$')


@functools.cache
def messages(lang: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for path in (I18N / f"{lang}.ts", *sorted(I18N.glob(f"*/{lang}.ts"))):
        for line in path.read_text().splitlines():
            if entry := _ENTRY.match(line):
                found[json.loads(entry.group(1))] = json.loads(entry.group(2))
    assert found, f"no messages read from {I18N / lang}.ts"
    return found


def t(lang: str, key: str, **params: object) -> str:
    text = messages(lang).get(key)
    assert text, f"{lang}.ts has no message {key!r}"
    for name, value in params.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def pattern(lang: str, key: str) -> re.Pattern[str]:
    """The message with each {placeholder} standing for any text."""
    parts = re.split(r"\{\w+\}", t(lang, key))
    return re.compile(".+?".join(re.escape(part) for part in parts))
