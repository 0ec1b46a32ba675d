"""What the fake Binance USDⓈ-M (``fake_binance_futures.py``) answers: Binance's reply shapes.

Each function turns the fake's state into the JSON Binance sends for that endpoint, with
the fields ccxt's ``binanceusdm`` parsers read (checked against ccxt's own comments of the
replies it parses). Orders are ``fake_exchange.Order`` rows whose ``extra`` holds the
futures fields: Binance type, position side, reduce-only, trigger price, trades.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.kit.fake_exchange import Order, Spec, ms, num

ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET"]
_STATUS = {
    "new": "NEW",
    "partial": "PARTIALLY_FILLED",
    "filled": "FILLED",
    "canceled": "CANCELED",
    "partial_canceled": "EXPIRED",  # a market order the book could not fill: the rest expires
}
_ALGO_STATUS = {"new": "NEW", "filled": "FINISHED", "canceled": "CANCELED"}


def exchange_info(specs: dict[str, Spec]) -> dict[str, Any]:
    symbols = [symbol_info(name, spec) for name, spec in specs.items()]
    return {"timezone": "UTC", "serverTime": ms(), "assets": [], "symbols": symbols}


def symbol_info(name: str, spec: Spec) -> dict[str, Any]:
    """A perpetual as ``/fapi/v1/exchangeInfo`` lists it (Binance's own BTCUSDT filters)."""
    lot = {"minQty": num(spec.min_qty), "stepSize": num(spec.step)}
    return {
        "symbol": name,
        "pair": name,
        "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000,
        "onboardDate": 1569398400000,
        "status": "TRADING",
        "baseAsset": spec.base,
        "quoteAsset": spec.quote,
        "marginAsset": spec.quote,
        "pricePrecision": 2,
        "quantityPrecision": 3,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "556.80",
                "maxPrice": "4529764",
                "tickSize": num(spec.tick),
            },
            {"filterType": "LOT_SIZE", "maxQty": "1000", **lot},
            {"filterType": "MARKET_LOT_SIZE", "maxQty": "120", **lot},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": num(spec.min_cost)},
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


def ticker(symbol: str, price: str) -> dict[str, Any]:
    prices = dict.fromkeys(("lastPrice", "openPrice", "highPrice", "lowPrice"), price)
    day = {"openTime": ms() - 86_400_000, "closeTime": ms(), "count": 1}
    return {"symbol": symbol, **prices, "volume": "1000", "quoteVolume": "5e7", **day}


def premium(symbol: str, price: str) -> dict[str, Any]:
    funding = {"lastFundingRate": "0.0001", "nextFundingTime": ms() + 3_600_000}
    return {"symbol": symbol, "markPrice": price, "indexPrice": price, **funding, "time": ms()}


def account(wallet: Decimal, available: Decimal) -> dict[str, Any]:
    """``/fapi/v3/account``: the USDT wallet and what is free of margin."""
    w, a = num(wallet), num(available)
    asset = {"asset": "USDT", "walletBalance": w, "marginBalance": w, "availableBalance": a}
    totals = {"totalWalletBalance": w, "availableBalance": a}
    return {**totals, "assets": [{**asset, "updateTime": ms()}], "positions": []}


def balance(wallet: Decimal, available: Decimal) -> list[dict[str, Any]]:
    """``/fapi/v2/balance``."""
    row = {"asset": "USDT", "balance": num(wallet), "availableBalance": num(available)}
    return [{**row, "crossWalletBalance": num(wallet), "updateTime": ms()}]


def brackets(symbols: list[str]) -> list[dict[str, Any]]:
    bracket = {"bracket": 1, "initialLeverage": 125, "notionalCap": 50000, "notionalFloor": 0}
    return [{"symbol": s, "brackets": [{**bracket, "maintMarginRatio": 0.004}]} for s in symbols]


def position_row(
    symbol: str, side: str, amt: Decimal, entry: Decimal, mark: Decimal, leverage: int
) -> dict[str, Any]:
    """One row of ``/fapi/v3/positionRisk`` (amt signed; LONG / SHORT apart in hedge mode)."""
    held = {"positionAmt": num(amt), "entryPrice": num(entry), "markPrice": num(mark)}
    value = {"unRealizedProfit": num((mark - entry) * amt), "notional": num(amt * mark)}
    margin = {"initialMargin": num(abs(amt) * mark / leverage), "isolatedMargin": "0"}
    return {"symbol": symbol, "positionSide": side, **held, **value, **margin, "updateTime": ms()}


def order_json(o: Order) -> dict[str, Any]:
    """An order as ``/fapi/v1/order`` answers it (``newOrderRespType`` RESULT)."""
    x = o.extra
    amounts = {"origQty": num(o.qty), "executedQty": num(o.filled), "cumQuote": num(o.cost)}
    prices = {"price": num(o.price), "avgPrice": num(o.average), "stopPrice": num(x["trigger"])}
    kind = {"type": x["type"], "origType": x["type"], "timeInForce": "GTC"}
    sides = {"side": o.side.upper(), "positionSide": x["positionSide"]}
    return {
        "orderId": int(o.order_id),
        "symbol": o.symbol,
        "status": _STATUS[o.status],
        "clientOrderId": o.client_order_id,
        **amounts,
        **prices,
        **kind,
        **sides,
        "reduceOnly": x["reduceOnly"],
        "closePosition": False,
        "time": o.created_ms,
        "updateTime": o.updated_ms,
    }


def algo_json(o: Order) -> dict[str, Any]:
    """A conditional order as the algo order API answers it (``actualOrderId`` once
    triggered)."""
    x = o.extra
    kind = {"algoType": "CONDITIONAL", "orderType": x["type"], "timeInForce": "GTC"}
    sides = {"side": o.side.upper(), "positionSide": x["positionSide"]}
    return {
        "algoId": int(o.order_id),
        "clientAlgoId": o.client_order_id,
        **kind,
        "symbol": o.symbol,
        **sides,
        "quantity": num(o.qty),
        "algoStatus": _ALGO_STATUS[o.status],
        "actualOrderId": x.get("actualOrderId", ""),
        "triggerPrice": num(x["trigger"]),
        "price": "0",
        "reduceOnly": x["reduceOnly"],
        "closePosition": False,
        "createTime": o.created_ms,
        "updateTime": o.updated_ms,
    }


def trades_json(o: Order) -> list[dict[str, Any]]:
    """``/fapi/v1/userTrades`` for one order: its fills, fee in USDT, realised P&L."""
    side = {"side": o.side.upper(), "positionSide": o.extra["positionSide"]}
    return [
        {"symbol": o.symbol, "orderId": int(o.order_id), **side, "commissionAsset": "USDT", **t}
        | {"buyer": o.side == "buy", "maker": False, "time": o.updated_ms}
        for t in o.extra["trades"]
    ]
