"""The paper broker: the pure ``PaperBook`` per exchange, kept in the journal (``paper_store``).

The book is mutated in memory and its changes are written in the same
transaction as the alert's outcome, so a crash either loses both (the alert
is still pending and runs again) or keeps both (it never runs again).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tvdesk.brokers.base import (
    Execution,
    Holdings,
    OrderRequest,
    Refusal,
    RestingOrder,
    Unavailable,
    nothing_to_cancel,
    resting_text,
)
from tvdesk.brokers.paper_store import (
    MODE,
    PaperChanges,
    fill_text,
    load_book,
    load_prices,
    write_changes,
)
from tvdesk.brokers.prices import PublicPrices
from tvdesk.brokers.venues.contract_sizes import known_contract_size
from tvdesk.config.schema import PaperSettings
from tvdesk.core.book import PaperBook, PaperOrder, PaperRejected, is_perp
from tvdesk.core.decimals import plain
from tvdesk.core.events import OrderCanceled, OrderFilled, OrderSubmitted
from tvdesk.core.symbols import Mapping

LIMIT_ORDER_TTL_S = 7 * 24 * 3600  # a resting paper limit order expires after a week


def _free(book: PaperBook, currency: str) -> Decimal:
    balance = book.balances.get(currency)
    return balance.free if balance is not None else Decimal(0)


class PaperBroker:
    """One ``PaperBook`` per exchange, loaded from the journal on first use."""

    mode = MODE

    def __init__(
        self,
        journal_path: Path,
        settings: Callable[[], PaperSettings],
        prices: PublicPrices | None = None,
    ) -> None:
        self._journal_path = journal_path
        self._settings = settings
        self._market = prices  # the exchange's public ticker, for price_source = "market"
        self._books: dict[str, PaperBook] = {}
        self._prices: dict[tuple[str, str], Decimal] = {}

    async def start(self) -> None:
        self._prices.update(await asyncio.to_thread(load_prices, self._journal_path))

    async def stop(self) -> None:
        self._books.clear()
        if self._market is not None:
            await self._market.close()

    def book(self, exchange: str) -> PaperBook:
        book = self._books.get(exchange)
        if book is None:
            book = self._books[exchange] = load_book(self._journal_path, exchange, self._settings())
        # Today's [paper] fee and slippage, also after an edit of settings.toml.
        paper = self._settings()
        book.fee_rate, book.slippage_bps = Decimal(paper.fee_rate), Decimal(paper.slippage_bps)
        return book

    def discard(self, exchange: str, alert_id: str) -> None:
        self._books.pop(exchange, None)

    def last_price(self, exchange: str, symbol: str) -> Decimal | None:
        return self._prices.get((exchange, symbol))

    async def market_price(self, mapping: Mapping) -> Decimal | None:
        return self.last_price(mapping.exchange, mapping.symbol)

    async def reference_price(self, mapping: Mapping) -> Decimal | None:
        # Only a price read from the exchange is market data: the last paper price came from
        # an alert, and checking alerts against alerts would refuse every simulated move.
        if self._market is None or self._settings().price_source != "market":
            return None
        return await self._market.price(mapping)

    async def recover(self, alert_id: str) -> Execution | None:
        return None  # the book and the outcome are written together: nothing to settle

    async def markets(self, exchange: str) -> None:
        return None  # paper trading works offline: rule-based mapping only

    async def mark_price(self, mapping: Mapping) -> Decimal | None:
        """A position's mark: the public ticker with ``price_source = "market"`` (when it
        answers), else the last price paper saw for the market."""
        try:
            market = await self.reference_price(mapping)
        except (Refusal, Unavailable):
            market = None
        return market if market is not None else self.last_price(mapping.exchange, mapping.symbol)

    async def contract_size(self, mapping: Mapping) -> Decimal | None:
        """Coins per contract of a perpetual: the exchange's public markets with
        ``price_source = "market"``, else the sizes known offline (``venues``); None if
        neither knows it (or on spot)."""
        if not is_perp(mapping.symbol):
            return None
        if self._market is not None and self._settings().price_source == "market":
            with contextlib.suppress(Refusal, Unavailable):
                size = await self._market.contract_size(mapping)
                if size is not None:
                    return size
        return known_contract_size(mapping.exchange, mapping.symbol)

    async def holdings(self, mapping: Mapping) -> Holdings:
        book = self.book(mapping.exchange)
        if is_perp(mapping.symbol):  # margin, not coins: only the settle currency counts
            return Holdings(
                quote_free=_free(book, mapping.quote),
                base_free=Decimal(0),
                position_qty=book.perp(mapping.symbol).qty,
                buy_cost=(1 + book.slippage_bps / 10_000) * (1 + book.fee_rate),
            )
        return Holdings(
            quote_free=_free(book, mapping.quote),
            base_free=_free(book, mapping.base),
            position_qty=book.position(mapping.symbol).qty,
            buy_cost=(1 + book.slippage_bps / 10_000) * (1 + book.fee_rate),
            base_reserved=sum(
                (
                    o.qty
                    for o in book.resting.values()
                    if (o.symbol, o.side) == (mapping.symbol, "sell")
                ),
                Decimal(0),
            ),
        )

    async def conform(
        self, mapping: Mapping, qty: Decimal, price: Decimal | None
    ) -> tuple[Decimal, Decimal | None, str]:
        return qty, price, "paper: no market data loaded, amounts not rounded"

    async def execute(self, request: OrderRequest, now: float) -> Execution:
        if request.price is None:
            raise Refusal(
                'paper trading needs a price: add "price": {{close}} to the alert '
                "(tvdesk fetches no prices in paper mode)"
            )
        mapping = request.mapping
        book = self.book(mapping.exchange)
        changes = PaperChanges(mapping.exchange)
        execution = Execution("rejected", "")
        changes.canceled.extend(book.expire(now))
        if request.order_type == "market":
            # Only a market alert's price says where the market traded: a limit alert's
            # price is its own wish, and crosses nobody's resting order.
            self._prices[(mapping.exchange, mapping.symbol)] = request.price
            changes.fills.extend(book.on_price(mapping.symbol, request.price, now))
        for fill in changes.fills:
            execution.trail.append(("fills", True, f"resting {fill_text(fill)}"))
        order = PaperOrder(
            client_order_id=request.client_order_id,
            symbol=mapping.symbol,
            base=mapping.base,
            quote=mapping.quote,
            side=request.side,
            order_type=request.order_type,
            qty=request.qty,
            price=request.price,
            created_at=now,
            expires_at=now + LIMIT_ORDER_TTL_S if request.order_type == "limit" else None,
            leverage=request.leverage,
        )
        try:
            fill = book.place(order, now)
        except PaperRejected as exc:
            execution.reason = str(exc)
        else:
            changes.placed, changes.placed_fill = order, fill
            execution.placed.append(mapping.symbol)
            execution.events.append(
                OrderSubmitted(
                    now,
                    request.alert_id,
                    order.client_order_id,
                    mapping.exchange,
                    order.symbol,
                    order.side,
                    str(order.qty),
                    MODE,
                )
            )
            if fill is None:
                execution.outcome = "open"
                execution.reason = (
                    f"limit {order.side} {plain(order.qty)} {order.symbol} @ "
                    f"{plain(order.price)} resting (paper)"
                )
            else:
                execution.outcome = "filled"
                execution.reason = f"paper {fill_text(fill)}"
                if is_perp(order.symbol):
                    execution.reason += f"; {_perp_text(book, order.symbol, order.quote)}"
        if changes.placed is not None:
            _say_unprotected(execution, request)
        fills = [*changes.fills, *([changes.placed_fill] if changes.placed_fill else [])]
        for fill in fills:
            execution.realized_pnl += fill.realized_pnl
            execution.events.append(
                OrderFilled(
                    now,
                    request.alert_id,
                    fill.client_order_id,
                    fill.symbol,
                    fill.side,
                    str(fill.qty),
                    str(fill.price),
                    str(fill.fee),
                    MODE,
                )
            )
        if changes.touched:
            alert_id = request.alert_id

            def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
                settled = write_changes(conn, book, changes, alert_id=alert_id, now=now)
                return [item for item in settled if item[0] != alert_id]

            execution.write = write
        return execution

    async def resting(self, mapping: Mapping, now: float) -> list[RestingOrder]:
        return [_resting(order) for order in self._resting_on(mapping, now)]

    async def cancel_resting(self, alert_id: str, mapping: Mapping, now: float) -> Execution:
        book = self.book(mapping.exchange)
        expired = PaperChanges(mapping.exchange, canceled=book.expire(now))
        mine = [book.cancel(order.client_order_id) for order in self._resting_on(mapping, now)]
        execution = Execution("rejected", nothing_to_cancel(mapping))
        if mine:
            listed = resting_text(mapping, [_resting(order) for order in mine])
            execution.outcome = "canceled"
            execution.reason = f"canceled {listed} (paper): their funds are free again"
        canceled = PaperChanges(mapping.exchange, canceled=mine)

        def write(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            settled = write_changes(conn, book, expired, alert_id=None, now=now)
            write_changes(conn, book, canceled, alert_id=None, now=now)  # its words are ours
            for order in mine:
                row = conn.execute(
                    "SELECT alert_id FROM orders WHERE client_order_id = ?",
                    (order.client_order_id,),
                ).fetchone()
                if row is not None and row[0]:
                    settled.append((row[0], "canceled", _canceled_text(order, alert_id)))
                    execution.events.append(
                        OrderCanceled(
                            now,
                            row[0],
                            order.client_order_id,
                            mapping.exchange,
                            order.symbol,
                            order.side,
                            plain(order.qty),
                            MODE,
                            alert_id,
                        )
                    )
            return settled

        if mine or expired.touched:
            execution.write = write
        return execution

    def _resting_on(self, mapping: Mapping, now: float) -> list[PaperOrder]:
        """tvdesk's resting paper orders on this market that have not expired, oldest first."""
        book = self.book(mapping.exchange)
        return sorted(
            (
                order
                for order in book.resting.values()
                if order.symbol == mapping.symbol
                and (order.expires_at is None or order.expires_at > now)
            ),
            key=lambda order: order.created_at,
        )


def _perp_text(book: PaperBook, symbol: str, settle: str) -> str:
    """``position short 0.01 @ 50000, 2×, margin 250 USDT`` (or ``position flat``)."""
    perp = book.perp(symbol)
    if perp.qty == 0:
        return f"position flat, realised {plain(perp.realized_pnl)} {settle} in all"
    return (
        f"position {perp.side} {plain(abs(perp.qty))} @ {plain(perp.entry)}, "
        f"{plain(perp.leverage)}×, margin {plain(perp.margin)} {settle}"
    )


def _resting(order: PaperOrder) -> RestingOrder:
    return RestingOrder(order.client_order_id, order.side, order.order_type, order.qty, order.price)


def _canceled_text(order: PaperOrder, by: str) -> str:
    return (
        f"limit {order.side} {plain(order.qty)} {order.symbol} @ {plain(order.price)} canceled "
        f"by the cancel alert {by} (paper), nothing filled: its funds are free again"
    )


def _say_unprotected(execution: Execution, request: OrderRequest) -> None:
    """Paper places no stop-loss or take-profit: the trail and the reason say so, never silence."""
    asked = [
        f"{words} {plain(price)}"
        for words, price in (("stop-loss", request.stop_loss), ("take-profit", request.take_profit))
        if price is not None
    ]
    if not asked:
        return
    why = (
        f"{' and '.join(asked)} not placed: paper trading does not simulate protective "
        "orders (live mode places them on the exchange)"
    )
    execution.trail.append(("protect", False, why))
    execution.reason += f"; {why}"
