"""requirements.lock (the services') and requirements-dev.lock (with the tools) pin what
pyproject.toml pins, with hashes, so that what is installed is exactly what was locked (`make
lock` after changing a pin)."""

from __future__ import annotations

import re
import tomllib

import pytest

from shared.settings import ROOT

PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(file: str) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes)."""
    found: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / file).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = normalized(match[1])
            found[current] = (match[2], 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
    return found


@pytest.mark.parametrize(
    ("file", "groups"),
    [("requirements.lock", ["dependencies"]), ("requirements-dev.lock", ["dependencies", "dev"])],
)
def test_the_locks_pin_every_direct_dependency_at_its_version_with_hashes(
    file: str, groups: list[str]
) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = [
        pin
        for group in groups
        for pin in (
            project["dependencies"]
            if group == "dependencies"
            else project["optional-dependencies"][group]
        )
    ]
    lock = locked(file)
    for pin in pins:
        name, version = PIN.match(pin).groups()  # type: ignore[union-attr]
        assert lock.get(normalized(name), (None,))[0] == version, (
            f"{pin} is not in {file} at that version: run `make lock`"
        )
    assert all(hashes for _version, hashes in lock.values()), "every package has its hashes"
