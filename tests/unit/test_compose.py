"""deploy/compose.yaml is generated from the list of services and runs every one of them."""

from __future__ import annotations

import yaml

from deploy.compose import COMPOSE_FILE, GATEWAY_OPS_PORT, main, render
from shared.services import GATEWAY_UPSTREAMS, SERVICES


def test_compose_file_is_up_to_date() -> None:
    assert COMPOSE_FILE.read_text() == render(), (
        "deploy/compose.yaml is stale: run python -m deploy.compose"
    )
    assert main(["--check"]) == 0


def test_compose_runs_every_service_reachable_and_health_checked() -> None:
    # Read the file as compose would, merge keys included.
    services = yaml.safe_load(render())["services"]
    for service in SERVICES:
        defined = services[service.name]
        env = defined["environment"]
        assert defined["command"] == ["python", "-m", service.module]
        assert env["EBOK_BIND_HOST"] == "0.0.0.0"
        # In its container an internal service must be reachable by the others; it is not
        # published (below), and neither is the gateway's operations port.
        assert env["EBOK_INTERNAL_BIND_HOST"] == "0.0.0.0"
        assert env["EBOK_GATEWAY_OPS_PORT"] == str(GATEWAY_OPS_PORT)
        # The caller's internal token, or compose refuses to start (${VAR:?message}).
        assert env["EBOK_INTERNAL_TOKEN"].startswith("${EBOK_INTERNAL_TOKEN:?")
        assert env["EBOK_TRUSTED_PROXIES"] == "${EBOK_TRUSTED_PROXIES:-}"
        # Production unless the caller asks otherwise; no CAPTCHA test answer of its own.
        assert env["EBOK_ENV"] == "${EBOK_ENV:-production}"
        assert env["EBOK_CAPTCHA_TEST_ANSWER"] == "${EBOK_CAPTCHA_TEST_ANSWER:-}"
        assert env["EBOK_HEALTH_PORT"] == str(service.port)
        # The gateway knows every upstream, an upstream its own URL (for the links it hands
        # out), nobody else's: scaling one service changes only it and the gateway.
        for upstream in GATEWAY_UPSTREAMS:
            variable = f"EBOK_{upstream.upper()}_URL"
            if service.public or service.name == upstream:
                port = next(s.port for s in SERVICES if s.name == upstream)
                # One instance by default; a list of instances when the caller sets it.
                assert env[variable] == f"${{{variable}:-http://{upstream}:{port}}}"
            else:
                assert variable not in env, (service.name, variable)
        published = [f"{service.port}:{service.port}"] if service.public else None
        assert defined.get("ports") == published


def test_only_payments_gets_the_payment_providers_settings() -> None:
    services = yaml.safe_load(render())["services"]
    for service in SERVICES:
        env = services[service.name]["environment"]
        has = {k for k in env if k.startswith("EBOK_P24_")}
        if service.name == "payments":
            assert env["EBOK_P24_CRC"] == "${EBOK_P24_CRC:-}"
            assert env["EBOK_P24_MERCHANT_ID"] == "${EBOK_P24_MERCHANT_ID:-0}"
        else:
            assert not has, service.name
