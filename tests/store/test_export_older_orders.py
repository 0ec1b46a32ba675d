"""A journal from before v6 (no ``orders.contracts``) exports its orders as they are: the
column reads null, nothing is migrated, and the CSV keeps its ``order.contracts`` column."""

from __future__ import annotations

import csv
import io
import sqlite3
from contextlib import closing
from pathlib import Path

from tvdesk.store.export import records, write_csv
from tvdesk.store.schema import _MIGRATIONS, _split_sql


def test_a_version_5_journal_exports_its_orders_with_contracts_null(tmp_path: Path):
    path = tmp_path / "journal.sqlite3"
    with closing(sqlite3.connect(path)) as conn:
        for number in range(5):
            for statement in _split_sql(_MIGRATIONS[number]):
                conn.execute(statement)
        conn.execute("PRAGMA user_version = 5")
        conn.execute(
            "INSERT INTO alerts (alert_id, received_at, client, status, outcome)"
            " VALUES ('01OLDV5ALERT', 1.0, '127.0.0.1', 'accepted', 'filled')"
        )
        conn.execute(
            "INSERT INTO orders (client_order_id, alert_id, exchange, symbol, side, order_type,"
            " qty, mode, status, filled, created_at, updated_at) VALUES ('tvd01OLDV5ALERT',"
            " '01OLDV5ALERT', 'binance', 'BTC/USDT', 'buy', 'market', '0.01', 'live', 'filled',"
            " '0.01', 1.0, 1.0)"
        )
        conn.commit()

    (record,) = records(path)
    (order,) = record["orders"]
    assert (order["qty"], order["contracts"], order["status"]) == ("0.01", None, "filled")
    out = io.StringIO()
    write_csv(records(path), out)
    (row,) = csv.DictReader(io.StringIO(out.getvalue()))
    assert (row["order.qty"], row["order.contracts"]) == ("0.01", "")
    with closing(sqlite3.connect(path)) as conn:  # read, never migrated
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 5
