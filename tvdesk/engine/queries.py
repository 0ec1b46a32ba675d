"""What the front-ends ask the engine: its status (listener, tunnel, mode, kill switch,
queue, exchange, today's counters), positions at their mark, balances, whether live
trading can start, and which market an alert for a ticker would trade on.

``EngineQueries`` is part of ``Engine`` (engine.py), whose ``__init__`` sets what it
reads.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tvdesk import __version__
from tvdesk.brokers.base import Broker
from tvdesk.config.paths import local_url
from tvdesk.config.schema import Settings
from tvdesk.core.alert.fields import Alert
from tvdesk.core.clock import Clock
from tvdesk.core.perp_book import PerpPosition
from tvdesk.core.symbols import Mapping as MarketMapping
from tvdesk.core.symbols import split_symbol
from tvdesk.engine.decide import map_symbol
from tvdesk.engine.worker import Worker
from tvdesk.store.queries import Queries
from tvdesk.tunnel.manager import TunnelManager

if TYPE_CHECKING:
    from tvdesk.brokers.live import LiveBroker
    from tvdesk.brokers.paper import PaperBroker


class EngineQueries:
    # What this part of the engine reads from the rest of it.
    settings: Settings
    clock: Clock
    tunnel: TunnelManager | None
    worker: Worker
    queries: Queries
    live: LiveBroker | None
    paper: PaperBroker
    port: int
    tunnel_port: int | None
    broker: Callable[[str], Broker]
    _live_broker: Callable[[], LiveBroker]

    def tunnel_status(self) -> dict[str, Any]:
        if self.tunnel is None:
            return {"state": "off", "public_url": None, "error": None, "detail": None}
        return self.tunnel.status()

    @property
    def local_url(self) -> str:
        return local_url(self.settings.listener.host, self.port)

    async def status(self) -> dict[str, Any]:
        """Listener, tunnel, mode, kill switch, queue depth and today's counters."""
        return {
            "version": __version__,
            "mode": self.settings.mode,
            "listener": {"host": self.settings.listener.host, "port": self.port},
            "tunnel_port": self.tunnel_port,
            "tunnel": self.tunnel_status(),
            "kill_switch": self.settings.risk.kill_switch,
            "queue_depth": self.worker.depth,
            "exchange": self.settings.exchange.default,
            **self._exchange_status(),
            "today": await self.queries.today(self.clock.time(), self.settings.mode),
        }

    async def resolve_symbol(self, ticker: str, exchange: str | None = None) -> MarketMapping:
        """The market an alert for ``ticker`` would trade on now (symbol map first).

        Raises ``Unmapped`` with the reason and the fix, exactly as the worker would.
        """
        alert = Alert(symbol=ticker, side=None, exchange=exchange)
        settings = self.settings
        return await map_symbol(alert, settings, False, self.broker(settings.mode))

    async def check_live(self) -> str | None:
        """None when live trading can start now; otherwise why not, in plain words.

        It needs the default exchange's API key and secret, and a balance check that
        shows the account is reachable. A key that may withdraw is warned about.
        """
        return await self._live_broker().check()

    async def positions(self, mode: str) -> list[dict[str, Any]]:
        """The journal's positions (store ``positions``) with ``mark``, ``unrealized_pnl``
        and, on a perpetual, ``liquidation`` (an estimate, core/perp_book.py).

        Paper's mark is the public ticker with ``[paper] price_source = "market"``, else the
        last price paper saw for the market. A live perpetual adds the exchange's own view
        (brokers/positions.py ``merge``: its mark, unrealised P&L, liquidation, leverage,
        ``contracts``, ``on_exchange`` and ``exchange_note`` when the two disagree), read in
        the background once the live broker runs, and here until then.
        """
        rows = await self.queries.positions(mode)
        for row in rows:
            mark = await self._mark(row) if mode == "paper" and row["qty"] else None
            row["mark"] = mark
            row["unrealized_pnl"] = (
                (mark - row["avg_price"]) * row["qty"] if mark is not None else None
            )
            row["liquidation"] = None
            # Live, tvdesk knows neither the leverage nor the margin: the exchange's only.
            if row["leverage"] is not None and mode == "paper":
                perp = PerpPosition(row["qty"], row["avg_price"], row["leverage"], row["margin"])
                row["liquidation"] = perp.liquidation()
            row["contracts"] = await self._contracts(row) if mode == "paper" else None
        if mode == "live" and self.live is not None:
            await self.live.exchange_positions.fresh()  # read here only before the broker runs
            self.live.exchange_positions.merge(rows)
        return rows

    async def _contracts(self, row: dict[str, Any]) -> Decimal | None:
        """A paper perpetual's size in contracts, when paper knows the contract size."""
        if row["leverage"] is None or not row["qty"]:
            return None
        base, quote = split_symbol(row["symbol"])
        market = MarketMapping(row["exchange"], row["symbol"], base, quote, Decimal(1), "exact")
        size = await self.paper.contract_size(market)
        return row["qty"] / size if size else None

    async def _mark(self, row: dict[str, Any]) -> Decimal | None:
        base, quote = split_symbol(row["symbol"])
        market = MarketMapping(row["exchange"], row["symbol"], base, quote, Decimal(1), "exact")
        return await self.paper.mark_price(market)

    async def balances(self, mode: str) -> list[dict[str, Any]]:
        """Paper: the book in the journal. Live: what the exchange last reported."""
        if mode == "live":
            return self.live.cached_balances() if self.live is not None else []
        return await self.queries.balances(mode)

    def live_balance(self) -> str | None:
        """The default exchange's balance as the last live check read it (None before)."""
        if self.live is None:
            return None
        return self.live.balance_summary(self.settings.exchange.default)

    def _exchange_status(self) -> dict[str, Any]:
        """``exchange_status`` (connection, markets) and ``circuit`` (the breaker) for status()."""
        if self.live is None:
            closed = {"state": "closed", "failures": 0, "reason": None, "resumes_in_s": 0.0}
            return {
                "exchange_status": {"state": "off", "markets": 0, "error": None},
                "circuit": closed,
            }
        live = self.live.status()
        circuit = live.pop("circuit")
        return {"exchange_status": live, "circuit": circuit}
