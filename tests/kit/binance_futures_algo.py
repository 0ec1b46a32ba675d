"""The fake Binance USDⓈ-M's algo (conditional) orders: where ccxt sends every
STOP_MARKET / TAKE_PROFIT_MARKET since Binance moved them off ``/fapi/v1/order``.

``POST /fapi/v1/algoOrder`` (``algoType`` CONDITIONAL, ``clientAlgoId``, ``triggerPrice``),
``GET`` / ``DELETE`` it by ``algoId`` or ``clientAlgoId``, ``/fapi/v1/openAlgoOrders`` and
``/fapi/v1/allAlgoOrders``. An algo order rests until the price crosses its trigger; then it
becomes a market order of its own (``actualOrderId``) and is ``FINISHED``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.kit.binance_futures_replies import algo_json
from tests.kit.fake_exchange import Order, Refused, ms

CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")


def check(ok: bool, code: int, msg: str) -> None:
    """Binance's refusal (HTTP 400, its code and words) unless ``ok``."""
    if not ok:
        raise Refused(str(code), msg, 400)


class AlgoOrders:
    """Mixed into ``FakeBinanceFutures``, which supplies the order book it triggers into."""

    algos: dict[str, Order]
    prices: dict[str, Decimal]
    _ids: Any

    def algo_routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("POST", "/fapi/v1/algoOrder"): self._new_algo,
            ("GET", "/fapi/v1/algoOrder"): self._get_algo,
            ("DELETE", "/fapi/v1/algoOrder"): self._cancel_algo,
            ("GET", "/fapi/v1/openAlgoOrders"): self._open_algos,
            ("GET", "/fapi/v1/allAlgoOrders"): self._all_algos,
        }

    if TYPE_CHECKING:  # what the fake's order book provides

        def arrived(self, cid: str, params: Any) -> None: ...
        def reply(self, body: Any, status: int = 200) -> web.Response: ...
        def order_from(self, p: dict[str, str], cid: str, *, algo: bool) -> Order: ...
        def submit(self, order: Order) -> None: ...
        def _log(self, entry: dict[str, Any]) -> None: ...

    async def _new_algo(self, p: dict[str, str]) -> web.Response:
        cid = p.get("clientAlgoId", "")
        self.arrived(cid, p)
        kind = p.get("algoType")
        check(kind == "CONDITIONAL", -1102, "Mandatory parameter 'algoType' was not sent.")
        check(p.get("type") in CONDITIONAL, -4120, "Order type not supported for this endpoint.")
        taken = any(a.client_order_id == cid for a in self.algos.values())
        check(not taken, -4116, "ClientOrderId is duplicated.")
        order = self.order_from(p, cid, algo=True)
        trigger = order.extra["trigger"]
        check(trigger > 0, -1102, "Mandatory parameter 'triggerPrice' was not sent.")
        order.order_id = str(next(self._ids))
        self.algos[order.order_id] = order
        self._log({"event": "created", "clientOrderId": cid, "orderId": order.order_id})
        return self.reply(algo_json(order))

    def _find_algo(self, p: dict[str, str]) -> Order:
        for order in self.algos.values():
            if order.order_id == p.get("algoId") or order.client_order_id == p.get("clientAlgoId"):
                return order
        raise Refused("-2013", "Order does not exist.", 400)

    async def _get_algo(self, p: dict[str, str]) -> web.Response:
        return self.reply(algo_json(self._find_algo(p)))

    async def _cancel_algo(self, p: dict[str, str]) -> web.Response:
        order = self._find_algo(p)
        check(order.is_open, -2011, "Unknown order sent.")
        order.status, order.updated_ms = "canceled", ms()
        ids = {"algoId": int(order.order_id), "clientAlgoId": order.client_order_id}
        return self.reply({**ids, "code": "200", "msg": "success"})

    async def _open_algos(self, p: dict[str, str]) -> web.Response:
        wanted = p.get("symbol")
        found = [o for o in self.algos.values() if o.is_open and wanted in (None, o.symbol)]
        return self.reply([algo_json(o) for o in found])

    async def _all_algos(self, p: dict[str, str]) -> web.Response:
        found = [o for o in self.algos.values() if p.get("symbol") in (None, o.symbol)]
        return self.reply([algo_json(o) for o in found])

    def set_price(self, symbol: str, price: str) -> None:
        """The market moves: conditional orders it crosses trigger as market orders."""
        self.prices[symbol] = last = Decimal(price)
        for algo in list(self.algos.values()):
            trigger, stop = algo.extra["trigger"], algo.extra["type"].startswith("STOP")
            above = (algo.side == "buy") == stop  # a buy stop / sell take-profit: at or above
            crossed = last >= trigger if above else last <= trigger
            if not (algo.is_open and algo.symbol == symbol and crossed):
                continue
            cid = f"{algo.client_order_id}T"
            order = Order("", cid, symbol, algo.side, "market", algo.qty, Decimal(0), ms())
            order.extra = {**algo.extra, "type": "MARKET", "trades": []}
            self.submit(order)
            algo.status, algo.extra["actualOrderId"] = "filled", order.order_id
            algo.updated_ms = ms()
