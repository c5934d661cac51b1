"""A container's health check: exits 0 when the process in it answers, 1 otherwise.

python -m deploy.healthcheck                        GET /health/live on $EBOK_HEALTH_PORT
python -m deploy.healthcheck --port 8102 --path /health/ready
python -m deploy.healthcheck --port 8090 --smtp-port 8025   (the mailbox: its page and SMTP)

The image's HEALTHCHECK runs the first form (no shell, so the port comes from the environment);
the compose file runs the others. Standard library only: it starts in a fraction of a second.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import urllib.error
import urllib.request

HOST = "127.0.0.1"


def http_ok(port: int, path: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def smtp_greets(port: int, timeout: float) -> bool:
    """An SMTP server greets a new connection with 220."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as conn:
            conn.settimeout(timeout)
            greeting = conn.recv(512)
            conn.sendall(b"QUIT\r\n")
            return greeting.startswith(b"220")
    except OSError:
        return False


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="default: $EBOK_HEALTH_PORT")
    parser.add_argument("--path", default="/health/live")
    parser.add_argument("--smtp-port", type=int, default=None, help="also expect SMTP here")
    parser.add_argument("--timeout", type=float, default=2.5)
    args = parser.parse_args(argv)
    port = args.port if args.port is not None else int(os.environ.get("EBOK_HEALTH_PORT", "0"))
    if not port:
        print("no port: pass --port or set EBOK_HEALTH_PORT", file=sys.stderr)
        return 1
    if not http_ok(port, args.path, args.timeout):
        print(f"unhealthy: GET {args.path} on port {port}", file=sys.stderr)
        return 1
    if args.smtp_port is not None and not smtp_greets(args.smtp_port, args.timeout):
        print(f"unhealthy: no SMTP greeting on port {args.smtp_port}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
