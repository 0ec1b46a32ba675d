"""Binance (spot and USDⓈ-M): one request finds an order by its client order id.

``GET /api/v3/order`` with ``origClientOrderId`` answers for an order in any state, a
partly filled then canceled one included; ccxt maps ``clientOrderId`` to it. One request
loads the markets of the one market type tvdesk trades (no currencies, no margin pairs),
and ccxt's receive window is tvdesk's.
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.errors import NotFound
from tvdesk.brokers.venues.generic import Call, GenericVenue

# ccxt's fetch_order takes {"clientOrderId": ...} here (checked in ccxt's source); the
# other Binance ids search the open and recent orders, as the generic path does.
_FETCH_BY_CLIENT_ID = {"binance", "binanceus"}


class BinanceVenue(GenericVenue):
    id_field = "newClientOrderId"

    def options(self, market_type: str, recv_window_ms: int) -> dict[str, Any]:
        return {
            "recvWindow": recv_window_ms,
            "adjustForTimeDifference": True,
            "fetchCurrencies": False,
            "fetchMargins": False,
            "fetchMarkets": {"types": ["linear" if market_type == "swap" else "spot"]},
        }

    async def find(
        self, api: Any, call: Call, cid: str, symbol: str, since_ms: int
    ) -> dict[str, Any] | None:
        if self.exchange_id not in _FETCH_BY_CLIENT_ID:
            return await super().find(api, call, cid, symbol, since_ms)
        try:
            return await call(api.fetch_order(None, symbol, {"clientOrderId": cid}))
        except NotFound:
            return None
