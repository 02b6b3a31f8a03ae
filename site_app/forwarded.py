"""The client's address behind a trusted proxy (``http.trusted_proxies``).

X-Forwarded-For is a list each proxy appends the address it got the request from to, so only
its right end is written by proxies the site trusts: everything left of the first untrusted
address could be anything a client sent. The client is therefore the right-most address that is
not a trusted proxy, and only when the request itself came from a trusted proxy (otherwise a
client could name any address and get a fresh allowance of login attempts with each one).
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

Network = IPv4Network | IPv6Network


def _trusted(address: IPv4Address | IPv6Address, proxies: Iterable[Network]) -> bool:
    return any(address in network for network in proxies)


def from_trusted_proxy(peer: str, proxies: tuple[Network, ...]) -> bool:
    """Whether the request came from one of ``proxies`` (its forwarding headers count)."""
    try:
        return _trusted(ip_address(peer), proxies)
    except ValueError:
        return False


def client_address(peer: str, forwarded_for: Iterable[str], proxies: tuple[Network, ...]) -> str:
    """The client's address: ``peer`` (the socket's) unless it is a trusted proxy, then the
    right-most entry of the ``X-Forwarded-For`` headers (``forwarded_for``, in the order they
    came) that is not a trusted proxy. An entry that is not an address ends the walk at the last
    trusted hop (nothing left of it can be believed); so does a list of trusted proxies only."""
    try:
        hop = ip_address(peer)
    except ValueError:
        return peer
    if not proxies or not _trusted(hop, proxies):
        return peer
    entries = [e.strip() for header in forwarded_for for e in header.split(",") if e.strip()]
    for entry in reversed(entries):
        try:
            address = ip_address(entry.removeprefix("[").split("]")[0])
        except ValueError:
            break
        if not _trusted(address, proxies):
            return str(address)
        hop = address
    return str(hop)
