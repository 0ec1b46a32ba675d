"""Engine events as one short line a trader reads on a phone, and which ``[notify] events``
name each one answers to. Pure: no I/O, no secrets (the lines are built from the events'
own fields; the notifier still cuts every known secret out before sending).

Event names:
  fill         an order filled (``OrderFilled``)
  rejected     an alert that authenticated but did not trade: refused by the worker
               (``AlertDecided`` rejected / failed) or at the door after authenticating
               (422, a signed 400) or because the journal could not save it (503)
  tunnel_down  the tunnel went down or failed (and came back), or its URL changed
  kill_switch  the kill switch turned on or off by hand, a command or settings.toml
  daily_loss   the daily loss limit turned the kill switch on (and the new UTC day off)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from tvdesk.core.decimals import plain
from tvdesk.core.events import (
    AlertAccepted,
    AlertDecided,
    AlertRejected,
    Event,
    KillSwitchChanged,
    OrderFilled,
    OrderSubmitted,
    TunnelChanged,
)
from tvdesk.tunnel.events import TunnelUrlChanged

T = TypeVar("T")
MAX_LINE = 600  # every channel takes more; a phone shows less
_REMEMBER = 1000  # alerts and orders whose details a later event's line names
# Sent past the flood limit: the trader must hear these even during a burst of fills.
URGENT = frozenset({"kill_switch", "daily_loss"})
_DOWN = ("down", "error")
_DAILY_LOSS = "daily loss"  # how the engine's daily-loss trip begins its reason
_NEW_DAY = "a new UTC day"  # ... and the lift at midnight UTC


@dataclass(frozen=True)
class Line:
    event: str  # the [notify] events name it answers to
    text: str

    @property
    def urgent(self) -> bool:
        return self.event in URGENT


def price_text(value: str) -> str:
    """``"64250.50"`` → ``"64,250.5"``: grouped for reading, no trailing zeros."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    return format(number.normalize(), ",f")


def _qty(value: str) -> str:
    try:
        return plain(Decimal(value))
    except InvalidOperation:
        return value


def _mode(mode: str) -> str:
    return f"tvdesk {mode.upper()}" if mode else "tvdesk"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 1] + "…"


class Composer:
    """Turns events into lines. It remembers what earlier events said (the exchange an
    order went to, what an alert asked for, the tunnel's last state) so a line can name
    them; ``mode`` is the engine's mode now, for events that do not carry one."""

    def __init__(self) -> None:
        self._exchanges: OrderedDict[str, str] = OrderedDict()
        self._alerts: OrderedDict[str, AlertAccepted] = OrderedDict()
        self._tunnel = "off"
        self._tunnel_was_down = False

    def line(self, event: Event, mode: str) -> Line | None:
        if isinstance(event, OrderSubmitted):
            _remember(self._exchanges, event.client_order_id, event.exchange)
        elif isinstance(event, AlertAccepted):
            _remember(self._alerts, event.alert_id, event)
        elif isinstance(event, OrderFilled):
            return Line("fill", self._fill(event))
        elif isinstance(event, AlertDecided):
            return self._decided(event, mode)
        elif isinstance(event, AlertRejected):
            return _refused(event, mode)
        elif isinstance(event, KillSwitchChanged):
            return _kill_switch(event, mode)
        elif isinstance(event, TunnelChanged):
            return self._tunnel_line(event)
        elif isinstance(event, TunnelUrlChanged):
            return Line("tunnel_down", _short(f"tvdesk: {event.message}"))
        return None

    def _fill(self, event: OrderFilled) -> str:
        exchange = self._exchanges.pop(event.client_order_id, "")
        where = f" on {exchange}" if exchange else ""
        return _short(
            f"{_mode(event.mode)}: filled {event.side} {_qty(event.qty)} "
            f"{event.symbol} @ {price_text(event.price)}{where}"
        )

    def _decided(self, event: AlertDecided, mode: str) -> Line | None:
        accepted = self._alerts.pop(event.alert_id, None)
        if event.outcome not in ("rejected", "failed"):
            return None
        what = "alert"
        if accepted is not None and accepted.side and accepted.qty:
            what = f"{accepted.side} {accepted.qty} {accepted.symbol}"
        elif accepted is not None:
            what = f"alert for {accepted.symbol}"
        word = "refused" if event.outcome == "rejected" else "FAILED"
        return Line("rejected", _short(f"{_mode(mode)}: {what} {word}: {event.reason}"))

    def _tunnel_line(self, event: TunnelChanged) -> Line | None:
        before, self._tunnel = self._tunnel, event.state
        if event.state in _DOWN and before not in _DOWN:
            self._tunnel_was_down = True
            why = f": {event.error}" if event.error else ""
            return Line(
                "tunnel_down",
                _short(
                    f"tvdesk: the tunnel is {event.state}{why}. TradingView alerts cannot "
                    "reach tvdesk until it is back."
                ),
            )
        if event.state == "up" and self._tunnel_was_down:
            self._tunnel_was_down = False
            url = f" at {event.public_url}" if event.public_url else ""
            return Line("tunnel_down", _short(f"tvdesk: the tunnel is up again{url}."))
        return None


def _refused(event: AlertRejected, mode: str) -> Line | None:
    # Refusals before authentication (401, 403, 413, 429, unsigned 400) come from anyone
    # on the internet: noise on a phone. A duplicate is TradingView repeating itself.
    if event.error == "unavailable" or (event.alert_id and event.error != "duplicate"):
        return Line(
            "rejected", _short(f"{_mode(mode)}: alert refused ({event.error}): {event.message}")
        )
    return None


def _kill_switch(event: KillSwitchChanged, mode: str) -> Line:
    state = "ON (no new orders)" if event.on else "OFF (orders allowed again)"
    daily = event.reason.startswith((_DAILY_LOSS, _NEW_DAY))
    return Line(
        "daily_loss" if daily else "kill_switch",
        _short(f"{_mode(mode)}: kill switch {state}: {event.reason}"),
    )


def _remember(memory: OrderedDict[str, T], key: str, value: T) -> None:
    memory[key] = value
    while len(memory) > _REMEMBER:
        memory.popitem(last=False)
