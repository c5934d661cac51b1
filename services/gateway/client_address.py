"""The client's address as the gateway tells it to the services (rate limits, records).

Behind trusted proxies (EBOK_TRUSTED_PROXIES) the client is the address the nearest proxy
appended to X-Forwarded-For, not the leftmost one: every proxy appends its peer, so only the
entries from the right up to the first untrusted one were written by proxies we trust, and
anything to the left of that was sent by the client itself."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network
Address = IPv4Address | IPv6Address


def parse_address(text: str) -> Address | None:
    """An address as proxies write them: `1.2.3.4`, `2001:db8::1`, and with a port
    `1.2.3.4:5678` or `[2001:db8::1]:5678`; an IPv4-mapped IPv6 address as its IPv4 one."""
    text = text.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_trusted(address: Address, proxies: Sequence[Network]) -> bool:
    return any(address in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: Sequence[Network]
) -> str:
    """The client of a request from TCP peer `peer` with these X-Forwarded-For header values
    (in the order received). Without a trusted peer, the peer; else X-Forwarded-For from the
    right, past trusted proxies, to the first address that is not one. A chain of nothing but
    trusted proxies gives its leftmost; an entry that is no address stops the walk at the proxy
    that wrote it (we cannot tell who is behind it)."""
    if peer is None:
        return "unknown"
    peer_address = parse_address(peer)
    if peer_address is None or not is_trusted(peer_address, proxies):
        return str(peer_address) if peer_address is not None else peer
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    nearest = peer_address
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return str(nearest)
        if not is_trusted(address, proxies):
            return str(address)
        nearest = address
    return str(nearest)
