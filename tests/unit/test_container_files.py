"""The image and the compose file, checked offline (this machine has no Docker engine): the
Dockerfile passes hadolint, the compose file the Compose schema, every service runs in it with
its command and a health check, and no key or local environment gets into the image."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from deploy import healthcheck
from deploy.compose import COMPOSE_FILE, GATEWAY_OPS_PORT, MAILBOX_HTTP_PORT, SMTP_PORT
from deploy.mailbox import MailStore, mailbox_web_app, start_smtp_server
from shared.services import SERVICES
from tests.support.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
BIN = Path(sys.executable).parent
# An exact version: at least major.minor (PostgreSQL's own scheme), a patch where there is one.
EXACT_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+(\.\d+)?(-[a-z0-9.-]+)?$")


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is missing next to {sys.executable} (requirements-dev.lock)"
    return str(path)


# --- the Dockerfile -------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_the_dockerfile_passes_hadolint() -> None:
    # Every rule, "info" ones included (hadolint fails on any finding by default); a
    # .hadolint.yaml, if one is ever needed, must say why it ignores what it ignores.
    run = subprocess.run(
        [_tool("hadolint"), str(DOCKERFILE)], cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_hadolint_does_find_what_it_should() -> None:
    # So that the test above passes because the file is clean, not because nothing is checked.
    bad = "FROM python:latest\nRUN pip install requests\nCMD python -m services.gateway\n"
    run = subprocess.run(
        [_tool("hadolint"), "-"], input=bad, cwd=ROOT, capture_output=True, text=True
    )
    assert run.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3025"):
        assert rule in run.stdout, run.stdout


def test_one_image_multi_stage_pinned_non_root() -> None:
    instructions = _instructions()
    stages = [args for keyword, args in instructions if keyword == "FROM"]
    assert len(stages) >= 2, "the web app is built in a stage of its own"
    for stage in stages:
        image = stage.split()[0]
        assert EXACT_TAG.match(image) and re.search(r":\d+\.\d+\.\d+", image), image
    # The first stage builds the web app; the last copies its output.
    first_stage_runs = []
    for keyword, args in instructions[1:]:
        if keyword == "FROM":
            break
        if keyword == "RUN":
            first_stage_runs.append(args)
    assert stages[0].split()[-2:] == ["AS", "web"]
    assert any("npm ci" in run for run in first_stage_runs)
    assert any("npm run build" in run for run in first_stage_runs)
    assert ("COPY", "--from=web /web/dist ./web/dist") in instructions
    # Every Python dependency by its hash, none compiled.
    pip = [args for keyword, args in instructions if keyword == "RUN" and "pip install" in args]
    assert pip and all("--require-hashes" in run and "requirements.lock" in run for run in pip)
    # The last USER is a numeric uid:gid other than root's, and nothing runs after it as root.
    users = [args for keyword, args in instructions if keyword == "USER"]
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0
    # The health check needs no shell and knows the port from the environment.
    healthcheck_line = next(args for keyword, args in instructions if keyword == "HEALTHCHECK")
    assert 'CMD ["python", "-m", "deploy.healthcheck"]' in healthcheck_line
    assert ("CMD", '["python", "-m", "services.gateway"]') in instructions


def test_the_image_bakes_in_no_secret() -> None:
    # Settings come from the environment at run time; keys from a mounted volume or Secret.
    for keyword, args in _instructions():
        if keyword in ("ENV", "ARG"):
            names = re.findall(r"([A-Z_][A-Z0-9_]*)=", args) or [args.split()[0]]
            for name in names:
                assert not re.search(r"TOKEN|PASSWORD|SECRET|CRC|API_KEY|_KEY$", name), name
        if keyword in ("COPY", "ADD"):
            assert not re.search(r"\bvar\b|keys?/|\.pem|\.key\b|\.env", args), args


# --- .dockerignore: what the build context holds ------------------------------------------


@dataclass(frozen=True)
class _Pattern:
    text: str
    regex: re.Pattern[str]
    exclusion: bool


def _translate(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it (Go's filepath.Match, plus `**`)."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + "$")


def _dockerignore() -> list[_Pattern]:
    patterns = []
    for line in DOCKERIGNORE.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        text = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        patterns.append(_Pattern(text, _translate(text), exclusion))
    return patterns


def _left_out(path: str, patterns: list[_Pattern]) -> bool:
    """Whether `path` (relative, with /) stays out of the context: the last pattern that
    matches it or one of its parent directories decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    left_out = False
    for pattern in patterns:
        if any(pattern.regex.match(candidate) for candidate in candidates):
            left_out = not pattern.exclusion
    return left_out


def _context(patterns: list[_Pattern]) -> Iterator[str]:
    """Every file of the repository on this machine that `docker build .` would send."""
    for directory, dirs, files in os.walk(ROOT):
        relative = Path(directory).relative_to(ROOT).as_posix()
        prefix = "" if relative == "." else relative + "/"
        # A directory left out whose contents no `!` pattern lets back in is not entered.
        dirs[:] = [
            d
            for d in dirs
            if not _left_out(prefix + d, patterns)
            or any(p.exclusion and p.text.startswith(prefix + d + "/") for p in patterns)
        ]
        for name in files:
            if not _left_out(prefix + name, patterns):
                yield prefix + name


def test_the_build_context_leaves_out_keys_environments_and_dependencies() -> None:
    patterns = _dockerignore()
    left_out = [
        "var/keys/jwt-private.pem",
        "var/keys/sealing.key",
        "var/mail/1.eml",
        ".venv/bin/python",
        ".git/config",
        ".env",
        "shared/.env",
        "deploy/.env.production",
        "deploy/tls/server.pem",
        "services/identity/var/keys/jwt-private.pem",
        "web/node_modules/vite/package.json",
        "web/dist/index.html",
        "shared/__pycache__/settings.cpython-311.pyc",
        "tests/unit/test_compose.py",
        "docs/operations.md",
        "keys/jwt-private.pem",
        "secrets.txt",
    ]
    kept = [
        "requirements.lock",
        "shared/settings.py",
        "services/identity/migrations/0001_accounts.sql",
        "deploy/healthcheck.py",
        "web/package.json",
        "web/package-lock.json",
        "web/src/main.tsx",
    ]
    for path in left_out:
        assert _left_out(path, patterns), path
    for path in kept:
        assert not _left_out(path, patterns), path


def test_what_the_dockerfile_copies_is_in_the_context_and_nothing_secret_is() -> None:
    patterns = _dockerignore()
    context = set(_context(patterns))
    for keyword, args in _instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _destination = args.split()
            for source in sources:
                assert not _left_out(source, patterns), source
                assert any(f == source or f.startswith(source + "/") for f in context), source
    assert "shared/settings.py" in context and "web/package-lock.json" in context
    for path in context:
        assert not re.search(r"(^|/)(\.venv|var|node_modules|\.git|__pycache__)/", path), path
        assert not re.search(r"\.(pem|key|p12|pfx)$|(^|/)\.env", path), path
        data = (ROOT / path).read_bytes()
        assert b"PRIVATE KEY-----" not in data, path


# --- the compose file -----------------------------------------------------------------------


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )


def test_the_compose_file_is_valid_against_the_compose_schema(tmp_path: Path) -> None:
    run = _check_jsonschema(COMPOSE_FILE)
    assert run.returncode == 0, run.stdout + run.stderr
    # And the check refuses what compose would refuse (a misspelt health check key).
    wrong = tmp_path / "compose.yaml"
    wrong.write_text(
        COMPOSE_FILE.read_text().replace("start_period: 120s", "start_periode: 120s", 1)
    )
    assert _check_jsonschema(wrong).returncode != 0


def _services() -> dict[str, dict]:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"]


def _probe(container: dict) -> list[str]:
    check = container["healthcheck"]
    assert not check.get("disable"), check
    test = check["test"]
    assert test[:4] == ["CMD", "python", "-m", "deploy.healthcheck"], test
    return test[4:]


def test_every_service_runs_from_the_one_image_with_its_command_and_health_check() -> None:
    containers = _services()
    image = containers["keys"]["image"], containers["keys"]["build"]
    for service in SERVICES:
        container = containers[service.name]
        assert (container["image"], container["build"]) == image
        assert container["command"] == ["python", "-m", service.module]
        # Ready, not merely alive: its database (migrated) and broker answer; the gateway's
        # readiness (on its operations port) asks each of its upstreams.
        port = GATEWAY_OPS_PORT if service.public else service.port
        assert _probe(container) == ["--port", str(port), "--path", "/health/ready"]
        assert container["healthcheck"]["start_period"]
        # Time to finish in-flight work after SIGTERM (run_service's shutdown_timeout is 20 s).
        assert int(container["stop_grace_period"].rstrip("s")) > 20
        assert container["init"] is True


def test_every_container_is_health_checked_or_a_job_that_is_waited_for() -> None:
    containers = _services()
    waited_for = {
        name
        for container in containers.values()
        for name, need in (container.get("depends_on") or {}).items()
        if need["condition"] == "service_completed_successfully"
    }
    for name, container in containers.items():
        check = container.get("healthcheck", {})
        if name in waited_for:
            assert container["restart"] == "no", name
        else:
            assert check.get("test") and not check.get("disable"), name
        if name not in waited_for and "image" in container and "build" not in container:
            assert EXACT_TAG.match(container["image"]), container["image"]
    # The mailbox: its page and its SMTP port.
    assert _probe(containers["mailbox"]) == [
        "--port",
        str(MAILBOX_HTTP_PORT),
        "--smtp-port",
        str(SMTP_PORT),
    ]


def test_dependencies_wait_for_health() -> None:
    containers = _services()
    for service in SERVICES:
        needs = {
            name: need["condition"] for name, need in containers[service.name]["depends_on"].items()
        }
        assert needs["keys"] == "service_completed_successfully"
        if service.public:
            # The gateway opens once every service is ready.
            for other in SERVICES:
                if other is not service:
                    assert needs[other.name] == "service_healthy", other.name
        else:
            assert needs["postgres"] == needs["rabbitmq"] == "service_healthy"
    assert containers["notifications"]["depends_on"]["mailbox"]["condition"] == "service_healthy"
    # What compose needs to honour the conditions: a health check to wait for, a job that ends.
    for name, container in containers.items():
        for other, need in (container.get("depends_on") or {}).items():
            target = containers[other]
            if need["condition"] == "service_healthy":
                check = target.get("healthcheck", {})
                assert check.get("test") and not check.get("disable"), (name, other)
            else:
                assert need["condition"] == "service_completed_successfully", (name, other)
                assert target["restart"] == "no", (name, other)


# --- deploy/healthcheck.py against real listeners -------------------------------------------


async def test_the_health_check_answers_for_the_mailbox_and_fails_when_nothing_listens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = MailStore()
    smtp_port, http_port = free_port(), free_port()
    smtp = await start_smtp_server(store, "127.0.0.1", smtp_port)
    runner = web.AppRunner(mailbox_web_app(store))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", http_port).start()
    try:

        async def check(*args: str) -> int:
            return await asyncio.to_thread(healthcheck.main, list(args))

        assert await check("--port", str(http_port), "--smtp-port", str(smtp_port)) == 0
        # The image's form: the port from EBOK_HEALTH_PORT.
        monkeypatch.setenv("EBOK_HEALTH_PORT", str(http_port))
        assert await check() == 0
        # A path that is not 200, a port where nothing listens, SMTP missing: unhealthy.
        assert await check("--port", str(http_port), "--path", "/health/ready") == 1
        assert await check("--port", str(free_port()), "--timeout", "1") == 1
        assert await check("--port", str(http_port), "--smtp-port", str(free_port())) == 1
        # Where HTTP answers but is not SMTP.
        assert await check("--port", str(http_port), "--smtp-port", str(http_port)) == 1
        monkeypatch.delenv("EBOK_HEALTH_PORT")
        assert await check() == 1
    finally:
        smtp.close()
        await runner.cleanup()
