"""Ask the gateway for a proof-of-work challenge and solve it, as the web app does, printing the
proof as JSON (for trying the API with curl; see README.md, 'Try it').

    python -m deploy.captcha_proof http://127.0.0.1:8080/api/v1
"""

from __future__ import annotations

import json
import sys
import urllib.request

from services.identity.proof_of_work import Challenge, solve


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    base = argv[0].rstrip("/")
    if not base.startswith(("http://", "https://")):
        print("give the API's http(s) address, e.g. http://127.0.0.1:8080/api/v1", file=sys.stderr)
        return 2
    request = urllib.request.Request(base + "/captcha/challenge", method="POST")  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - http(s) only
        challenge = json.load(answer)
    number = solve(Challenge(**challenge))
    proof = {k: v for k, v in challenge.items() if k != "maxnumber"} | {"number": number}
    print(json.dumps(proof))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
