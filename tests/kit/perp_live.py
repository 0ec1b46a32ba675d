"""A real ``tvdesk --headless --mode live`` engine trading a perpetual on a loopback fake.

Shared by the OKX swap and Bybit linear tests: settings for one perpetual row
(``BTCUSDT.P`` → ``BTC/USDT:USDT``), alerts for it, and what the fake process says it was
sent (``/fake/received``) and holds (``/fake/positions``). The position mode is set the way
a trader sets it: on the exchange, through ccxt's real signed request, before tvdesk starts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tests.brokers.test_paper_process import paper_alert, write_settings
from tests.kit.engine_proc import EngineProcess, Engines, get
from tests.kit.fake_exchange import FakeProcess
from tvdesk.brokers.exchange import rewrite_urls

PERP = "BTC/USDT:USDT"


@dataclass(frozen=True)
class Venue:
    """One exchange as the tests drive it."""

    exchange: str  # ccxt id
    fake: str  # tests.kit.fake_<fake>
    env: dict[str, str]  # the API keys, as environment variables
    create: str  # the path an order is created at (faults go there)
    size_field: str  # where the order's size is: sz (contracts) | qty (coins)
    id_field: str  # where tvdesk's client order id is


def settings(
    venue: Venue,
    *,
    leverage: str = "3",
    margin_mode: str = "cross",
    position_mode: str = "oneway",
    extra: str = "",
) -> str:
    return f"""
[exchange]
market_type = "swap"
leverage = {leverage}
margin_mode = "{margin_mode}"
position_mode = "{position_mode}"

[risk]
max_orders_per_minute = 0
max_notional = 0
{extra}
[[symbols]]
tv = "BTCUSDT.P"
exchange = "{venue.exchange}"
symbol = "{PERP}"
"""


def start(
    engines: Engines, fake: FakeProcess, venue: Venue, name: str = "data", **kw: Any
) -> EngineProcess:
    write_settings(engines.root / name, settings(venue, **kw))
    args = ("--mode", "live", "--exchange", venue.exchange, "--exchange-url", fake.url)
    engine = engines.start(name, *args, env=venue.env)
    assert f"LIVE mode on {venue.exchange}" in engine.stderr(), engine.stderr()
    return engine


def restart(engines: Engines, fake: FakeProcess, venue: Venue, name: str = "data") -> EngineProcess:
    """The same data dir again, its settings as they are."""
    args = ("--mode", "live", "--exchange", venue.exchange, "--exchange-url", fake.url)
    return engines.start(name, *args, env=venue.env)


def send(engine: EngineProcess, venue: Venue, ref: str, **fields: Any) -> str:
    alert = paper_alert(ref, symbol=f"{venue.exchange.upper()}:BTCUSDT.P", **fields)
    alert = {k: v for k, v in alert.items() if v is not None}
    code, reply = engine.post_signed(alert)
    assert code == 200, reply
    return reply["alert_id"]


def orders_sent(fake: FakeProcess) -> list[dict[str, Any]]:
    """The params of every order request the fake took (algo and conditional ones too)."""
    return [r["params"] for r in fake.received()]


def book(fake: FakeProcess) -> dict[str, Any]:
    """The fake's positions, position mode and every leverage / margin call it took."""
    return get(f"{fake.url}/fake/positions")[1]


def trail(record: dict[str, Any]) -> str:
    return "\n".join(str(entry.get("detail", "")) for entry in record["trail"])


def wait_created(fake: FakeProcess, cid: str, engine: EngineProcess) -> None:
    deadline = time.monotonic() + 30
    while not any(e["clientOrderId"] == cid for e in fake.entries("created")):
        assert time.monotonic() < deadline, engine.stderr()
        time.sleep(0.02)


def set_hedge_mode(venue: Venue, fake: FakeProcess) -> None:
    """The trader switches the account to hedge mode (long/short) with ccxt, as a script would."""
    import ccxt.async_support as ccxt

    async def switch() -> None:
        creds = {k.rsplit("_", 1)[-1].lower(): v for k, v in venue.env.items()}
        config = {
            "apiKey": creds["key"],
            "secret": creds["secret"],
            "password": creds.get("password"),
        }
        kinds = ["swap"] if venue.exchange == "okx" else ["linear"]
        options = {"defaultType": "swap", "fetchMarkets": {"types": kinds}}
        api = getattr(ccxt, venue.exchange)({**config, "options": options})
        api.urls["api"] = rewrite_urls(api.urls["api"], fake.url)
        try:
            await api.load_markets()
            await api.set_position_mode(True, PERP)
        finally:
            await api.close()

    asyncio.run(switch())


def dec(value: Any) -> Decimal:
    return Decimal(str(value))
