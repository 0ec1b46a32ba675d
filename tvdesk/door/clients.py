"""Who is knocking: the client's address (X-Forwarded-For only from the tunnel, or from
the trader's own reverse proxy on the main port) and whether it is one of TradingView's
published webhook addresses."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import web

from tvdesk.config.schema import Settings
from tvdesk.core.network import parse_address
from tvdesk.door.deps import DEPS, TRUST_FORWARDED

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_of(request: web.Request) -> tuple[str, bool]:
    """The calling client's address, and whether the request came through the tunnel.

    ``X-Forwarded-For`` is believed on the tunnel's own listener, where the agent
    appends the real address last, so anything a caller put before it is ignored; and
    on the main port only from a peer inside ``[listener] trusted_proxies``
    (``behind_proxies``). Only an IP address counts: anything else there (a name, a word like
    ``internal:x``) is ignored and the client is the TCP peer, so a client is always
    an address and can never pose as anything else.
    """
    peer = request.remote or "unknown"
    if not request.app[TRUST_FORWARDED]:
        proxies = request.app[DEPS].settings().listener.trusted_proxies
        if not proxies:
            return peer, False
        return behind_proxies(peer, request.headers.getall("X-Forwarded-For", ()), proxies), False
    forwarded = request.headers.get("X-Forwarded-For", "")
    address = forwarded_address(forwarded.rsplit(",", 1)[-1])
    return (address or peer), True


def behind_proxies(peer: str, forwarded: Sequence[str], proxies: Sequence[str]) -> str:
    """The client a trusted reverse proxy connected for, or ``peer`` when it is none.

    Only a peer inside one of ``proxies`` (CIDRs) is believed. Each proxy appends the
    address it was connected from, so ``forwarded`` (the X-Forwarded-For headers, in
    order) is read from the right, past the trader's own proxies: the first address
    that is not one of them is the client. What stands further left is the client's own
    claim, ignored. A hop that is no IP address stops the walk at the hop before it.
    """
    networks = _networks(tuple(proxies))
    if not _inside(peer, networks):
        return peer
    client = peer
    for entry in reversed(",".join(forwarded).split(",")):
        address = forwarded_address(entry)
        if address is None:
            break
        client = address
        if not _inside(address, networks):
            break
    return client


@lru_cache(maxsize=8)  # parsed once per list of proxies, not once per request
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for text in proxies:
        try:
            networks.append(ipaddress.ip_network(text))
        except ValueError:
            continue  # settings validation names it; an unreadable entry trusts nobody
    return tuple(networks)


def _inside(client: str, networks: tuple[Network, ...]) -> bool:
    address = parse_address(client)
    return address is not None and any(address in network for network in networks)


def forwarded_address(entry: str) -> str | None:
    """``entry`` as an IP address in its canonical spelling, or None when it is none.

    A scoped IPv6 address (``fe80::1%eth0``) is none either: the scope is free text,
    and no address from the internet carries one.
    """
    try:
        address = ipaddress.ip_address(entry.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        return None
    return str(address)


def is_tradingview(client: str, settings: Settings) -> bool:
    """Whether client is one of TradingView's published webhook addresses (settings)."""
    address = parse_address(client)
    if address is None:
        return False
    for listed in settings.auth.tradingview_ips:
        try:
            if address == ipaddress.ip_address(listed):
                return True
        except ValueError:
            continue
    return False


def not_tradingview(client: str) -> str:
    return (
        f"{client} is not one of TradingView's webhook addresses, and [auth] "
        "tradingview_ips_only is on, so only TradingView may send alerts through the tunnel: "
        "update [auth] tradingview_ips if TradingView has published new addresses, or turn "
        "tradingview_ips_only off to send from elsewhere"
    )
