"""Who is knocking: the client's address (X-Forwarded-For only from the tunnel) and
whether it is one of TradingView's published webhook addresses."""

from __future__ import annotations

import ipaddress

from aiohttp import web

from tvdesk.config.schema import Settings
from tvdesk.core.network import parse_address
from tvdesk.door.deps import TRUST_FORWARDED


def client_of(request: web.Request) -> tuple[str, bool]:
    """The calling client's address, and whether the request came through the tunnel.

    ``X-Forwarded-For`` is believed only on the tunnel's own listener; there the
    agent appends the real address last, so anything a caller put before it is
    ignored. Only an IP address counts: anything else there (a name, a word like
    ``internal:x``) is ignored and the client is the TCP peer, so a client is always
    an address and can never pose as anything else.
    """
    peer = request.remote or "unknown"
    if not request.app[TRUST_FORWARDED]:
        return peer, False
    forwarded = request.headers.get("X-Forwarded-For", "")
    address = forwarded_address(forwarded.rsplit(",", 1)[-1])
    return (address or peer), True


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
