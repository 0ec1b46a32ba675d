"""ccxt with its transport replaced: each signed request recorded, canned replies returned.

The "checked" exchanges (DESIGN.md "Exchanges") are driven through tvdesk's own order code
(``ExchangeClient``: create, find) and real ccxt request building and signing; only the
HTTP round trip is replaced. A reply goes through ccxt's own error handling
(``handle_errors``, ``handle_http_status_code``), so an exchange's error body becomes the
exception ccxt would raise. Markets are ccxt's structures, set directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tvdesk.brokers.exchange import Credentials, ExchangeClient, LiveTuning
from tvdesk.core.ids import client_order_id

ALERT = "01HZZZZZZZZZZZZZZZZZZZZZZZ"
CID = client_order_id(ALERT)
STOP_CID = client_order_id(ALERT, 1)


@dataclass
class Sent:
    method: str
    path: str
    fields: dict[str, Any]
    headers: dict[str, Any]


# (method, path, fields) -> (HTTP status, JSON body); None: the route is not canned.
Answer = Callable[[str, str, dict[str, Any]], tuple[int, Any] | None]


@dataclass
class Capture:
    api: Any
    answer: Answer
    sent: list[Sent] = field(default_factory=list)

    async def fetch(self, url: str, method: str = "GET", headers: Any = None, body: Any = None):
        parts = urlsplit(url)
        fields: dict[str, Any] = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                loaded = {k: v[-1] for k, v in parse_qs(body).items()}
            fields.update(loaded[0] if isinstance(loaded, list) else loaded)
        self.sent.append(Sent(method, parts.path, fields, dict(headers or {})))
        canned = self.answer(method, parts.path, fields)
        if canned is None:
            raise AssertionError(f"no canned reply for {method} {parts.path} {fields}")
        status, reply = canned
        text = json.dumps(reply)
        self.api.handle_errors(status, "", url, method, {}, text, reply, headers, body)
        self.api.handle_http_status_code(status, "", url, method, text)
        return reply

    def to(self, path: str, method: str | None = None) -> list[Sent]:
        """The requests to ``path`` (with ``method``, if given)."""
        return [s for s in self.sent if s.path == path and method in (None, s.method)]


def spot_market(
    symbol: str, market_id: str, *, cost_min: float | None = 1.0, info: dict | None = None
) -> dict[str, Any]:
    base, quote = symbol.split("/")
    return {
        "id": market_id,
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "active": True,
        "contractSize": None,
        "precision": {"amount": 0.00001, "price": 0.01},
        "limits": {
            "amount": {"min": 0.00001, "max": None},
            "price": {"min": None, "max": None},
            "cost": {"min": cost_min, "max": 1_000_000.0},
        },
        "info": info or {"symbol": market_id},
    }


async def captured(
    exchange: str, markets: list[dict[str, Any]], answer: Answer, *, options: dict | None = None
) -> tuple[ExchangeClient, Capture]:
    """tvdesk's client for ``exchange`` with these markets and ccxt's transport replaced."""
    creds = Credentials("key0123456789", "c2VjcmV0MDEyMzQ1Njc4OWFi", "pass0123")
    market_type = "swap" if any(m.get("swap") for m in markets) else "spot"
    client = ExchangeClient(
        exchange, creds, market_type=market_type, tuning=LiveTuning(rate_limit=False)
    )
    await client.open()
    client.api.set_markets(markets)
    client.api.options.update(options or {})
    client.markets_loaded_at = 0.0
    capture = Capture(client.api, answer)
    client.api.fetch = capture.fetch
    return client, capture
