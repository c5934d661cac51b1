from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from deploy import audit


def fake_pip_audit(monkeypatch: pytest.MonkeyPatch, dependencies: list[dict[str, Any]]) -> None:
    def run(*_args: object, **_kwargs: object) -> subprocess.CompletedProcess[str]:
        report = json.dumps({"dependencies": dependencies, "fixes": []})
        return subprocess.CompletedProcess(
            [], 1 if any(d.get("vulns") for d in dependencies) else 0, report, ""
        )

    monkeypatch.setattr(audit.subprocess, "run", run)


def test_a_known_vulnerability_fails_the_audit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pip_audit(
        monkeypatch,
        [
            {
                "name": "aiohttp",
                "version": "3.0.0",
                "vulns": [{"id": "GHSA-xxxx", "fix_versions": ["3.9.2"], "description": "..."}],
            },
            {"name": "yarl", "version": "1.25.1", "vulns": []},
        ],
    )
    assert audit.main([]) == 1
    out = capsys.readouterr().out
    assert "aiohttp 3.0.0: GHSA-xxxx (fixed in 3.9.2)" in out
    assert "2 of 2 locked packages audited, 1 known vulnerabilities" in out


def test_unreachable_data_is_said_plainly_and_does_not_fail(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_pip_audit(
        monkeypatch,
        [{"name": "yarl", "skip_reason": "Dependency not found on PyPI and could not be audited"}],
    )
    assert audit.main([]) == 0
    captured = capsys.readouterr()
    assert "0 of 1 locked packages audited" in captured.out
    assert "nothing was checked" in captured.err
