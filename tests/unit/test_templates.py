from __future__ import annotations

import pytest

from services.notifications.rendering import LANGUAGES, Renderer

CONTEXTS = {
    "registration": {
        "activation_url": "https://e.example/activate?token=T0K3N",
        "expires_at": "2026-11-26 10:00 UTC",
    },
    "registration-confirmation": {"login": "e123456789", "one_time_password": "Pa55w0rdXyZ"},
    "account-activation": {"login": "e123456789", "login_url": "https://e.example/login"},
    "account-exists": {"login": "e123456789", "login_url": "https://e.example/login"},
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_every_template_renders_in_every_language(language: str, template: str) -> None:
    email = Renderer().render(template, language, CONTEXTS[template])
    assert email.subject and "\n" not in email.subject
    for value in CONTEXTS[template].values():
        if value.startswith("2026"):
            continue
        assert value in email.text, (language, template, value)
        assert value in email.html, (language, template, value)
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert f'lang="{language}"' in email.html


def test_english_confirmation_has_login_and_password_lines() -> None:
    text = (
        Renderer()
        .render("registration-confirmation", "en", CONTEXTS["registration-confirmation"])
        .text
    )
    assert "Login: e123456789\n" in text
    assert "Password: Pa55w0rdXyZ\n" in text


@pytest.mark.parametrize(
    ("language", "subjects"),
    [
        ("en", ("Registration", "Registration — confirmation", "Account activation")),
        ("pl", ("Rejestracja", "Rejestracja — potwierdzenie", "Aktywacja konta")),
    ],
)
def test_the_three_subjects(language: str, subjects: tuple[str, str, str]) -> None:
    renderer = Renderer()
    rendered = tuple(
        renderer.render(name, language, CONTEXTS[name]).subject
        for name in ("registration", "registration-confirmation", "account-activation")
    )
    assert rendered == subjects


def test_html_escapes_what_it_is_given() -> None:
    email = Renderer().render(
        "account-activation", "en", {"login": "<script>", "login_url": "https://e.example/login"}
    )
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<script>" in email.text


def test_an_unknown_language_falls_back_to_polish() -> None:
    email = Renderer().render("registration", "de", CONTEXTS["registration"])
    assert email.subject == "Rejestracja"
