"""Tunnel events beyond ``TunnelChanged`` (which lives with the other engine events)."""

from __future__ import annotations

from dataclasses import dataclass

from tvdesk.core.events import Event


@dataclass(frozen=True)
class TunnelAgentDownload(Event):
    """pyngrok fetching the ngrok agent on first use: it takes a while, so say so."""

    phase: str  # started | finished | failed
    seconds: float
    message: str


@dataclass(frozen=True)
class TunnelUrlChanged(Event):
    """The public URL is not the one TradingView was given: every alert must be edited."""

    previous_url: str
    public_url: str
    message: str
