"""The loopback OKX (fake_okx.py) with the positions endpoint ccxt's ``fetch_positions`` reads.

``/api/v5/account/positions`` (signed as every private OKX call, checked by ``FakeOkx``):
the perpetual positions a test gives the account with ``hold``, in OKX's net position mode
(``posSide`` ``net``, ``pos`` signed, in contracts of ``ctVal`` 0.01 BTC), filtered by
``instType`` and by ``instId`` (a comma-separated list), as OKX answers it. Each request's
query is kept in ``position_requests``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.kit.fake_exchange import ms, num
from tests.kit.fake_okx import SWAP, FakeOkx


class FakeOkxPositions(FakeOkx):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.positions: dict[str, dict[str, Any]] = {}  # instId -> OKX's position row
        self.position_requests: list[dict[str, str]] = []

    def routes(self, r: web.UrlDispatcher) -> None:
        super().routes(r)
        r.add_get("/api/v5/account/positions", self._signed(self._positions))

    def hold(
        self,
        contracts: str,
        entry: str,
        mark: str,
        *,
        leverage: str = "3",
        liquidation: str = "",
        inst: str = SWAP["instId"],
    ) -> None:
        """The account holds ``contracts`` (signed: below 0 a short) of ``inst``; 0 closes it."""
        pos, avg, mark_px = Decimal(contracts), Decimal(entry), Decimal(mark)
        if not pos:
            self.positions.pop(inst, None)
            return
        coins = pos * Decimal(SWAP["ctVal"])
        notional = abs(coins) * mark_px
        self.positions[inst] = {
            "instType": "SWAP",
            "instId": inst,
            "posId": f"p{len(self.positions) + 1}",
            "posSide": "net",
            "pos": num(pos),
            "availPos": num(abs(pos)),
            "avgPx": num(avg),
            "markPx": num(mark_px),
            "last": num(mark_px),
            "upl": num((mark_px - avg) * coins),
            "uplRatio": num((mark_px - avg) * coins / (notional / Decimal(leverage))),
            "lever": leverage,
            "liqPx": liquidation,
            "mgnMode": "cross",
            "imr": num(notional / Decimal(leverage)),
            "mmr": num(notional * Decimal("0.004")),
            "margin": "",
            "notionalUsd": num(notional),
            "ccy": "USDT",
            "posCcy": "",
            "adl": "1",
            "cTime": str(ms()),
            "uTime": str(ms()),
        }

    async def _positions(self, p: dict[str, str]) -> web.Response:
        self.position_requests.append(p)
        wanted = set(p["instId"].split(",")) if p.get("instId") else None
        return self.ok(
            [
                row
                for inst, row in self.positions.items()
                if (wanted is None or inst in wanted)
                and p.get("instType") in (None, row["instType"])
            ]
        )
