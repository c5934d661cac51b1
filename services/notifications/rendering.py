"""Email templates: `templates/<language>/<name>.{subject.txt,txt,html}`, rendered with Jinja2."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).parent / "templates"
LANGUAGES = ("pl", "en", "uk", "ru")
DEFAULT_LANGUAGE = "pl"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


class Renderer:
    def __init__(self, directory: Path = TEMPLATES) -> None:
        loader = jinja2.FileSystemLoader(str(directory))
        self._html = jinja2.Environment(
            loader=loader, autoescape=True, undefined=jinja2.StrictUndefined
        )
        self._text = jinja2.Environment(
            loader=loader,
            autoescape=False,  # noqa: S701 - plain-text bodies and subjects
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )

    def render(self, name: str, language: str, context: dict[str, Any]) -> RenderedEmail:
        language = language if language in LANGUAGES else DEFAULT_LANGUAGE
        subject = self._text.get_template(f"{language}/{name}.subject.txt").render(context).strip()
        values = {**context, "subject": subject, "language": language}
        return RenderedEmail(
            subject=subject,
            text=self._text.get_template(f"{language}/{name}.txt").render(values),
            html=self._html.get_template(f"{language}/{name}.html").render(values),
        )
