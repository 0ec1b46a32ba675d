"""The paper broker's book: balances, positions and resting limit orders, all in Decimal.

Paper trading works offline (DESIGN.md): a market order fills at the alert's price with
slippage against the trader, fees are charged in the quote currency, balances are enforced and
resting limit orders hold their funds until a later price crosses them, they are cancelled or
they expire. A position is what tvdesk's own fills built: selling coins the trader held before
realises no P&L and never takes the position below zero.

A perpetual market (a ccxt symbol with its settle currency, ``BTC/USDT:USDT``) trades on
margin instead (``perp_book``): shorts, reversals, leverage, margin held from the settle
currency's balance (shown as ``used``). Its orders fill at market only.

The book mutates itself; the engine persists ``balances``, ``positions``, ``perps`` and
``resting``.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from tvdesk.core.decimals import plain
from tvdesk.core.perp_book import MarginShort, PerpPosition, perp_fill

_SIDES = ("buy", "sell")
_ORDER_TYPES = ("market", "limit")
_BPS = Decimal(10_000)


@dataclass
class Balance:
    free: Decimal
    used: Decimal = Decimal(0)  # reserved for resting orders


@dataclass
class Position:
    """What tvdesk's own fills built in one market (spot: never below zero)."""

    qty: Decimal = Decimal(0)
    avg_price: Decimal = Decimal(0)  # average cost per unit, fees included
    realized_pnl: Decimal = Decimal(0)  # net of fees, in the quote currency


@dataclass(frozen=True)
class PaperOrder:
    client_order_id: str
    symbol: str
    base: str
    quote: str
    side: str  # buy | sell
    order_type: str  # market | limit
    qty: Decimal
    price: Decimal  # market: the alert's reference price; limit: the limit price
    created_at: float
    expires_at: float | None = None
    # What a resting order holds (quote with its fee for a buy, base for a sell), as
    # reserved when placed: released the same, whatever the fee rate is by then.
    reserved: Decimal | None = None
    leverage: Decimal | None = None  # perpetuals: None keeps the position's (1× when new)


@dataclass(frozen=True)
class Fill:
    client_order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    realized_pnl: Decimal
    at: float
    maker: bool  # a resting limit order that filled later


class PaperRejected(Exception):
    """The paper broker refused the order; str(e) says what, with the numbers, and the fix."""


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


class PaperBook:
    def __init__(
        self,
        balances: dict[str, Balance],
        *,
        fee_rate: Decimal,
        slippage_bps: Decimal,
        positions: dict[str, Position] | None = None,
        resting: list[PaperOrder] | None = None,
        perps: dict[str, PerpPosition] | None = None,
    ) -> None:
        """A book as persisted: ``balances[...].used`` already holds the reservations of
        ``resting``. Copies are taken, so the caller's objects never change under it."""
        self.fee_rate = fee_rate
        self.slippage_bps = slippage_bps
        self.balances = {cur: Balance(b.free, b.used) for cur, b in balances.items()}
        self.positions = {
            symbol: Position(p.qty, p.avg_price, p.realized_pnl)
            for symbol, p in (positions or {}).items()
        }
        self.perps = {symbol: replace(p) for symbol, p in (perps or {}).items()}
        self.resting = {order.client_order_id: order for order in resting or []}
        # Ids used by this book, filled ones included: a repeat must never trade twice.
        self._used_ids = set(self.resting)

    # ------------------------------------------------------------ placing

    def place(self, order: PaperOrder, now: float) -> Fill | None:
        """Fill a market order at once (the Fill), or rest a limit order (None)."""
        self._validate(order)
        if is_perp(order.symbol):
            return self._place_perp(order, now)
        if order.order_type == "market":
            fill_price = self._slipped(order.side, order.price)
            fee = order.qty * fill_price * self.fee_rate
            self._ensure_funds(order, fill_price, fee)
            self._used_ids.add(order.client_order_id)
            if order.side == "buy":
                self._credit(order.quote, -(order.qty * fill_price + fee))
            else:
                self._credit(order.base, -order.qty)
            return self._settle(order, fill_price, fee, now, maker=False)
        reserve = self._reservation(order)
        self._ensure_funds(order, order.price, order.qty * order.price * self.fee_rate)
        self._used_ids.add(order.client_order_id)
        balance = self._balance(order.quote if order.side == "buy" else order.base)
        balance.free -= reserve
        balance.used += reserve
        self.resting[order.client_order_id] = replace(order, reserved=reserve)
        return None

    def _validate(self, order: PaperOrder) -> None:
        if order.side not in _SIDES:
            raise PaperRejected(f'side must be "buy" or "sell", not "{order.side}"')
        if order.order_type not in _ORDER_TYPES:
            raise PaperRejected(f'order type must be "market" or "limit", not "{order.order_type}"')
        if not (order.qty.is_finite() and order.qty > 0):
            raise PaperRejected(f"qty must be more than 0, not {order.qty}: send a positive qty")
        if not (order.price.is_finite() and order.price > 0):
            raise PaperRejected(
                f"price must be more than 0, not {order.price}: paper trading fills at the "
                'alert\'s price, so send "price": {{close}} in the alert'
            )
        if order.client_order_id in self._used_ids:
            raise PaperRejected(
                f"client order id {order.client_order_id} was already used in this paper "
                "book: each order needs its own id, so a repeat never trades twice"
            )

    def _place_perp(self, order: PaperOrder, now: float) -> Fill:
        settle = order.symbol.partition(":")[2]
        if order.order_type != "market":
            raise PaperRejected(
                f"paper perpetuals fill market orders only: {order.symbol} limit orders are not "
                'simulated; send "order_type": "market" (live mode places limits)'
            )
        if settle != order.quote:
            raise PaperRejected(
                f"{order.symbol} is an inverse perpetual (settled in {settle}), which paper "
                f"does not simulate: trade a {order.quote}-settled perpetual in paper"
            )
        price = self._slipped(order.side, order.price)
        fee = order.qty * price * self.fee_rate
        try:
            done = perp_fill(
                self.perp(order.symbol),
                side=order.side,
                qty=order.qty,
                price=price,
                fee=fee,
                leverage=order.leverage,
                free=self._free(settle),
                symbol=order.symbol,
                settle=settle,
            )
        except MarginShort as exc:
            raise PaperRejected(str(exc)) from None
        self._used_ids.add(order.client_order_id)
        balance = self._balance(settle)
        if done.margin_change >= 0:
            balance.used += done.margin_change
        else:  # never below zero: a journal from before margin was held has none there
            balance.used -= min(-done.margin_change, balance.used)
        balance.free += done.realized - done.margin_change
        self.perps[order.symbol] = done.position
        return Fill(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            price=price,
            fee=fee,
            fee_currency=settle,
            realized_pnl=done.realized,
            at=now,
            maker=False,
        )

    def _slipped(self, side: str, price: Decimal) -> Decimal:
        # Slippage always goes against the trader: buys pay more, sells receive less.
        slip = self.slippage_bps / _BPS
        return price * (1 + slip) if side == "buy" else price * (1 - slip)

    def _ensure_funds(self, order: PaperOrder, price: Decimal, fee: Decimal) -> None:
        if order.side == "buy":
            needed = order.qty * price + fee
            free = self._free(order.quote)
            if free < needed:
                raise PaperRejected(
                    f"insufficient {order.quote}: the order needs {_money(needed)} "
                    f"{order.quote} (incl. fee {_money(fee)}), {_money(free)} is free: lower "
                    f"the qty, or add {order.quote} to the paper balances"
                )
        else:
            free = self._free(order.base)
            if free < order.qty:
                raise PaperRejected(
                    f"insufficient {order.base}: the order sells {plain(order.qty)} "
                    f"{order.base}, {plain(free)} is free: lower the qty, or add "
                    f"{order.base} to the paper balances"
                )

    def _reservation(self, order: PaperOrder) -> Decimal:
        """What a resting limit order holds: quote incl. its fee for a buy, base for a sell."""
        if order.reserved is not None:
            return order.reserved
        if order.side == "buy":
            return order.qty * order.price * (1 + self.fee_rate)
        return order.qty

    # ------------------------------------------------------------ resting orders

    def on_price(self, symbol: str, price: Decimal, now: float) -> list[Fill]:
        """Fill the resting limits of symbol that price crosses, at their limit price."""
        fills = []
        for order in self._in_created_order():
            if order.symbol != symbol or _expired(order, now):
                continue
            crossed = price <= order.price if order.side == "buy" else price >= order.price
            if not crossed:
                continue
            del self.resting[order.client_order_id]
            fee = order.qty * order.price * self.fee_rate
            self._release(order)
            if order.side == "buy":
                self._credit(order.quote, -(order.qty * order.price + fee))
            else:
                self._credit(order.base, -order.qty)
            fills.append(self._settle(order, order.price, fee, now, maker=True))
        return fills

    def cancel(self, client_order_id: str) -> PaperOrder:
        """Take a resting order off the book and give back what it reserved (KeyError if none)."""
        order = self.resting.pop(client_order_id)
        self._release(order)
        return order

    def expire(self, now: float) -> list[PaperOrder]:
        """Cancel every resting order whose expiry has come; the cancelled ones, oldest first."""
        expired = [order for order in self._in_created_order() if _expired(order, now)]
        return [self.cancel(order.client_order_id) for order in expired]

    def _in_created_order(self) -> list[PaperOrder]:
        return sorted(self.resting.values(), key=lambda order: order.created_at)

    def _release(self, order: PaperOrder) -> None:
        balance = self._balance(order.quote if order.side == "buy" else order.base)
        # Never below zero, should the fee rate have changed since the book was saved.
        reserve = min(self._reservation(order), balance.used)
        balance.used -= reserve
        balance.free += reserve

    # ------------------------------------------------------------ fills and positions

    def _settle(
        self, order: PaperOrder, price: Decimal, fee: Decimal, now: float, *, maker: bool
    ) -> Fill:
        """Book a fill whose spending side was already debited: credit the other side, update
        the position."""
        if order.side == "buy":
            self._credit(order.base, order.qty)
            pnl = self._bought(order.symbol, order.qty, price, fee)
        else:
            self._credit(order.quote, order.qty * price - fee)
            pnl = self._sold(order.symbol, order.qty, price, fee)
        return Fill(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            qty=order.qty,
            price=price,
            fee=fee,
            fee_currency=order.quote,
            realized_pnl=pnl,
            at=now,
            maker=maker,
        )

    def _bought(self, symbol: str, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        position = self.positions.setdefault(symbol, Position())
        new_qty = position.qty + qty
        # Average cost with the fee in the basis, so realised P&L comes out net of fees.
        position.avg_price = (position.qty * position.avg_price + qty * price + fee) / new_qty
        position.qty = new_qty
        return Decimal(0)

    def _sold(self, symbol: str, qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        position = self.positions.get(symbol)
        if position is None or position.qty <= 0:
            return Decimal(0)  # coins the trader held before tvdesk: no P&L of tvdesk's
        closed = min(qty, position.qty)
        fee_share = fee if closed == qty else fee * closed / qty
        pnl = (price - position.avg_price) * closed - fee_share
        position.qty -= closed
        if position.qty == 0:
            position.avg_price = Decimal(0)
        position.realized_pnl += pnl
        return pnl

    def position(self, symbol: str) -> Position:
        """tvdesk's position in symbol (a zero Position when it has none)."""
        return self.positions.get(symbol, Position())

    def perp(self, symbol: str) -> PerpPosition:
        """tvdesk's position in a perpetual market (flat when it has none)."""
        return self.perps.get(symbol, PerpPosition())

    def equity_in(self, quote: str, prices: Mapping[str, Decimal]) -> Decimal:
        """Quote held (free and reserved) plus the positions quoted in it, valued at prices
        (a position without a price counts at its average cost)."""
        held = self.balances.get(quote)
        total = held.free + held.used if held else Decimal(0)
        for symbol, position in self.positions.items():
            if _quote_of(symbol) == quote:
                total += position.qty * prices.get(symbol, position.avg_price)
        for symbol, perp in self.perps.items():  # its margin is in the balance's used
            if symbol.partition(":")[2] == quote:
                total += perp.unrealized(prices.get(symbol, perp.entry))
        return total

    # ------------------------------------------------------------ balances

    def _free(self, currency: str) -> Decimal:
        balance = self.balances.get(currency)
        return balance.free if balance else Decimal(0)

    def _balance(self, currency: str) -> Balance:
        return self.balances.setdefault(currency, Balance(Decimal(0)))

    def _credit(self, currency: str, amount: Decimal) -> None:
        self._balance(currency).free += amount


def _expired(order: PaperOrder, now: float) -> bool:
    return order.expires_at is not None and order.expires_at <= now


def is_perp(symbol: str) -> bool:
    """A perpetual's ccxt symbol names its settle currency: ``BTC/USDT:USDT``."""
    return ":" in symbol


def _quote_of(symbol: str) -> str:
    return symbol.partition(":")[0].partition("/")[2]
