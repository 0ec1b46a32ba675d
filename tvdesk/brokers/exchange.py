"""One ccxt exchange, as the live broker needs it: markets, precision, orders, lookups.

ccxt is imported the first time a client opens (it takes about a second, so never at
start-up in paper mode), in a thread so the event loop keeps answering TradingView.
Every ccxt call goes through ``_call``, which turns ccxt's exceptions into tvdesk's own
(``errors.py``) with credentials redacted.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from tvdesk.brokers.contracts import in_coins, in_contracts
from tvdesk.brokers.errors import SymbolError, TemporaryError, Unsupported, translate
from tvdesk.brokers.venues import venue_for
from tvdesk.brokers.venues.cost import cost_params
from tvdesk.core.decimals import plain

log = logging.getLogger(__name__)
T = TypeVar("T")

_STATUS = {
    "closed": "filled",
    "canceled": "canceled",
    "expired": "canceled",
    "rejected": "rejected",
}


@dataclass(frozen=True)
class LiveTuning:
    """Timings of the live broker; tests shrink them through the constructor, never by sleeping."""

    request_timeout_s: float = 10.0
    recv_window_ms: int = 5000  # Binance refuses a request that arrives later than this
    settle_margin_s: float = 2.0  # clock difference allowance on top of the receive window
    rate_limit: bool = True
    retries: int = 3  # re-sends after a temporary failure, once the order is known absent
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    circuit_threshold: int = 5
    circuit_cooldown_s: float = 60.0
    markets_wait_s: float = 30.0  # how long an alert waits for markets before it fails
    markets_refresh_s: float = 3600.0
    poll_s: float = 5.0  # open orders are polled this often until they close
    balance_ttl_s: float = 10.0
    # A market's price is read again once older than this (orders are valued at it).
    price_ttl_s: float = 3.0

    @property
    def settle_s(self) -> float:
        """After this long, an order the exchange does not know can no longer appear."""
        return self.recv_window_ms / 1000 + self.settle_margin_s


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:  # never print a secret, even by accident
        return "Credentials(***)"


@dataclass(frozen=True)
class OrderState:
    """An order as the exchange reports it, in tvdesk's words."""

    exchange_order_id: str | None
    status: str  # open | partially_filled | filled | canceled | rejected
    filled: Decimal
    average: Decimal | None
    fee: Decimal | None
    fee_currency: str | None
    complete: bool  # the reply said both status and filled amount


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def order_state(order: dict[str, Any]) -> OrderState:
    status, filled = order.get("status"), dec(order.get("filled"))
    amount = dec(order.get("amount"))
    if status == "open":
        state = "partially_filled" if filled else "open"
    else:
        state = _STATUS.get(str(status), "open")
    if status == "closed" and filled is None:
        filled = amount
    fee, currency = _fee(order)
    return OrderState(
        exchange_order_id=str(order["id"]) if order.get("id") is not None else None,
        status=state,
        filled=filled or Decimal(0),
        average=dec(order.get("average")) or _average(order, filled),
        fee=fee,
        fee_currency=currency,
        complete=status is not None and filled is not None,
    )


def _average(order: dict[str, Any], filled: Decimal | None) -> Decimal | None:
    cost = dec(order.get("cost"))
    return cost / filled if cost and filled else None


def _fee(order: dict[str, Any]) -> tuple[Decimal | None, str | None]:
    fees = [f for f in (order.get("fees") or []) if f and f.get("cost") is not None]
    if not fees and order.get("fee") and order["fee"].get("cost") is not None:
        fees = [order["fee"]]
    if not fees:
        return None, None
    currency = fees[0].get("currency")
    # Fees in several currencies (rare) are kept in the first one's only; the rest are noted.
    total = sum(
        (dec(f["cost"]) or Decimal(0) for f in fees if f.get("currency") == currency), Decimal(0)
    )
    return total, currency


def exchange_client_order_id(exchange_id: str, cid: str) -> str:
    """tvdesk's client order id in the form an exchange accepts (see ``venues``)."""
    return venue_for(exchange_id).client_order_id(cid)


def rewrite_urls(api: Any, base: str) -> Any:
    """Every REST URL under ``api`` with ``base``'s scheme and host, keeping its path."""
    if isinstance(api, dict):
        return {key: rewrite_urls(value, base) for key, value in api.items()}
    if isinstance(api, str) and "://" in api:
        target, parts = urlsplit(base), urlsplit(api)
        path = target.path.rstrip("/") + parts.path
        return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))
    return api


class ExchangeClient:
    """A lazily created ``ccxt.async_support`` exchange with tvdesk's conventions."""

    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials | None,
        *,
        sandbox: bool = False,
        url: str = "",
        market_type: str = "spot",
        tuning: LiveTuning | None = None,
    ) -> None:
        self.id = exchange_id
        self.venue = venue_for(exchange_id)  # what this exchange does differently
        self.credentials = credentials
        self.sandbox = sandbox
        self.url = url
        self.market_type = market_type
        self.tuning = tuning or LiveTuning()
        self.api: Any = None  # the ccxt exchange
        self.markets_loaded_at: float | None = None
        self._tick_size = True
        self.position_mode = "oneway"  # perpetuals: oneway | hedge (settings, per order)
        self.margin_modes: dict[str, str] = {}  # perpetuals: symbol -> as last set (perps)

    @property
    def secrets(self) -> tuple[str | None, ...]:
        c = self.credentials
        return (c.api_key, c.secret, c.password) if c else ()

    # -- lifecycle -------------------------------------------------------------

    async def open(self) -> None:
        if self.api is not None:
            return
        ccxt = await asyncio.to_thread(importlib.import_module, "ccxt.async_support")
        # ccxt logs every request's headers, the API key among them, at DEBUG.
        logging.getLogger("ccxt").setLevel(logging.INFO)
        cls = getattr(ccxt, self.id, None)
        if cls is None:
            raise Unsupported(f"ccxt has no exchange called {self.id!r}: check exchange.default")
        api = cls(self._config())
        if self.sandbox:
            try:
                api.set_sandbox_mode(True)
            except Exception as exc:
                await api.close()
                raise translate(exc, self.id, self.secrets) from None
        if self.url:  # after sandbox mode, which swaps the URLs itself
            api.urls["api"] = rewrite_urls(api.urls["api"], self.url)
        self._tick_size = api.precisionMode == ccxt.TICK_SIZE
        self.api = api

    def _config(self) -> dict[str, Any]:
        options: dict[str, Any] = {"defaultType": self.market_type}
        options.update(self.venue.options(self.market_type, self.tuning.recv_window_ms))
        config: dict[str, Any] = {
            "enableRateLimit": self.tuning.rate_limit,
            "timeout": int(self.tuning.request_timeout_s * 1000),
            "options": options,
        }
        if self.credentials is not None:
            config["apiKey"] = self.credentials.api_key
            config["secret"] = self.credentials.secret
            if self.credentials.password:
                config["password"] = self.credentials.password
        return config

    def use(self, credentials: Credentials | None) -> None:
        """Sign with these credentials from now on (new keys saved while running)."""
        if credentials == self.credentials:
            return
        self.credentials = credentials
        if self.api is not None:
            self.api.apiKey = credentials.api_key if credentials else ""
            self.api.secret = credentials.secret if credentials else ""
            self.api.password = (credentials.password or "") if credentials else ""

    async def close(self) -> None:
        api, self.api = self.api, None
        self.markets_loaded_at = None
        if api is not None:
            await api.close()

    async def _call(self, awaitable: Awaitable[T]) -> T:
        try:
            return await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise translate(exc, self.id, self.secrets) from None

    # -- markets -----------------------------------------------------------------

    async def load_markets(self, reload: bool = False) -> int:
        await self.open()
        markets = await self._call(self.api.load_markets(reload))
        self.markets_loaded_at = time.monotonic()
        return len(markets)

    @property
    def markets_loaded(self) -> bool:
        return self.markets_loaded_at is not None

    def market(self, symbol: str) -> dict[str, Any] | None:
        markets = self.api.markets if self.api is not None else None
        return markets.get(symbol) if markets else None

    async def known_market(self, symbol: str) -> dict[str, Any]:
        """The market, reloading the list once when it is missing (a new listing)."""
        market = self.market(symbol)
        if market is None:
            await self.load_markets(reload=True)
            market = self.market(symbol)
        if market is None:
            raise SymbolError(
                f"{self.id} has no market {symbol} ({self.market_type}): check the symbol map"
            )
        return market

    @property
    def settle_s(self) -> float:
        """After this long, an order this exchange does not know can no longer appear."""
        return self.venue.settle_s(self.tuning.recv_window_ms, self.tuning.settle_margin_s)

    def step(self, value: Any) -> Decimal | None:
        """A precision entry as the smallest increment, whatever ccxt's precision mode."""
        number = dec(value)
        if number is None or self._tick_size:
            return number
        return Decimal(1).scaleb(-int(number))

    # -- orders --------------------------------------------------------------------

    async def create(
        self,
        symbol: str,
        order_type: str,
        side: str,
        qty: Decimal,
        price: Decimal | None,
        client_order_id: str,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        market = self.market(symbol) or {}
        extra = {self.venue.id_param: self.venue.client_order_id(client_order_id)}
        extra.update(self.venue.order_params(market, order_type, side))
        if order_type == "market" and side == "buy" and self.venue.buys_by_cost(self.api, market):
            # Sized in the quote coin there: the cost at the order's reference price.
            extra.update(cost_params(self.api, self.id, market, qty, price))
        extra.update(params or {})
        # A market order goes without a price: Binance would turn amount × price into a
        # quote amount (quoteOrderQty), and the fill would not be the amount asked for.
        limit = price if order_type == "limit" else None
        reply = await self._call(
            self.api.create_order(
                symbol,
                order_type,
                side,
                float(in_contracts(self.market(symbol), qty)),
                float(limit) if limit is not None else None,
                extra,
            )
        )
        return in_coins(self.market(symbol), self.venue.normalize(reply))

    async def find(
        self, client_order_id: str, symbol: str, since_s: float, order_id: str | None = None
    ) -> dict | None:
        """The order with this client order id in any state, or None when there is none;
        ``order_id``: the exchange's id for it, once recorded (where no client id is kept)."""
        cid = self.venue.client_order_id(client_order_id)
        since = int((since_s - 60) * 1000)
        if order_id:
            found = await self.venue.find_placed(self.api, self._call, order_id, cid, symbol, since)
        else:
            found = await self.venue.find(self.api, self._call, cid, symbol, since)
        if found is None:
            return None
        return in_coins(self.market(symbol), self.venue.normalize(found))

    async def fee_from_trades(self, order: dict[str, Any], symbol: str) -> dict[str, Any]:
        """The order with its fee filled in from its trades (a lookup reply has none)."""
        if order.get("id") is None:
            return order
        trades = await self.venue.order_trades(self.api, self._call, order["id"], symbol)
        if trades is None:
            return order
        fees = [t["fee"] for t in trades if t.get("fee")]
        return {**order, "fees": fees, "fee": None} if fees else order

    async def cancel(self, exchange_order_id: str, symbol: str) -> dict[str, Any]:
        reply = await self.venue.cancel(self.api, self._call, exchange_order_id, symbol)
        return in_coins(self.market(symbol), self.venue.normalize(reply))

    # -- account ---------------------------------------------------------------------

    async def balance(self) -> dict[str, tuple[Decimal, Decimal]]:
        """currency -> (free, used)."""
        await self.open()
        raw = await self._call(self.api.fetch_balance())
        free, used = raw.get("free") or {}, raw.get("used") or {}
        return {
            cur: (dec(free.get(cur)) or Decimal(0), dec(used.get(cur)) or Decimal(0))
            for cur in set(free) | set(used)
        }

    async def last_price(self, symbol: str) -> Decimal | None:
        ticker = await self._call(self.api.fetch_ticker(symbol))
        price = dec(ticker.get("last")) or dec(ticker.get("close"))
        return Decimal(plain(price)) if price is not None else None

    async def withdrawals_enabled(self) -> bool | None:
        """Whether the API key may withdraw; None where ccxt cannot tell."""
        if not self.id.startswith("binance") or self.sandbox:
            return None
        try:
            reply = await self._call(self.api.sapiGetAccountApiRestrictions())
        except TemporaryError:
            raise
        except Exception as exc:  # a proxy or simulator without that endpoint: cannot tell
            log.info("%s: cannot tell the API key's permissions (%s)", self.id, exc)
            return None
        value = reply.get("enableWithdrawals") if isinstance(reply, dict) else None
        return bool(value) if value is not None else None
