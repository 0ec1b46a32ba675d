"""The exchange's own view of tvdesk's perpetual positions, read in the background.

tvdesk's fills define its position (DESIGN: a position is what tvdesk's own fills built);
the exchange knows the rest: the mark price, its unrealised P&L, its liquidation price and
the leverage it applies. ``ExchangePositions`` reads them with ccxt's ``fetch_positions``
for the markets where tvdesk holds a perpetual, every ``every_s`` and soon after a fill,
never while an alert waits: the window's positions query reads this copy. Until the live
broker starts (live chosen at run time or at the start's question: at its first alert), that
query has the copy read again once it is older than ``every_s`` (``fresh``). When the
exchange holds another size than tvdesk's fills say, two reads in a row, the trader is
warned once (log and window), and the window says so beside the position.

Exits, position sync and flatten act on tvdesk's own position capped by the exchange's
(``cap``): never more than the exchange holds on that side, so a position the trader closed
by hand, or one a liquidation took, is not "closed" again into a position the other way;
that is warned about too. A copy read before tvdesk's last fill there caps nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tvdesk.brokers.base import Unavailable
from tvdesk.brokers.contracts import contract_size
from tvdesk.brokers.errors import ExchangeError, translate
from tvdesk.brokers.exchange import ExchangeClient, dec
from tvdesk.brokers.retry import CircuitBreaker
from tvdesk.core.clock import Clock
from tvdesk.core.decimals import plain
from tvdesk.core.symbols import split_symbol

log = logging.getLogger(__name__)
T = TypeVar("T")
Key = tuple[str, str]  # (exchange, symbol)


@dataclass(frozen=True)
class ExchangePosition:
    """One market's position as the exchange reports it; hedge mode's two sides netted."""

    qty: Decimal  # coins, signed: below 0 a short, 0 when the exchange holds nothing
    contracts: Decimal | None  # signed; None when the market's contract size is unknown
    entry: Decimal | None
    mark: Decimal | None
    unrealized_pnl: Decimal | None
    liquidation: Decimal | None
    leverage: Decimal | None
    read_at: float

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short" if self.qty < 0 else "flat"


class PositionSource(Protocol):
    """What the reader uses of the live broker, which hands itself down."""

    circuit: CircuitBreaker
    clients: dict[str, ExchangeClient]

    async def ready(self, exchange: str) -> ExchangeClient: ...

    async def read(self, query: Callable[[sqlite3.Connection], T]) -> T: ...

    def warn(self, exchange: str, message: str) -> None: ...


def size_text(qty: Decimal, contracts: Decimal | None, base: str) -> str:
    """``0.01 BTC (1 ct)``; coins alone when the contract size is unknown."""
    text = f"{plain(abs(qty))} {base}"
    return text if contracts is None else f"{text} ({plain(abs(contracts))} ct)"


def disagreement(own: Decimal, held: ExchangePosition, exchange: str, symbol: str) -> str | None:
    """What differs between tvdesk's position and the exchange's, in words; None if nothing."""
    if own == held.qty:
        return None
    base = split_symbol(symbol)[0]
    ours = f"{'long' if own > 0 else 'short'} {plain(abs(own))} {base}" if own else "nothing"
    theirs = f"{held.side} {size_text(held.qty, held.contracts, base)}" if held.qty else "nothing"
    return (
        f"{symbol}: tvdesk's fills hold {ours}, {exchange} holds {theirs} — a trade outside "
        "tvdesk, a liquidation, or a fill not yet recorded; tvdesk sells or buys back only "
        "its own"
    )


def from_ccxt(
    entries: list[dict[str, Any]], market: dict[str, Any] | None, at: float
) -> ExchangePosition:
    """One ``ExchangePosition`` from ccxt's position structures for one market."""
    size = contract_size(market)
    qty, contracts, unrealized = Decimal(0), Decimal(0), Decimal(0)
    known_pnl = True
    largest: dict[str, Any] = {}
    for entry in entries:
        n = dec(entry.get("contracts")) or Decimal(0)
        per = size or dec(entry.get("contractSize")) or Decimal(1)
        sign = -1 if entry.get("side") == "short" else 1
        contracts += sign * n
        qty += sign * n * per
        pnl = dec(entry.get("unrealizedPnl"))
        known_pnl = known_pnl and pnl is not None
        unrealized += pnl or 0
        if n >= (dec(largest.get("contracts")) or Decimal(0)):
            largest = entry
    return ExchangePosition(
        qty=qty,
        contracts=contracts if size is not None else None,
        entry=dec(largest.get("entryPrice")) if qty else None,
        mark=dec(largest.get("markPrice")),
        unrealized_pnl=unrealized if known_pnl and qty else None,
        liquidation=(dec(largest.get("liquidationPrice")) or None) if qty else None,
        leverage=dec(largest.get("leverage")) if qty else None,
        read_at=at,
    )


class ExchangePositions:
    def __init__(self, source: PositionSource, clock: Clock, every_s: float) -> None:
        self.source = source
        self.clock = clock
        self.every_s = every_s
        self._held: dict[Key, ExchangePosition] = {}
        self._errors: dict[str, str] = {}  # exchange -> why its positions could not be read
        self._seen: dict[Key, str] = {}  # a disagreement seen at the last read
        self._warned: dict[Key, str] = {}
        self._capped: dict[Key, str] = {}  # the last cap warned about
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._lock = asyncio.Lock()  # one read at a time, background or asked for
        self._read_at: float | None = None  # monotonic

    # -- the background reader ---------------------------------------------------------

    def start(self) -> None:
        """Begin reading in the background (the live broker's start); once."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="tvdesk-live-positions")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._held.clear()
        self._errors.clear()
        self._read_at = None

    def soon(self) -> None:
        """Read again now (a fill changed a position): the loop wakes, nobody waits."""
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.refresh()
            except Exception:  # one bad read must not end the reading
                log.exception("reading the exchange's positions failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.every_s)
            self._wake.clear()

    async def fresh(self) -> None:
        """Read again now if nothing reads in the background and the copy is stale."""
        read_at = self._read_at
        if self._task is None and (
            read_at is None or self.clock.monotonic() - read_at >= self.every_s
        ):
            await self.refresh()

    async def refresh(self) -> None:
        """Read, on each exchange where tvdesk holds a perpetual, the exchange's positions."""
        async with self._lock:
            await self._refresh()
            self._read_at = self.clock.monotonic()

    async def _refresh(self) -> None:
        own = await self.source.read(_own_perps)
        by_exchange: dict[str, dict[str, Decimal]] = {}
        for exchange, symbol, qty in own:
            by_exchange.setdefault(exchange, {})[symbol] = qty
        for key in [k for k in self._held if k[1] not in by_exchange.get(k[0], {})]:
            del self._held[key]  # tvdesk no longer holds it: nothing to compare
        if self.source.circuit.is_open:
            return
        for exchange, symbols in by_exchange.items():
            try:
                await self._read(exchange, symbols)
            except (ExchangeError, Unavailable) as exc:
                if self._errors.get(exchange) != str(exc):
                    log.warning("%s positions not read: %s", exchange, exc)
                self._errors[exchange] = str(exc)
            else:
                self._errors.pop(exchange, None)

    async def _read(self, exchange: str, own: dict[str, Decimal]) -> None:
        client = await self.source.ready(exchange)
        if not client.api.has.get("fetchPositions"):
            raise ExchangeError(f"ccxt cannot read {exchange}'s positions")
        at = self.clock.time()  # asked at: what it says includes every fill recorded before
        try:
            raw = await client.api.fetch_positions(sorted(own))
        except Exception as exc:
            raise translate(exc, exchange, client.secrets) from None
        for symbol, qty in own.items():
            entries = [p for p in raw if p.get("symbol") == symbol and p.get("contracts")]
            held = from_ccxt(entries, client.market(symbol), at)
            self._held[(exchange, symbol)] = held
            self._compare((exchange, symbol), qty, held)

    def _compare(self, key: Key, own: Decimal, held: ExchangePosition) -> None:
        """Warn once about a disagreement seen at two reads in a row (one order in flight
        between tvdesk's journal and the exchange's reply can make a single read differ)."""
        words = disagreement(own, held, *key)
        if words is None:
            self._seen.pop(key, None)
            self._warned.pop(key, None)
            return
        if self._seen.get(key) == words and self._warned.get(key) != words:
            self._warned[key] = words
            self.source.warn(key[0], words)
        self._seen[key] = words

    # -- what the positions query reads --------------------------------------------------

    def get(self, exchange: str, symbol: str) -> ExchangePosition | None:
        return self._held.get((exchange, symbol))

    def cap(self, exchange: str, symbol: str, own: Decimal, since: float) -> Decimal:
        """tvdesk's position ``own`` (last changed at ``since``) capped by the exchange's,
        when a read taken after that change says it holds less on that side; warned once."""
        key = (exchange, symbol)
        held = self._held.get(key)
        if held is None or not own or held.read_at < since:
            return own
        capped = max(min(own, held.qty), Decimal(0)) if own > 0 else min(max(own, held.qty), 0)
        if capped == own:
            self._capped.pop(key, None)
            return own
        base = split_symbol(symbol)[0]
        side = "long" if own > 0 else "short"
        theirs = (
            f"{held.side} {size_text(held.qty, held.contracts, base)}" if held.qty else "nothing"
        )
        words = (
            f"{symbol}: tvdesk's fills hold {side} {plain(abs(own))} {base}, {exchange} holds "
            f"{theirs}: exits, position sync and flatten act on {plain(abs(capped))} {base}, "
            "what is there of tvdesk's position (a trade outside tvdesk, or a liquidation)"
        )
        if self._capped.get(key) != words:
            self._capped[key] = words
            self.source.warn(exchange, words)
        return capped

    def merge(self, rows: list[dict[str, Any]]) -> None:
        """Add the exchange's figures to tvdesk's live positions (store ``positions`` rows).

        Each perpetual row gains ``contracts`` and ``on_exchange`` (the exchange's position,
        None before a read) and, when the two differ or the read failed, ``exchange_note``.
        Mark, liquidation and leverage become the exchange's; the unrealised P&L is the
        exchange's when it holds what tvdesk holds, else tvdesk's position at its mark.
        """
        for row in rows:
            row.setdefault("contracts", None)
            row.setdefault("on_exchange", None)
            row.setdefault("exchange_note", None)
            exchange, symbol, qty = row["exchange"], row["symbol"], row["qty"]
            if row.get("leverage") is None or not qty:
                continue  # spot, or nothing held
            client = self.source.clients.get(exchange)
            market = client.market(symbol) if client is not None else None
            size = contract_size(market)
            row["contracts"] = qty / size if size is not None else None
            held = self._held.get((exchange, symbol))
            if held is None:
                error = self._errors.get(exchange)
                row["exchange_note"] = f"{exchange} positions not read: {error}" if error else None
                continue
            row["on_exchange"] = held
            row["exchange_note"] = disagreement(qty, held, exchange, symbol)
            if held.mark is not None:
                row["mark"] = held.mark
                row["unrealized_pnl"] = (
                    held.unrealized_pnl
                    if held.qty == qty and held.unrealized_pnl is not None
                    else (held.mark - row["avg_price"]) * qty
                )
            if held.liquidation is not None:
                row["liquidation"] = held.liquidation
            if held.leverage is not None:
                row["leverage"] = held.leverage


def _own_perps(conn: sqlite3.Connection) -> list[tuple[str, str, Decimal]]:
    """tvdesk's live perpetual positions: (exchange, symbol, coins held, signed)."""
    rows = conn.execute(
        "SELECT exchange, symbol, qty FROM positions WHERE mode = 'live' AND symbol LIKE '%:%'"
    ).fetchall()
    return [(r[0], r[1], Decimal(r[2])) for r in rows if Decimal(r[2])]
