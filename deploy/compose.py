"""deploy/compose.yaml, generated from the list of services (shared/services.py).

python -m deploy.compose          writes deploy/compose.yaml
python -m deploy.compose --check  fails when the file differs from what the list gives
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from shared.services import GATEWAY_UPSTREAMS, SERVICES, Service
from shared.settings import Settings

COMPOSE_FILE = Path(__file__).resolve().parent / "compose.yaml"
SMTP_PORT = 8025
GATEWAY_OPS_PORT: int = Settings.model_fields["gateway_ops_port"].default
# What compose says when the caller has not set it (${VAR:?message}).
UNSET_MESSAGE = "set EBOK_INTERNAL_TOKEN to a random secret of 32+ characters"
MAILBOX_HTTP_PORT = 8090
# More than the services' own shutdown timeout (shared/runtime.py run_service, 20 s).
STOP_GRACE_SECONDS = 30
# Exact versions (the suite runs against PostgreSQL 15 and RabbitMQ 3.10; nothing it uses
# changed since).
POSTGRES_IMAGE = "postgres:16.10-alpine"
RABBITMQ_IMAGE = "rabbitmq:3.13.7-management-alpine"
# Settings only one service reads, given to its container alone (secrets among them).
SERVICE_ENVIRONMENT: dict[str, dict[str, str]] = {
    "payments": {
        "EBOK_P24_BASE_URL": "${EBOK_P24_BASE_URL:-https://sandbox.przelewy24.pl}",
        "EBOK_P24_MERCHANT_ID": "${EBOK_P24_MERCHANT_ID:-0}",
        "EBOK_P24_POS_ID": "${EBOK_P24_POS_ID:-0}",
        "EBOK_P24_CRC": "${EBOK_P24_CRC:-}",
        "EBOK_P24_API_KEY": "${EBOK_P24_API_KEY:-}",
    },
}


def _quoted(value: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar: no value can change the file's shape.
    return json.dumps(value)


def _healthcheck(*args: str) -> str:
    """A compose healthcheck running deploy/healthcheck.py with `args` in the container."""
    test = ", ".join(_quoted(a) for a in ["CMD", "python", "-m", "deploy.healthcheck", *args])
    return f"    healthcheck: {{ <<: *health, test: [{test}] }}"


def upstream_urls() -> dict[str, str]:
    """Where the gateway finds each upstream: one instance by default (the service's name on
    the compose network); the caller may list several, separated by commas (after
    `--scale <name>=N`: http://ebok-<name>-1:<port>,http://ebok-<name>-2:<port>)."""
    ports = {s.name: s.port for s in SERVICES}
    return {
        f"EBOK_{name.upper()}_URL": "${EBOK_"
        + name.upper()
        + f"_URL:-http://{name}:{ports[name]}"
        + "}"
        for name in GATEWAY_UPSTREAMS
    }


def _own_environment(service: Service) -> dict[str, str]:
    """What only this service's container is given: its health port, the URLs it needs (the
    gateway: every upstream's; an upstream: its own, for links it hands out), its secrets."""
    urls = upstream_urls()
    own_url = f"EBOK_{service.name.upper()}_URL"
    return {
        "EBOK_HEALTH_PORT": str(service.port),
        **(urls if service.public else {k: v for k, v in urls.items() if k == own_url}),
        **SERVICE_ENVIRONMENT.get(service.name, {}),
    }


def render() -> str:
    public = next(s for s in SERVICES if s.public)
    internal = [s for s in SERVICES if not s.public]
    environment = {
        # Production unless the caller asks for development (see the header).
        "EBOK_ENV": "${EBOK_ENV:-production}",
        # Inside a container only 0.0.0.0 is reachable from the other containers: the internal
        # services and the gateway's operations port too. Only the public port is published.
        "EBOK_BIND_HOST": "0.0.0.0",
        "EBOK_INTERNAL_BIND_HOST": "0.0.0.0",
        "EBOK_GATEWAY_OPS_PORT": str(GATEWAY_OPS_PORT),
        # The gateway's credential towards the services: compose refuses to start without it.
        "EBOK_INTERNAL_TOKEN": "${EBOK_INTERNAL_TOKEN:?" + UNSET_MESSAGE + "}",
        # Proxies in front of the gateway whose X-Forwarded-For it believes (none by default).
        "EBOK_TRUSTED_PROXIES": "${EBOK_TRUSTED_PROXIES:-}",
        "EBOK_DATABASE_URL": "postgresql://postgres:ebok@postgres:5432/postgres",
        "EBOK_AMQP_URL": "amqp://guest:guest@rabbitmq:5672/",
        # The bundled development mailbox, which speaks plain SMTP; a real relay: set all three.
        "EBOK_SMTP_HOST": "${EBOK_SMTP_HOST:-mailbox}",
        "EBOK_SMTP_PORT": "${EBOK_SMTP_PORT:-" + str(SMTP_PORT) + "}",
        "EBOK_SMTP_SECURITY": "${EBOK_SMTP_SECURITY:-none}",
        "EBOK_PUBLIC_URL": f"http://localhost:{public.port}",
        "EBOK_JWT_PRIVATE_KEY_FILE": "/keys/jwt-private.pem",
        "EBOK_JWT_PUBLIC_KEY_FILE": "/keys/jwt-public.pem",
        "EBOK_SEALING_KEY_FILE": "/keys/sealing.key",
        "EBOK_CAPTCHA_TEST_ANSWER": "${EBOK_CAPTCHA_TEST_ANSWER:-}",
    }
    lines = [
        "# Generated from shared/services.py by `python -m deploy.compose` (deploy/compose.py):",
        "# edit those, not this file.",
        "# The whole platform in containers (for a machine with Docker):",
        "#   EBOK_INTERNAL_TOKEN=$(openssl rand -base64 32) \\",
        "#     docker compose -f deploy/compose.yaml up --build --wait",
        "# It runs with EBOK_ENV=production; for a demo whose CAPTCHA also takes a fixed answer:",
        "#   EBOK_ENV=development EBOK_CAPTCHA_TEST_ANSWER=DEMO1 \\",
        "#     EBOK_INTERNAL_TOKEN=$(openssl rand -base64 32) \\",
        "#     docker compose -f deploy/compose.yaml up --build --wait",
        f"# The {public.name} answers on http://localhost:{public.port}/api/v1"
        f" (and the web app on /), the mailbox on http://localhost:{MAILBOX_HTTP_PORT}/.",
        f"# Its /health/ready and /metrics answer on port {GATEWAY_OPS_PORT}, not published:",
        "# for tools on the compose network.",
        "# Every container of the platform runs the one image (deploy/Dockerfile), as user 10001.",
        "name: ebok",
        "",
        "x-image: &image",
        "  image: ${EBOK_IMAGE:-ebok:dev}",
        "  build: { context: .., dockerfile: deploy/Dockerfile }",
        # A minimal init as PID 1: passes SIGTERM on and reaps what the process leaves behind.
        "  init: true",
        "",
        # Readiness, not mere liveness: a service is healthy once its database (migrated) and
        # broker answer; the gateway once each of its upstreams answers.
        "x-health: &health",
        "  interval: 10s",
        "  timeout: 3s",
        "  retries: 3",
        "  start_period: 120s",
        "  start_interval: 2s",
        "",
        "x-service: &service",
        "  <<: *image",
        "  restart: unless-stopped",
        # SIGTERM first: a service lets in-flight requests (up to 20 s) and messages finish
        # before it stops; Docker's default of 10 s would cut them short with SIGKILL.
        f"  stop_grace_period: {STOP_GRACE_SECONDS}s",
        "  depends_on: &needs",
        "    postgres: { condition: service_healthy }",
        "    rabbitmq: { condition: service_healthy }",
        "    keys: { condition: service_completed_successfully }",
        "  volumes: [keys:/keys:ro]",
        "  environment: &env",
        *(f"    {key}: {_quoted(value)}" for key, value in environment.items()),
        "",
        "services:",
        "  postgres:",
        f"    image: {POSTGRES_IMAGE}",
        "    restart: unless-stopped",
        "    environment: { POSTGRES_PASSWORD: ebok }",
        "    volumes: [pgdata:/var/lib/postgresql/data]",
        '    healthcheck: { test: ["CMD", "pg_isready", "-U", "postgres"],'
        " interval: 5s, timeout: 3s, retries: 20 }",
        "  rabbitmq:",
        f"    image: {RABBITMQ_IMAGE}",
        # Its data directory is named after the node, the node after the host: a fixed name
        # keeps the queues (and the messages in them) when the container is recreated.
        "    hostname: rabbitmq",
        "    restart: unless-stopped",
        "    volumes: [rabbitmq:/var/lib/rabbitmq]",
        '    healthcheck: { test: ["CMD", "rabbitmq-diagnostics", "-q", "ping"],'
        " interval: 5s, timeout: 5s, retries: 30 }",
        # Runs once and exits: the services wait for it to have succeeded (no health to check).
        "  keys:",
        "    <<: *image",
        '    command: ["python", "-m", "deploy.keys"]',
        "    environment:",
        "      EBOK_JWT_PRIVATE_KEY_FILE: /keys/jwt-private.pem",
        "      EBOK_JWT_PUBLIC_KEY_FILE: /keys/jwt-public.pem",
        "      EBOK_SEALING_KEY_FILE: /keys/sealing.key",
        "    volumes: [keys:/keys]",
        '    restart: "no"',
        "    healthcheck: { disable: true }",
        "  mailbox:",
        "    <<: *image",
        "    restart: unless-stopped",
        '    command: ["python", "-m", "deploy.mailbox", "--host", "0.0.0.0",'
        f' "--smtp-port", "{SMTP_PORT}", "--http-port", "{MAILBOX_HTTP_PORT}"]',
        f'    ports: ["{MAILBOX_HTTP_PORT}:{MAILBOX_HTTP_PORT}"]',
        _healthcheck("--port", str(MAILBOX_HTTP_PORT), "--smtp-port", str(SMTP_PORT)),
    ]
    for service in SERVICES:
        lines += [
            f"  {service.name}:",
            "    <<: *service",
            f'    command: ["python", "-m", "{service.module}"]',
            # The image's own HEALTHCHECK reads the port from EBOK_HEALTH_PORT.
            "    environment: { <<: *env, "
            + ", ".join(
                f"{key}: {_quoted(value)}" for key, value in _own_environment(service).items()
            )
            + " }",
        ]
        if service.public:
            # It needs neither database nor broker; it opens once every service is ready.
            lines += [
                "    depends_on:",
                "      keys: { condition: service_completed_successfully }",
                *(f"      {s.name}: {{ condition: service_healthy }}" for s in internal),
                f'    ports: ["{service.port}:{service.port}"]',
                _healthcheck("--port", str(GATEWAY_OPS_PORT), "--path", "/health/ready"),
            ]
        else:
            if service.name == "notifications":
                lines += [
                    "    depends_on: { <<: *needs, mailbox: { condition: service_healthy } }",
                ]
            lines.append(_healthcheck("--port", str(service.port), "--path", "/health/ready"))
    lines += ["", "volumes:", "  pgdata:", "  rabbitmq:", "  keys:"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    wanted = render()
    if "--check" in argv:
        if not COMPOSE_FILE.exists() or COMPOSE_FILE.read_text() != wanted:
            print("out of date: deploy/compose.yaml (run python -m deploy.compose)")
            return 1
        return 0
    COMPOSE_FILE.write_text(wanted)
    print(f"wrote {COMPOSE_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
