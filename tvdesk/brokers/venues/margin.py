"""Perpetuals, per exchange: how leverage and margin mode are set, and how an order names its
position side (hedge mode) and that it only reduces.

One ``PerpWays`` row per exchange family; the live broker asks ``perp_ways(exchange_id)``.
Checked against ccxt's own request building (tests/brokers/test_perp_requests.py):

- Binance USDⓈ-M: ``set_margin_mode`` and ``set_leverage`` apart; hedge mode sends
  ``positionSide`` LONG/SHORT and refuses ``reduceOnly`` (the side says it).
- OKX: one ``set_leverage`` call carries the margin mode (``mgnMode``), so a margin mode
  needs a leverage (isolated in long/short mode: one call per ``posSide``); every order
  names its margin mode too (``tdMode``: ccxt sends cross
  unless told, which would trade a cross position beside the isolated one); hedge
  (long/short mode) sends ``posSide``, and ``reduceOnly`` only applies in net mode.
- Bybit: ``set_margin_mode`` (with the leverage, which non-unified accounts need) and
  ``set_leverage``; hedge sends ``positionIdx`` 1 (long) / 2 (short), with ``reduceOnly``.
- Gate: the leverage call carries the margin mode (cross: ``cross_leverage_limit``).
- KuCoin: each futures order carries its leverage (ccxt sends 1× otherwise).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# A ccxt method name, its positional arguments after the symbol's, and its params.
Call = tuple[str, tuple[Any, ...], dict[str, Any]]


class PerpRefusal(Exception):
    """This exchange cannot do what the settings ask; str(e) says what to change."""


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class PerpWays:
    # The margin mode travels inside the leverage call (OKX, Gate), not a call of its own.
    mode_with_leverage: bool = False
    # The leverage travels on each order (KuCoin), not a call of its own.
    leverage_on_order: bool = False
    # Hedge mode: the order's position side as params, from (long?) -> params; None: refused.
    hedge: Callable[[bool], dict[str, Any]] | None = None
    reduce_only_in_hedge: bool = True
    # Each order names its margin mode (OKX's tdMode, through ccxt's ``marginMode``).
    margin_mode_on_order: bool = False
    # Isolated leverage in hedge mode is set per position side (OKX: posSide long / short).
    isolated_per_side: bool = False
    # Words in a refusal that only say "it is set like that already".
    already_set: tuple[str, ...] = ()

    def setup_calls(
        self, exchange: str, leverage: Decimal | None, margin_mode: str, *, hedge: bool = False
    ) -> list[Call]:
        """The ccxt calls that set this market's margin mode and leverage, in order."""
        if self.leverage_on_order:
            return [("set_margin_mode", (margin_mode,), {})] if margin_mode else []
        if self.mode_with_leverage:
            if margin_mode and leverage is None:
                raise PerpRefusal(
                    f"{exchange} sets the margin mode together with the leverage: set "
                    "[exchange] leverage (or the symbol row's leverage) as well"
                )
            if leverage is None:
                return []
            extra = {"marginMode": margin_mode} if margin_mode else {}
            if hedge and margin_mode == "isolated" and self.isolated_per_side:
                sides = ({**extra, "posSide": side} for side in ("long", "short"))
                return [("set_leverage", (_number(leverage),), one) for one in sides]
            return [("set_leverage", (_number(leverage),), extra)]
        calls: list[Call] = []
        if margin_mode:
            extra = {"leverage": _number(leverage)} if leverage is not None else {}
            calls.append(("set_margin_mode", (margin_mode,), extra))
        if leverage is not None:
            calls.append(("set_leverage", (_number(leverage),), {}))
        return calls

    def order_params(
        self,
        exchange: str,
        *,
        hedge: bool,
        side: str,
        reduce_only: bool,
        leverage: Decimal | None,
        margin_mode: str = "",
    ) -> dict[str, Any]:
        """What a perpetual's order carries here beyond the amount and price."""
        params: dict[str, Any] = {}
        if self.margin_mode_on_order and margin_mode:
            params["marginMode"] = margin_mode
        if self.leverage_on_order and leverage is not None:
            params["leverage"] = _number(leverage)
        if hedge:
            if self.hedge is None:
                raise PerpRefusal(
                    f"tvdesk cannot send a position side to {exchange}: set "
                    'position_mode = "oneway" in [exchange] (and one-way mode in the account)'
                )
            # A buy opens a long or closes a short; a sell the other way round.
            long = (side == "buy") != reduce_only
            params.update(self.hedge(long))
            if not self.reduce_only_in_hedge:
                return params
        if reduce_only:
            params["reduceOnly"] = True
        return params


_BINANCE = PerpWays(
    hedge=lambda long: {"positionSide": "LONG" if long else "SHORT"},
    reduce_only_in_hedge=False,
    already_set=("No need to change margin type", "-4046"),
)
_OKX = PerpWays(
    mode_with_leverage=True,
    margin_mode_on_order=True,
    isolated_per_side=True,
    hedge=lambda long: {"posSide": "long" if long else "short"},
    reduce_only_in_hedge=False,
)
_BYBIT = PerpWays(
    hedge=lambda long: {"positionIdx": 1 if long else 2},
    already_set=("110043", "not modified", "110026"),
)
_TABLE = {
    "okx": _OKX,
    "bybit": _BYBIT,
    "gate": PerpWays(mode_with_leverage=True),
    "gateio": PerpWays(mode_with_leverage=True),
    "kucoinfutures": PerpWays(leverage_on_order=True),
    "kucoin": PerpWays(leverage_on_order=True),
}


def perp_ways(exchange_id: str) -> PerpWays:
    """How this exchange takes leverage, margin mode and position sides."""
    if exchange_id.startswith("binance"):
        return _BINANCE
    return _TABLE.get(exchange_id, PerpWays())
