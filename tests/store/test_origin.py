"""The journal's ``origin`` (schema v4): what made an alert tvdesk's own.

A flatten journaled by an older tvdesk is known by its client, but only on a row that did
not come through the tunnel: the tunnel's listener was the one place where a request could
choose its client (``X-Forwarded-For: internal:flatten``), and such a row never becomes
privileged by the upgrade.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from tests.kit.engine_proc import run_cli
from tests.kit.paper import PaperDesk, paper_settings
from tvdesk.core.alert.fields import Alert, alert_to_dict
from tvdesk.store.schema import _MIGRATIONS, SCHEMA_VERSION, _split_sql

KILL_REASON = "the kill switch is on: no new orders until you resume"


def older_journal(path: Path) -> None:
    """A journal as tvdesk wrote it before v4: 0.01 BTC held, a flatten and a forgery pending.

    Schema v2, the oldest with every column these rows need; the start migrates it on.
    """
    with closing(sqlite3.connect(path)) as conn:
        for number in range(2):
            for statement in _split_sql(_MIGRATIONS[number]):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 2")
        conn.execute(
            "INSERT INTO positions (mode, exchange, symbol, qty, avg_price, updated_at)"
            " VALUES ('paper', 'binance', 'BTC/USDT', '0.01', '50000', 1.0)"
        )
        conn.execute(
            "INSERT INTO balances (mode, exchange, currency, free)"
            " VALUES ('paper', 'binance', 'BTC', '0.01')"
        )
        conn.execute(
            "INSERT INTO fills (client_order_id, alert_id, exchange, symbol, side, qty, price,"
            " fee, mode, at) VALUES ('c1', '01OLDBOUGHT', 'binance', 'BTC/USDT', 'buy', '0.01',"
            " '50000', '0.5', 'paper', 1.0)"
        )
        # As EngineCommands.flatten made it; the forgery is the same with a price.
        made = Alert(
            symbol="BTC/USDT",
            side=None,
            exchange="binance",
            target_position=Decimal(0),
            market_position="flat",
            strategy="flatten",
        )
        flatten = alert_to_dict(made)
        forged = alert_to_dict(replace(made, price=Decimal(50000)))
        rows = [
            ("01OLDFORGED", "internal:flatten", 1, forged),  # came through the tunnel
            ("01OLDFLATTEN", "internal:flatten", 0, flatten),  # made by tvdesk
        ]
        for alert_id, client, via_tunnel, alert in rows:
            conn.execute(
                "INSERT INTO alerts (alert_id, received_at, client, via_tunnel, status, alert,"
                " outcome, mode) VALUES (?, 1.0, ?, ?, 'accepted', ?, 'pending', 'paper')",
                (alert_id, client, via_tunnel, json.dumps(alert)),
            )
        conn.commit()


async def test_an_older_flatten_keeps_its_privilege_and_a_forged_one_gets_none(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    older_journal(data / "journal.sqlite3")

    exported = run_cli("export", "--data-dir", str(data))  # read as it is, not migrated
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == 2

    settings = paper_settings(kill_switch=True)
    async with PaperDesk(data, settings) as desk:
        forged = await desk.outcome("01OLDFORGED")
        flatten = await desk.outcome("01OLDFLATTEN")

        assert (forged.outcome, forged.reason) == ("rejected", KILL_REASON)
        assert flatten.outcome == "filled", flatten.reason
        assert (await desk.position())["qty"] == 0

    with closing(sqlite3.connect(data / "journal.sqlite3")) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        origins = dict(conn.execute("SELECT alert_id, origin FROM alerts"))
    assert origins == {"01OLDFORGED": None, "01OLDFLATTEN": "flatten"}
