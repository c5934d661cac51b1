"""The gateway's client address: the TCP peer unless that is a trusted proxy, then the address
the nearest trusted proxy appended to X-Forwarded-For (never the client's own leftmost entry)."""

from __future__ import annotations

import pytest

from services.gateway.client_address import client_address, parse_address
from shared.settings import Settings

PROXIES = Settings(trusted_proxies="10.0.0.0/8, 192.168.1.5, fd00::/8").trusted_proxies
LB, INNER = "10.0.0.2", "10.1.2.3"  # a load balancer and a proxy behind it, both trusted


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        # No trusted proxies' peer: the header is the client's word, ignored.
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),
        ("203.0.113.9", [], "203.0.113.9"),
        # One trusted proxy: the address it appended, whatever the client put before it.
        (LB, ["198.51.100.7"], "198.51.100.7"),
        (LB, ["1.2.3.4, 198.51.100.7"], "198.51.100.7"),
        (LB, ["1.2.3.4,5.6.7.8 ,198.51.100.7"], "198.51.100.7"),
        # Two trusted proxies: past the inner one to the first untrusted address.
        (LB, [f"1.2.3.4, 198.51.100.7, {INNER}"], "198.51.100.7"),
        (LB, [f"1.2.3.4, 198.51.100.7, 192.168.1.5, {INNER}"], "198.51.100.7"),
        # A client that puts a trusted proxy's address first gains nothing.
        (LB, [f"{INNER}, 198.51.100.7"], "198.51.100.7"),
        # Several header fields are one list, in the order received.
        (LB, ["1.2.3.4", f"198.51.100.7, {INNER}"], "198.51.100.7"),
        # Nothing but trusted proxies: the farthest of them.
        (LB, [INNER], INNER),
        (LB, [], LB),
        (LB, [""], LB),
        # An entry that is no address stops the walk at the proxy that wrote it.
        (LB, ["1.2.3.4, unknown"], LB),
        (LB, [f"1.2.3.4, garbage, {INNER}"], INNER),
        # Ports and brackets as some proxies write them; IPv6; IPv4-mapped peers.
        (LB, ["198.51.100.7:51000"], "198.51.100.7"),
        (LB, ["[2001:db8::7]:443"], "2001:db8::7"),
        ("fd00::1", ["1.2.3.4, 2001:db8::7"], "2001:db8::7"),
        ("::ffff:10.0.0.2", ["198.51.100.7"], "198.51.100.7"),
        ("::ffff:203.0.113.9", ["198.51.100.7"], "203.0.113.9"),
        (None, ["198.51.100.7"], "unknown"),
    ],
)
def test_client_address_from_the_right(
    peer: str | None, forwarded_for: list[str], expected: str
) -> None:
    assert client_address(peer, forwarded_for, PROXIES) == expected


def test_without_trusted_proxies_no_header_counts() -> None:
    assert client_address(LB, ["198.51.100.7"], []) == LB
    assert client_address("127.0.0.1", ["198.51.100.7"], []) == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("198.51.100.7:80", "198.51.100.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[2001:db8::1]:80", "2001:db8::1"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
    ],
)
def test_addresses_as_proxies_write_them(text: str, expected: str) -> None:
    assert str(parse_address(text)) == expected


@pytest.mark.parametrize("text", ["", "unknown", "_hidden", "1.2.3", "[2001:db8::1", "1.2.3.4:x:y"])
def test_what_is_no_address(text: str) -> None:
    assert parse_address(text) is None
