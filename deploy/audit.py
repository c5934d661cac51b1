"""Look the locked Python dependencies up in PyPI's vulnerability data with pip-audit, and say
plainly how much could be checked.

    python -m deploy.audit [requirements-dev.lock]

Exit 1 when a locked package has a known vulnerability; 0 otherwise. Where the vulnerability
data cannot be reached (a registry mirror without PyPI's per-version JSON, no route to OSV), the
packages are reported as not audited, with a warning — `make test` goes on, since a machine
without the data can neither prove nor disprove anything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    lock = argv[0] if argv else "requirements-dev.lock"
    pip_audit = Path(sys.executable).with_name("pip-audit")
    run = subprocess.run(
        [str(pip_audit), "-f", "json", "--require-hashes", "--disable-pip", "-r", lock],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    try:
        report = json.loads(run.stdout)
    except ValueError:
        print(f"audit: pip-audit gave no report: {run.stderr.strip()[-500:]}", file=sys.stderr)
        return 0 if run.returncode == 0 else 1
    dependencies = report.get("dependencies", [])
    skipped = [d for d in dependencies if "skip_reason" in d]
    vulnerable = [d for d in dependencies if d.get("vulns")]
    audited = len(dependencies) - len(skipped)
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            print(f"audit: {dep['name']} {dep.get('version')}: {vuln['id']} (fixed in {fixed})")
    print(
        f"audit: {audited} of {len(dependencies)} locked packages audited, "
        f"{sum(len(d['vulns']) for d in vulnerable)} known vulnerabilities"
    )
    if skipped and not audited:
        print(
            "audit: WARNING: no vulnerability data reachable from this machine "
            f"({skipped[0]['skip_reason']}); nothing was checked",
            file=sys.stderr,
        )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
