from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from shared.services import SERVICES, Service
from shared.settings import ROOT, Settings


def test_production_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EBOK_ENV", raising=False)
    monkeypatch.delenv("EBOK_CAPTCHA_TEST_ANSWER", raising=False)
    assert Settings().env == "production"
    assert Settings().captcha_test_answer is None
    # An empty value (as compose passes an unset variable) is no test answer at all.
    monkeypatch.setenv("EBOK_CAPTCHA_TEST_ANSWER", "")
    assert Settings().captcha_test_answer is None


def test_production_refuses_the_captcha_test_answer() -> None:
    with pytest.raises(ValidationError, match="EBOK_CAPTCHA_TEST_ANSWER must not be set"):
        Settings(env="production", captcha_test_answer="X")
    assert Settings(env="production").captcha_test_answer is None
    assert Settings(env="development", captcha_test_answer="X").captcha_test_answer is not None


def started_in_production(service: str, changes: dict[str, str | None]) -> str:
    """Start `python -m services.<service>` with EBOK_ENV=production and `changes` to the
    environment (None: unset); it must refuse to start: its stderr."""
    env = {**os.environ, "EBOK_ENV": "production"}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    result = subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_a_service_will_not_start_in_production_with_a_test_captcha(service: str) -> None:
    refusal = started_in_production(service, {"EBOK_CAPTCHA_TEST_ANSWER": "X"})
    assert "EBOK_CAPTCHA_TEST_ANSWER must not be set" in refusal


def test_each_service_gets_its_own_database_on_the_server() -> None:
    s = Settings(
        namespace="acme", database_url="postgresql://u:p@db.example:6543/postgres?sslmode=require"
    )
    assert s.database_name("billing") == "acme_billing"
    assert (
        s.service_dsn("billing") == "postgresql://u:p@db.example:6543/acme_billing?sslmode=require"
    )


@pytest.mark.parametrize("namespace", ["Ebok", "1abc", "a-b", "a;drop", ""])
def test_namespace_must_be_a_safe_identifier(namespace: str) -> None:
    with pytest.raises(ValidationError):
        Settings(namespace=namespace)


def test_settings_come_from_ebok_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EBOK_SMTP_HOST", "mail.example")
    monkeypatch.setenv("EBOK_SMTP_PORT", "2525")
    monkeypatch.setenv("EBOK_RETRY_DELAYS_MS", "[10, 20]")
    s = Settings()
    assert (s.smtp_host, s.smtp_port, s.retry_delays_ms) == ("mail.example", 2525, [10, 20])
    assert s.service_url("identity") == "http://127.0.0.1:8101"
    monkeypatch.setenv("EBOK_IDENTITY_URL", "http://identity.internal:80/")
    assert Settings().service_url("identity") == "http://identity.internal:80"


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_every_service_has_its_port_and_url_from_the_environment(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, url = f"EBOK_{service.name.upper()}_PORT", f"EBOK_{service.name.upper()}_URL"
    monkeypatch.delenv(port, raising=False)
    monkeypatch.delenv(url, raising=False)
    assert Settings().service_port(service.name) == service.port
    assert Settings().service_url(service.name) == f"http://127.0.0.1:{service.port}"
    monkeypatch.setenv(port, "18999")
    assert getattr(Settings(), f"{service.name}_port") == 18999
    assert Settings().service_url(service.name) == "http://127.0.0.1:18999"
    monkeypatch.setenv(url, f"http://{service.name}.internal:80/")
    assert getattr(Settings(), f"{service.name}_url") == f"http://{service.name}.internal:80/"
    assert Settings().service_url(service.name) == f"http://{service.name}.internal:80"


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_a_service_will_not_start_in_production_without_the_internal_token(service: str) -> None:
    refusal = started_in_production(
        service, {"EBOK_INTERNAL_TOKEN": None, "EBOK_CAPTCHA_TEST_ANSWER": None}
    )
    assert "EBOK_INTERNAL_TOKEN must be set when EBOK_ENV=production" in refusal


def test_the_internal_token_is_secret_long_and_needed_in_production_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "k" * 43
    assert Settings(env="production", internal_token=token).start_problem() is None
    assert "EBOK_INTERNAL_TOKEN" in (Settings(env="production").start_problem() or "")
    assert Settings(env="development").start_problem() is None
    assert token not in repr(Settings(internal_token=token))
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(internal_token="short")
    # An empty value (compose passing an unset variable) is no token at all.
    monkeypatch.setenv("EBOK_INTERNAL_TOKEN", "")
    assert Settings().internal_token is None


def test_trusted_proxies_from_a_list_or_commas(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("EBOK_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.5,fd00::/8")
    assert [str(n) for n in Settings().trusted_proxies] == [
        "10.0.0.0/8",
        "192.168.1.5/32",
        "fd00::/8",
    ]
    monkeypatch.setenv("EBOK_TRUSTED_PROXIES", '["172.16.0.0/12"]')
    assert [str(n) for n in Settings().trusted_proxies] == ["172.16.0.0/12"]
    monkeypatch.setenv("EBOK_TRUSTED_PROXIES", "")
    assert Settings().trusted_proxies == []
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="10.0.0.1/8")  # host bits set: a typo, not a network
    with pytest.raises(ValidationError):
        Settings(trusted_proxies="proxy.internal")


def test_trust_forwarded_for_is_replaced_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("EBOK_TRUST_FORWARDED_FOR", "true")
    with pytest.raises(ValidationError, match="replaced by EBOK_TRUSTED_PROXIES"):
        Settings()
    monkeypatch.setenv("EBOK_TRUST_FORWARDED_FOR", "false")
    assert Settings().trusted_proxies == []


def test_only_the_public_service_listens_on_the_public_bind_host() -> None:
    s = Settings(bind_host="0.0.0.0")
    for service in SERVICES:
        expected = "0.0.0.0" if service.public else "127.0.0.1"
        assert s.service_bind_host(service.name) == expected, service.name
    assert Settings(internal_bind_host="10.0.0.5").service_bind_host("identity") == "10.0.0.5"
    assert Settings().gateway_ops_url() == "http://127.0.0.1:8180"
    assert Settings(internal_bind_host="0.0.0.0").gateway_ops_url(9) == "http://127.0.0.1:9"
    with pytest.raises(ValidationError, match="must differ"):
        Settings(gateway_ops_port=8080)
