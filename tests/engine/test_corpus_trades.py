"""Every real alert format in the corpus (tests/core/alert_corpus.json, a copy of
../shared/alerts/corpus.json) trades as the trader meant on a real paper engine, or is
refused naming the field; read back through the real ``tvdesk export`` command.

Parsing alone is proved in tests/core/test_dialects.py; this sends each body exactly as
the corpus gives it (JSON serialised as application/json, text as is), setup alerts
first, and checks the order the journal kept: market, exchange, side, size, type, price.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Context, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomlkit

from tests.kit.paper import SECRET, PaperDesk
from tvdesk.cli.main import main as tvdesk
from tvdesk.config.load import load_settings

CORPUS = json.loads((Path(__file__).parents[1] / "core" / "alert_corpus.json").read_text())
ENTRIES = CORPUS["entries"]
# What the corpus assumes of every desk ("settings_hint" in its "about" block).
ASSUMED: dict[str, Any] = {
    "mode": "paper",
    "listener": {"port": 0},
    "paper": {"fee_rate": 0, "slippage_bps": 0, "balances": {"USDT": 100000}},
    "risk": {"max_notional": 0},
    "tunnel": {"enabled": False},
}
_DOWN = Context(prec=28, rounding=ROUND_DOWN)


def merged(base: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in hint.items():
        out[key] = merged(out[key], value) if isinstance(out.get(key), dict) else value
    return out


def render(body: Any, now: datetime) -> Any:
    """The body with the secret and TradingView's time placeholders filled in, as sent."""
    if isinstance(body, dict):
        return {key: render(value, now) for key, value in body.items()}
    if not isinstance(body, str):
        return body
    bar_open = now - timedelta(hours=1)
    return (
        body.replace("SECRET", SECRET)
        .replace("{{timenow}}", now.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .replace("{{time}}", bar_open.strftime("%Y-%m-%dT%H:%M:%SZ"))
    )


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


class Sender:
    """Posts bodies to the desk's webhook as TradingView would, and waits for outcomes."""

    def __init__(self, desk: PaperDesk, session: aiohttp.ClientSession) -> None:
        self.desk, self.session = desk, session

    async def send(self, body: Any, content_type: str) -> tuple[int, dict[str, Any]]:
        rendered = render(body, datetime.now(UTC))
        data = rendered if isinstance(rendered, str) else json.dumps(rendered)
        url = f"{self.desk.engine.local_url}/webhook"
        headers = {"Content-Type": content_type}
        async with self.session.post(url, data=data.encode(), headers=headers) as reply:
            answer = await reply.json()
        if reply.status == 200:
            await self.desk.outcome(answer["alert_id"])
        return reply.status, answer


def exported(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The journal as ``tvdesk export --format jsonl --data-dir DIR`` prints it."""
    capsys.readouterr()
    assert tvdesk(["export", "--format", "jsonl", "--data-dir", str(data_dir)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def last_price(before: list[dict[str, Any]], exchange: str, symbol: str) -> Decimal | None:
    """The price of the desk's last fill on that market, among the records ``before``."""
    fills = [
        dec(o["avg_price"])
        for r in before
        for o in r["orders"]
        if (o["exchange"], o["symbol"], o["status"]) == (exchange, symbol, "filled")
    ]
    return fills[-1] if fills else None


def said(record: dict[str, Any], reply: dict[str, Any] | None = None) -> str:
    """Everything the desk said about an alert: reply, record and trail, in one text."""
    parts = [str(record.get(k) or "") for k in ("error", "message", "reason")]
    parts += [json.dumps(record.get("fields") or {}), *(t["detail"] for t in record["trail"])]
    if reply is not None:
        parts += [str(reply.get("message") or ""), json.dumps(reply.get("fields") or {})]
    return "\n".join(parts)


def expected_qty(meant: dict[str, Any], price: Decimal, quote_free: Decimal) -> Decimal:
    if "notional" in meant:
        return _DOWN.divide(dec(meant["notional"]), price)
    if "qty_pct" in meant:
        return _DOWN.divide(quote_free * dec(meant["qty_pct"]) / 100, price)
    if meant.get("close"):
        return dec(meant["position_before"])
    return dec(meant["qty"])


def quote_of(symbol: str) -> str:
    return symbol.split("/")[1].split(":")[0]  # "USDT" of "BTC/USDT" and "BTC/USDT:USDT"


def assert_traded(
    record: dict[str, Any], meant: dict[str, Any], last: Decimal | None, quote_free: Decimal
) -> None:
    """The journal's record is the trade the trader meant (paper: fee and slippage 0)."""
    text = said(record)
    assert record["status"] == "accepted", text
    assert len(record["orders"]) == 1, text
    (order,) = record["orders"]
    assert order["mode"] == "paper"
    assert order["exchange"] == meant.get("exchange", "binance")
    assert order["symbol"] == meant["symbol"]
    assert order["side"] == meant["side"]
    # No price in the alert: paper fills at the last price the desk saw for that market.
    price = dec(meant["price"]) if "price" in meant else last
    assert price is not None
    if "price" not in meant:
        where = f"{order['exchange']} {meant['symbol']}"
        assert f"paper fills at the last price seen for {where}" in text, text
    qty = expected_qty(meant, price, quote_free)
    assert dec(order["qty"]) == qty, text
    if meant["order_type"] == "limit":
        assert (record["outcome"], order["status"], dec(order["filled"])) == ("open", "open", 0)
        assert f"limit {meant['side']} {order['qty']} {meant['symbol']} @ {price}" in text
    else:
        assert (record["outcome"], order["status"]) == ("filled", "filled"), text
        assert (dec(order["filled"]), dec(order["avg_price"])) == (qty, price)
    for name, words in (("stop_loss", "stop-loss"), ("take_profit", "take-profit")):
        if name in meant:
            # Paper places no protective orders, and says so with the prices it was asked for.
            found = re.search(rf"{words} ([0-9.]+)", record["reason"])
            assert found is not None and dec(found[1]) == dec(meant[name]), text
            assert "not placed: paper trading does not simulate protective orders" in text


def assert_refused(
    status: int, reply: dict[str, Any], record: dict[str, Any] | None, meant: dict[str, Any]
) -> None:
    pattern = re.compile(meant["refuse_pattern"], re.IGNORECASE)
    if status != 200:
        assert 400 <= status < 500, reply
        assert reply["status"] == "rejected"
        text = said(record, reply) if record is not None else json.dumps(reply)
    else:
        assert record is not None
        assert record["outcome"] == "rejected", said(record)
        assert record["orders"] == []
        text = said(record)
    assert pattern.search(text), text


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["id"] for e in ENTRIES])
async def test_corpus_entry_trades_as_meant(
    entry: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "desk"
    data_dir.mkdir()
    settings_file = data_dir / "settings.toml"
    settings_file.write_text(tomlkit.dumps(merged(ASSUMED, entry.get("settings_hint", {}))))
    settings = load_settings(settings_file)

    sent: list[tuple[dict[str, Any], int, dict[str, Any], Decimal]] = []
    async with PaperDesk(data_dir, settings) as desk, aiohttp.ClientSession() as session:
        sender = Sender(desk, session)
        setup_ids = []
        for body in entry.get("setup", ()):
            status, reply = await sender.send(body, "application/json")
            assert status == 200, reply
            setup_ids.append(reply["alert_id"])
        steps = [entry, *entry.get("then", ())]
        for step in steps:
            quote = quote_of(step["meant"].get("symbol", "X/USDT"))
            quote_free = dec((await desk.balances()).get(quote, 0))
            content_type = entry["content_type"]
            status, reply = await sender.send(step["body"], content_type)
            sent.append((step["meant"], status, reply, quote_free))

    records = exported(data_dir, capsys)
    journal = {r["alert_id"]: r for r in records}
    for alert_id in setup_ids:
        assert journal[alert_id]["outcome"] == "filled", said(journal[alert_id])
    for meant, status, reply, quote_free in sent:
        record = journal.get(reply.get("alert_id", ""))
        if "refuse" in meant:
            assert_refused(status, reply, record, meant)
            continue
        assert status == 200, reply
        assert record is not None
        before = records[: records.index(record)]
        last = last_price(before, meant.get("exchange", "binance"), meant["symbol"])
        assert_traded(record, meant, last, quote_free)

    never = entry.get("never_stored", ())
    if never:
        export_text = json.dumps(records)
        for value in never:
            assert value not in export_text
            for path in stored_files(data_dir):
                assert value.encode() not in path.read_bytes(), path
