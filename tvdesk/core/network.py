"""Which network a client address belongs to, for lockouts and flood summaries.

One machine rarely has one address: a cloud host or a home router hands out a whole
IPv4 /24 or IPv6 /64, so a client that rotates its address within one is still one
client. An IPv4 address written as IPv6 (``::ffff:10.0.0.1``, what a dual-stack socket
reports) counts as the IPv4 address it is.
"""

import ipaddress
from functools import lru_cache

IPV4_PREFIX = 24
IPV6_PREFIX = 64


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``text`` names, an IPv4-mapped IPv6 as its IPv4; None for a non-address."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@lru_cache(maxsize=4096)  # a flood repeats a few addresses; parsing them once is enough
def network_of(client: str) -> str:
    """``client``'s network as CIDR text (``10.0.0.0/24``); a non-address as it is."""
    address = parse_address(client)
    if address is None:
        return client
    if isinstance(address, ipaddress.IPv4Address):
        drop = 32 - IPV4_PREFIX
        return f"{ipaddress.IPv4Address(int(address) >> drop << drop)}/{IPV4_PREFIX}"
    # int() also works for a scoped address (fe80::1%eth0); the scope is not part of it.
    drop = 128 - IPV6_PREFIX
    return f"{ipaddress.IPv6Address(int(address) >> drop << drop)}/{IPV6_PREFIX}"
