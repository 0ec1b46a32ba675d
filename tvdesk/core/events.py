"""The engine's event stream: what happened, as frozen dataclasses.

The window turns these into Qt signals and headless mode into log lines; both
read the same facts, so neither can drift from what the engine did.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Event:
    at: float  # unix seconds

    @property
    def name(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (Decimals and other values as strings), plus the event name."""
        out: dict[str, Any] = {"event": self.name}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                value if isinstance(value, str | int | float | bool | None) else str(value)
            )
        return out


@dataclass(frozen=True)
class EngineStarted(Event):
    mode: str
    host: str
    port: int
    tunnel_port: int | None  # None: the tunnel is off (no tunnel listener)
    control_port: int
    version: str


@dataclass(frozen=True)
class EngineStopped(Event):
    pass


@dataclass(frozen=True)
class AlertAccepted(Event):
    alert_id: str
    client: str
    symbol: str
    side: str | None
    qty: str | None
    test: bool


@dataclass(frozen=True)
class AlertRejected(Event):
    """A request refused at the door (400/401/409/413/422/429/503)."""

    alert_id: str | None
    client: str
    error: str
    message: str


@dataclass(frozen=True)
class AlertDecided(Event):
    """The worker's final outcome for an alert (filled, rejected, dry_run, ...)."""

    alert_id: str
    outcome: str
    reason: str


@dataclass(frozen=True)
class OrderSubmitted(Event):
    alert_id: str
    client_order_id: str
    exchange: str
    symbol: str
    side: str
    qty: str
    mode: str


@dataclass(frozen=True)
class OrderFilled(Event):
    alert_id: str
    client_order_id: str
    symbol: str
    side: str
    qty: str
    price: str
    fee: str
    mode: str


@dataclass(frozen=True)
class OrderCanceled(Event):
    """A resting order taken off the book by an alert with the action cancel."""

    alert_id: str  # the alert that placed the order
    client_order_id: str
    exchange: str
    symbol: str
    side: str
    qty: str  # what was left unfilled
    mode: str
    canceled_by: str  # the cancel alert's id


@dataclass(frozen=True)
class KillSwitchChanged(Event):
    on: bool
    reason: str


@dataclass(frozen=True)
class SettingsChanged(Event):
    """The settings in force changed (the window, a command, or settings.toml edited)."""

    changes: str  # one "section.key: old → new" per line


@dataclass(frozen=True)
class SecretRotated(Event):
    previous_valid_until: float


@dataclass(frozen=True)
class TunnelChanged(Event):
    state: str  # off | starting | up | down | error
    public_url: str | None
    error: str | None


@dataclass(frozen=True)
class CircuitChanged(Event):
    """Live execution paused (open) after repeated temporary failures, or resumed."""

    exchange: str
    open: bool
    reason: str


@dataclass(frozen=True)
class ExchangeWarning(Event):
    """Something about the live exchange account the trader should know (not an error)."""

    exchange: str
    message: str
