"""The gateway's pieces for the browser that need no platform: which file a path names, when the
session cookie is Secure, the activation link in the emails, and `make run`'s welcome."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from deploy.demo_data import DemoInvoice
from deploy.run_local import _print_welcome
from services.gateway.browser_session import cookie_secure
from services.gateway.web_app import ASSET_CACHE, PAGE_CACHE, _choose, _NoSuchAsset
from services.notifications.rendering import LANGUAGES, Renderer
from shared.settings import Settings


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("index")
    (root / "favicon.svg").write_text("<svg/>")
    (root / "assets" / "app-1a2b3c.js").write_text("js")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "assets" / "link.js").symlink_to(tmp_path / "secret.txt")
    return root.resolve()


def test_files_are_served_with_their_caching_and_anything_else_is_the_index(dist: Path) -> None:
    assert _choose(dist, "assets/app-1a2b3c.js") == (dist / "assets" / "app-1a2b3c.js", ASSET_CACHE)
    assert _choose(dist, "favicon.svg") == (dist / "favicon.svg", PAGE_CACHE)
    for client_route in ("", "login", "invoices/FV/2026/10/1001", "assets"):
        assert _choose(dist, client_route) == (dist / "index.html", PAGE_CACHE), client_route


@pytest.mark.parametrize("path", ["assets/gone.js", "assets/../../secret.txt", "assets/link.js"])
def test_no_asset_that_is_not_in_the_build_is_answered(dist: Path, path: str) -> None:
    # Neither the file outside nor the index in its place: a missing asset is a 404.
    with pytest.raises(_NoSuchAsset):
        _choose(dist, path)


@pytest.mark.parametrize(
    "path",
    [
        "../secret.txt",
        "/etc/passwd",
        "a\0b",
        "x" * 5000,
    ],
)
def test_names_that_lead_out_of_the_build_get_the_index(dist: Path, path: str) -> None:
    assert _choose(dist, path) == (dist / "index.html", PAGE_CACHE)


def test_without_an_index_only_existing_files_are_served(dist: Path) -> None:
    (dist / "index.html").unlink()
    assert _choose(dist, "login") is None
    assert _choose(dist, "favicon.svg") == (dist / "favicon.svg", PAGE_CACHE)


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("http://127.0.0.1:8080", False),
        ("http://localhost:5173/", False),
        ("https://127.0.0.1:8443", True),
        ("https://ebok.example", True),
        ("http://ebok.example", True),  # a browser drops it over plain http: no token in clear
    ],
)
def test_the_cookie_is_secure_except_on_plain_http_on_this_machine(
    public_url: str, secure: bool
) -> None:
    assert cookie_secure(public_url) is secure


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_registration_email_carries_the_link_with_the_token_in_the_fragment(
    language: str,
) -> None:
    url = "https://e.example/activate#token=T0K3N-_x"
    email = Renderer().render(
        "registration", language, {"activation_url": url, "expires_at": "2026-11-26 10:00 UTC"}
    )
    assert url in email.text
    assert f'href="{url}"' in email.html


def _welcome(settings: Settings, capsys: pytest.CaptureFixture[str]) -> list[str]:
    invoices = [DemoInvoice("Anna Nowak", "FV/2026/10/1001", Decimal("335.92"))]
    _print_welcome(settings, invoices, mailbox=True, provider=True)
    return [line for line in capsys.readouterr().out.splitlines() if "http://" in line]


def test_the_welcome_names_the_web_app_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "index.html").write_text("index")
    settings = Settings(gateway_port=8123, web_dist=tmp_path)
    first = _welcome(settings, capsys)[0]
    assert first.split() == ["Web", "app:", "http://127.0.0.1:8123/"]


def test_the_welcome_says_when_the_web_app_is_not_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(gateway_port=8123, web_dist=tmp_path)
    first = _welcome(settings, capsys)[0]
    assert "http://127.0.0.1:8123/" in first and "not built: make web" in first


@pytest.mark.parametrize(
    ("provider", "said"),
    [(True, "(development Przelewy24)"), (False, "Payments:               Przelewy24 at")],
)
def test_the_welcome_says_where_payments_go(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: bool, said: str
) -> None:
    settings = Settings(gateway_port=8123, web_dist=tmp_path)
    invoices = [DemoInvoice("Anna Nowak", "FV/2026/10/1001", Decimal("335.92"))]
    _print_welcome(settings, invoices, mailbox=True, provider=provider)
    [line] = [x for x in capsys.readouterr().out.splitlines() if "Payments:" in x]
    assert said in line and settings.p24_base_url in line
