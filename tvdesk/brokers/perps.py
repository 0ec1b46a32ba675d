"""A perpetual's order, live: leverage and margin mode set on the exchange first, and the
params that say reduce-only and (hedge mode) the position side, the way each exchange wants
them (``venues/margin.py``).

What was set is remembered per (exchange, symbol), so it is sent before the first order on a
market and again only when it changes, never with every order; an order that only reduces
(reduce-only: an exit, a flatten) sets nothing, but still names its margin mode (OKX).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tvdesk.brokers.base import OrderRequest, Refusal, Unavailable
from tvdesk.brokers.contracts import contract_size
from tvdesk.brokers.errors import ExchangeError, TemporaryError
from tvdesk.brokers.exchange import ExchangeClient
from tvdesk.brokers.venues.margin import PerpRefusal, perp_ways
from tvdesk.core.decimals import plain

Trail = list[tuple[str, bool, str]]


def is_perp(client: ExchangeClient, symbol: str) -> bool:
    return contract_size(client.market(symbol)) is not None


def order_params(
    client: ExchangeClient,
    symbol: str,
    side: str,
    *,
    reduce_only: bool,
    leverage: Decimal | None = None,
) -> dict[str, Any]:
    """reduce-only, position side and (KuCoin) leverage for one order; {} on spot."""
    if not is_perp(client, symbol):
        return {}
    try:
        return perp_ways(client.id).order_params(
            client.id,
            hedge=client.position_mode == "hedge",
            side=side,
            reduce_only=reduce_only,
            leverage=leverage,
            margin_mode=client.margin_modes.get(symbol, ""),
        )
    except PerpRefusal as exc:
        raise Refusal(str(exc)) from None


class PerpSetup:
    """Leverage and margin mode per (exchange, symbol), as last set by tvdesk."""

    def __init__(self) -> None:
        self._set: dict[tuple[str, str], tuple[Decimal | None, str]] = {}

    async def prepare(self, client: ExchangeClient, request: OrderRequest) -> Trail:
        """Set what ``request`` asks for on its market unless it is set already.

        Raises ``Refusal`` with the exchange's words when it refuses, ``Unavailable`` when
        it cannot be asked now (then nothing is remembered and the next order asks again).
        """
        symbol = request.mapping.symbol
        if not is_perp(client, symbol):
            return []
        key, want = (client.id, symbol), (request.leverage, request.margin_mode)
        if request.margin_mode:  # OKX's orders name it (tdMode): cross is ccxt's default
            client.margin_modes[symbol] = request.margin_mode
        # An order that only reduces sets nothing: exchanges refuse a change of leverage or
        # margin mode while a position is open, and that must never stop an exit or a flatten.
        if request.reduce_only or want == (None, "") or self._set.get(key) == want:
            return []
        ways = perp_ways(client.id)
        try:
            calls = ways.setup_calls(
                client.id,
                request.leverage,
                request.margin_mode,
                hedge=client.position_mode == "hedge",
            )
        except PerpRefusal as exc:
            raise Refusal(str(exc)) from None
        trail: Trail = []
        for method, args, params in calls:
            what = _words(method, args)
            try:
                await client._call(getattr(client.api, method)(*args, symbol, params))
            except TemporaryError as exc:
                raise Unavailable(f"{client.id} could not set {what} on {symbol}: {exc}") from None
            except ExchangeError as exc:
                if not any(words in str(exc) for words in ways.already_set):
                    raise Refusal(
                        f"{client.id} refused {what} on {symbol}: {exc}; nothing was sent"
                    ) from None
            trail.append(("leverage", True, f"{what} set on {client.id} {symbol}"))
        self._set[key] = want
        return trail

    def forget(self, exchange: str) -> None:
        """The exchange may have been changed by hand: set everything again next time."""
        self._set = {k: v for k, v in self._set.items() if k[0] != exchange}


def _words(method: str, args: tuple[Any, ...]) -> str:
    if method == "set_leverage":
        return f"leverage {plain(Decimal(str(args[0])))}×"
    return f"margin mode {args[0]}"
