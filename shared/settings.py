"""Settings for every service, read from `EBOK_` environment variables (README lists them)."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from pydantic import (
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.services import SERVICES

ROOT = Path(__file__).resolve().parent.parent
# The shortest EBOK_INTERNAL_TOKEN accepted: `secrets.token_urlsafe(32)` gives 43 characters.
INTERNAL_TOKEN_MIN_LENGTH = 32

# EBOK_<NAME>_PORT (where the service listens) and EBOK_<NAME>_URL (where the others find it:
# one URL or several separated by commas, one per instance; unset = http://127.0.0.1:<port>) for
# every registered service, so a new service needs no edit
# here.
_ServiceAddresses = create_model(
    "_ServiceAddresses",
    __base__=BaseSettings,
    **{f"{s.name}_port": (int, s.port) for s in SERVICES},
    **{f"{s.name}_url": (str | None, None) for s in SERVICES},
)


class Settings(_ServiceAddresses):
    model_config = SettingsConfigDict(env_prefix="EBOK_", extra="ignore", frozen=True)

    # Production unless asked otherwise: `make run` and the tests ask for development / test.
    env: Literal["development", "test", "production"] = "production"
    namespace: str = Field("ebok", pattern=r"^[a-z][a-z0-9_]{0,39}$")
    log_level: str = "INFO"
    log_format: Literal["json", "console"] = "json"
    timezone: str = "Europe/Warsaw"

    # Infrastructure
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # A role that creates the services' databases and roles and runs their migrations (as each
    # database's owner role); the services themselves run as `<namespace>_<service>_app`, which
    # may only read and write rows (shared/db.py `migrate`).
    database_url: str = "postgresql://postgres@127.0.0.1:5432/postgres"
    # The password of the services' `…_app` roles (unset: none, for trust or peer authentication).
    database_app_password: SecretStr | None = None
    # False: the service only checks that its database is migrated (`python -m deploy.migrate`
    # did it, e.g. as the pod's init container) and needs no provisioning credentials: only
    # EBOK_DATABASE_URL's host and EBOK_DATABASE_APP_PASSWORD.
    migrate_on_start: bool = True
    db_pool_min: int = 1
    db_pool_max: int = 10
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_timeout_seconds: float = 10.0
    # "starttls" (upgrade the connection; required), "tls" (TLS from the start, e.g. port 465) or
    # "none". Unset: STARTTLS, except in development and test (the local mailbox speaks plain).
    smtp_security: Literal["none", "starttls", "tls"] | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # A CA bundle to trust for the SMTP server's certificate besides the system's.
    smtp_ca_file: Path | None = None
    mail_from: str = "e-BOK <ebok@localhost>"

    # HTTP
    # The gateway (the public entry) listens here; every other service, and the gateway's
    # operations port, on internal_bind_host.
    bind_host: str = "127.0.0.1"
    internal_bind_host: str = "127.0.0.1"
    # The gateway's readiness and metrics, kept off its public port.
    gateway_ops_port: int = Field(8180, ge=0, le=65535)
    public_url: str = "http://127.0.0.1:8080"
    upstream_timeout_seconds: float = 10.0
    # A connection to an upstream instance that does not open within this goes to the next
    # instance (EBOK_<NAME>_URL may list several), and the instance is set aside this long.
    upstream_connect_timeout_seconds: float = Field(2.0, gt=0)
    upstream_set_aside_seconds: float = Field(5.0, ge=0)
    # Proxies in front of the gateway whose X-Forwarded-For it believes: IPs or CIDRs, as a JSON
    # list or separated by commas. Empty: the client is the TCP peer, whatever headers say.
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = []
    # Replaced by trusted_proxies; still read only to refuse `true` (see the validator).
    trust_forwarded_for: bool | None = None
    # The gateway proves itself to the services with it (X-Ebok-Internal-Token): only then do
    # they take the client address it passes on. Required in production (start_problem).
    internal_token: SecretStr | None = None
    # The front end's build (Vite's output) that the gateway serves at /.
    web_dist: Path = ROOT / "web" / "dist"

    # Messaging
    # Messages a consumer holds unacknowledged; up to `consumer_transactions` batches of up to
    # `consumer_batch_size` of them are handled at once, each in one transaction. Fewer, larger
    # batches cost less per message under load (tests/bench/bench_feed.py, docs/benchmarks.md);
    # a message alone in the queue still goes at once. One transaction at a time by default: what
    # arrives meanwhile makes the next batch (two at once made batches of ~44 messages where one
    # makes ~120, and billing's two transactions waited on each other's settlement locks).
    amqp_prefetch: int = Field(500, ge=1, le=1000)
    consumer_transactions: int = Field(1, ge=1, le=64)
    consumer_batch_size: int = Field(250, ge=1, le=1000)
    queue_type: Literal["quorum", "classic"] = "quorum"
    retry_delays_ms: list[int] = [1_000, 5_000, 30_000, 120_000, 600_000]
    outbox_poll_seconds: float = 1.0
    # How long handled inbox rows and published outbox rows are kept (shared/retention.py), and
    # how often a service looks for old ones.
    inbox_retention_days: int = Field(14, ge=1)
    outbox_retention_days: int = Field(7, ge=1)
    retention_poll_seconds: float = 300.0
    broker_connect_timeout_seconds: float = 60.0

    # Tracing (shared/tracing.py): unset, nothing is traced and nothing is installed. Set, the
    # OTLP/HTTP endpoint of a collector (Jaeger, Tempo, an OpenTelemetry Collector), e.g.
    # http://otel-collector:4318 (spans go to its /v1/traces).
    otlp_endpoint: str | None = None
    # Headers for the collector (e.g. its credentials), as `name=value` separated by commas.
    otlp_headers: SecretStr | None = None
    # The share of traces started in e-BOK that are kept; a call that comes with a trace keeps
    # its caller's decision.
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)
    # The journal (shared/messaging/journal.py): a RabbitMQ stream `<ns>.journal` bound like the
    # consumer queues, keeping every message they take for this long (RabbitMQ's units: Y, M, D,
    # h, m, s), so `python -m deploy.replay` can give a restored service what it lost. Shorter
    # than inbox_retention_days: a replayed message the service handled must still be in its inbox.
    journal: bool = True
    journal_max_age: str = Field("7D", pattern=r"^[1-9][0-9]*[YMDhms]$")
    # How often each process samples the operations gauges (shared/ops_metrics.py: outbox,
    # queue and dead-letter depths, the email queue): one SQL per probe, passive declares.
    metrics_sample_seconds: float = Field(15.0, gt=0)

    # Security
    jwt_private_key_file: Path = ROOT / "var" / "keys" / "jwt-private.pem"
    jwt_public_key_file: Path = ROOT / "var" / "keys" / "jwt-public.pem"
    # Public keys still accepted during a rotation (docs/operations.md, "Keys"): a JSON list or
    # paths separated by commas. Tokens name their key in `kid`.
    jwt_previous_public_key_files: Annotated[list[Path], NoDecode] = []
    # Seals the secrets events carry (shared/sealing.py); identity, billing and notifications
    # read it.
    sealing_key_file: Path = ROOT / "var" / "keys" / "sealing.key"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    # A session ends this long after its sign-in however often it is refreshed.
    session_max_seconds: int = Field(24 * 3600, ge=60)
    # How often a service looks for ended sessions besides being told at once (NOTIFY).
    revocation_poll_seconds: float = 1.0
    activation_token_ttl_seconds: int = 48 * 3600
    one_time_password_ttl_seconds: int = Field(72 * 3600, ge=60)
    captcha_ttl_seconds: int = 300
    # The proof of work before each CAPTCHA (services/identity/proof_of_work.py): how many
    # numbers a client may have to try (on average half), and how long a challenge lasts.
    captcha_pow_max_number: int = Field(1_000_000, ge=1, le=100_000_000)
    captcha_pow_ttl_seconds: int = Field(600, ge=10)
    # CAPTCHA sounds are made in these worker processes, one at a time each; beyond this many
    # waiting, a request is answered 503 busy.
    captcha_audio_processes: int = Field(2, ge=1, le=64)
    captcha_audio_queue: int = Field(16, ge=0)
    captcha_test_answer: SecretStr | None = None
    login_failures_per_window: int = 5
    login_failures_per_ip_per_window: int = 100
    login_window_seconds: int = 900
    # argon2 calls for anonymous and customer requests at once per process (64 MiB each), and
    # how long one waits for a turn before it is answered 503 busy.
    password_hash_concurrency: int = Field(8, ge=1, le=256)
    password_hash_wait_seconds: float = Field(2.0, ge=0, le=60)
    registrations_per_window: int = 10
    registration_window_seconds: int = 3600
    # Failed invoice matches allowed per invoice number and per customer, in this window,
    # whatever addresses they come from.
    registration_mismatches_per_invoice: int = 5
    registration_mismatches_per_customer: int = 10
    registration_mismatch_window_seconds: int = 24 * 3600
    # Only an invoice issued within this many days proves a registration.
    registration_invoice_max_age_days: int = Field(400, ge=1)
    # After an operator gives an account back (services/identity/reclaim.py), only the address
    # the ERP has on file may register for the customer, for this many days.
    reclaim_hold_days: int = Field(30, ge=0)
    captchas_per_window: int = 60
    captcha_window_seconds: int = 600

    # Online payments (services/payments, docs/adding-a-payment-provider.md): the provider and
    # Przelewy24's credentials. The CRC and API keys are secrets: never logged nor returned.
    payments_provider: Literal["p24"] = "p24"
    p24_base_url: str = "https://sandbox.przelewy24.pl"
    p24_merchant_id: int = Field(0, ge=0)
    p24_pos_id: int = Field(0, ge=0)
    p24_crc: SecretStr = SecretStr("")
    p24_api_key: SecretStr = SecretStr("")
    # Below EBOK_UPSTREAM_TIMEOUT_SECONDS: the payer hears the 502, not the gateway's 503.
    p24_timeout_seconds: float = Field(5.0, gt=0)
    # Where Przelewy24 sends notifications from (IPs or CIDRs, as trusted_proxies): from any other
    # address the notification route answers 403 before reading it. Empty: any address (the
    # signature is the proof).
    p24_notify_from: Annotated[list[IPvAnyNetwork], NoDecode] = []
    # A payment pending this long is asked about by its session id (reconciliation), this often;
    # one the provider has no payment for after payments_expire_after_seconds is expired.
    payments_reconcile_after_seconds: float = Field(300.0, ge=0)
    payments_reconcile_poll_seconds: float = Field(30.0, gt=0)
    payments_expire_after_seconds: float = Field(3600.0, ge=0)
    # Notifications taken from one client address per window (a fixed window, as identity's
    # limits): far above what a provider sends, so the public route cannot be used to flood
    # payments with work; more answer 429. 0: no limit.
    payment_notifications_per_window: int = Field(600, ge=0)
    payment_notification_window_seconds: int = Field(60, ge=1)

    # Email delivery
    email_retry_base_seconds: float = 5.0
    email_retry_max_seconds: float = 900.0
    email_max_attempts: int = 30
    email_poll_seconds: float = 1.0

    # Correspondence (issue 13): the credential the back office fetches attachments with
    # (Authorization: Bearer …); unset: the back office route refuses every request.
    backoffice_token: SecretStr | None = None

    # E-invoice and the customer's emails (issue 12)
    # How long a link that confirms an e-invoice address works.
    e_invoice_confirmation_hours: int = Field(72, ge=1, le=24 * 30)
    # E-invoice activations and address changes a customer may ask for per hour (each sends an
    # email to an address of the caller's choosing); more answer 429.
    e_invoice_requests_per_hour: int = Field(10, ge=1)
    # How often billing renders and hands over the PDFs of e-invoices waiting to go.
    e_invoice_poll_seconds: float = Field(1.0, gt=0)
    # The reminder goes this many days (of the utility's calendar) before an unpaid invoice's
    # due date; billing's scheduler looks every EBOK_REMINDER_POLL_SECONDS.
    reminder_days_before_due: int = Field(3, ge=0, le=60)
    reminder_poll_seconds: float = Field(300.0, gt=0)

    @field_validator("jwt_previous_public_key_files", mode="before")
    @classmethod
    def _paths_from_text(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator(
        "captcha_test_answer",
        "internal_token",
        "backoffice_token",
        "otlp_endpoint",
        "otlp_headers",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("internal_token", "backoffice_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < INTERNAL_TOKEN_MIN_LENGTH:
            raise ValueError(
                f"EBOK_{(info.field_name or '').upper()} must be at least "
                f"{INTERNAL_TOKEN_MIN_LENGTH} characters, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("trusted_proxies", "p24_notify_from", mode="before")
    @classmethod
    def _proxies_as_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    # Field validators rather than model validators: their errors quote only their own value,
    # never the other settings (secrets among them).
    @field_validator("trust_forwarded_for")
    @classmethod
    def _trust_forwarded_for_is_replaced(cls, value: bool | None) -> bool | None:
        # Taking it as "trust every peer" would keep the spoofing it was replaced for; ignoring
        # it would put every client behind the proxy into one rate-limit bucket. Say so instead.
        if value:
            raise ValueError(
                "EBOK_TRUST_FORWARDED_FOR is replaced by EBOK_TRUSTED_PROXIES: list the "
                "addresses (IPs or CIDRs) of the proxies in front of the gateway instead"
            )
        return value

    @field_validator("gateway_ops_port")
    @classmethod
    def _ops_port_apart(cls, value: int, info: ValidationInfo) -> int:
        if value and value == info.data.get("gateway_port"):
            raise ValueError("EBOK_GATEWAY_OPS_PORT must differ from EBOK_GATEWAY_PORT")
        return value

    @model_validator(mode="after")
    def _smtp_credentials_come_in_pairs(self) -> Settings:
        if bool(self.smtp_username) != (self.smtp_password is not None):
            raise ValueError("EBOK_SMTP_USERNAME and EBOK_SMTP_PASSWORD go together")
        return self

    @model_validator(mode="after")
    def _refuse_test_captcha_in_production(self) -> Settings:
        if self.env == "production" and self.captcha_test_answer is not None:
            raise ValueError(
                "EBOK_CAPTCHA_TEST_ANSWER must not be set when EBOK_ENV=production: "
                "it would let anyone pass every CAPTCHA"
            )
        return self

    def start_problem(self) -> str | None:
        """Why a service must not start with these settings. Checked when a service starts, not
        on every load: tools (deploy.keys, the reclaim command) need no internal token."""
        if self.env == "production" and self.internal_token is None:
            return (
                "EBOK_INTERNAL_TOKEN must be set when EBOK_ENV=production: without it the "
                "services cannot tell the gateway's calls from anyone else's"
            )
        return None

    def gateway_ops_url(self, port: int | None = None) -> str:
        """Where this machine reaches the gateway's operations listener (on the internal bind
        host; `port`: the one it took, when EBOK_GATEWAY_OPS_PORT is 0)."""
        host = self.internal_bind_host
        host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.gateway_ops_port if port is None else port}"

    def service_bind_host(self, service: str) -> str:
        """Where `service` listens: the public entry on EBOK_BIND_HOST, the others on
        EBOK_INTERNAL_BIND_HOST."""
        public = next(s.public for s in SERVICES if s.name == service)
        return self.bind_host if public else self.internal_bind_host

    @property
    def smtp_transport_security(self) -> Literal["none", "starttls", "tls"]:
        if self.smtp_security is not None:
            return self.smtp_security
        return "none" if self.env in ("development", "test") else "starttls"

    def today(self) -> date:
        """The utility's calendar date: due dates and "overdue" follow it, not UTC."""
        return datetime.now(ZoneInfo(self.timezone)).date()

    def database_name(self, service: str) -> str:
        return f"{self.namespace}_{service}"

    def database_dsn(self, database: str) -> str:
        """The server URL from EBOK_DATABASE_URL with its database replaced."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def service_dsn(self, service: str) -> str:
        return self.database_dsn(self.database_name(service))

    def service_port(self, service: str) -> int:
        port: int = getattr(self, f"{service}_port")
        return port

    def service_url(self, service: str) -> str:
        """Where `service` is found: the first of its EBOK_<NAME>_URL (which may list several
        instances, see service_urls), or this machine at its port."""
        return self.service_urls(service)[0]

    def service_urls(self, service: str) -> list[str]:
        """Every instance of `service`: EBOK_<NAME>_URL may list several URLs separated by
        commas (the gateway balances over them); unset, this machine at its port."""
        explicit: str | None = getattr(self, f"{service}_url")
        urls = [part.strip().rstrip("/") for part in (explicit or "").split(",") if part.strip()]
        return urls or [f"http://127.0.0.1:{self.service_port(service)}"]
