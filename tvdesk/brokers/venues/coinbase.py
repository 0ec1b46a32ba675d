"""Coinbase Advanced Trade (spot): ``client_order_id``, one order list, buys by cost.

ccxt fills ``client_order_id`` with its own ``ccxt-<uuid>`` and drops the unified
``clientOrderId`` param, so tvdesk's id only reaches Coinbase as ``client_order_id``
(Coinbase asks a unique string; tvdesk's 29-30 alphanumerics as they are). Every order,
stop-limit ones included, lives in one list (``/orders/historical/batch``): the open ones
(``order_status=OPEN``) and the rest, filled, cancelled (a cancel after a partial fill keeps
its ``filled_size``), expired. A spot market buy is an amount of the quote coin to spend
(``quote_size``): tvdesk sends its cost (``cost.py``).
"""

from __future__ import annotations

from typing import Any

from tvdesk.brokers.venues.generic import GenericVenue


class CoinbaseVenue(GenericVenue):
    id_param = "client_order_id"
    id_field = "client_order_id"

    def buys_by_cost(self, api: Any, market: dict[str, Any]) -> bool:
        return bool(market.get("spot"))
