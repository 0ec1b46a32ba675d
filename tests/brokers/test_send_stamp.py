"""A reversal's restart tells "may have left" from "never sent" by the send stamp: an order
stamped for a send must never look unsent, or the restart sends it again without asking
the exchange (a double order). The stamp holds when the clock stood still or stepped back
between journaling the row and sending it (a stopped clock, an NTP step)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from tvdesk.brokers import ledger
from tvdesk.brokers.reversal import _left
from tvdesk.config.paths import resolve_paths
from tvdesk.store.schema import connect, migrate


@pytest.mark.parametrize("sent_at", [100.0, 99.5, 100.25], ids=["still", "back", "forward"])
def test_an_order_stamped_for_a_send_may_have_left(tmp_path: Path, sent_at: float) -> None:
    paths = resolve_paths(tmp_path)
    paths.ensure()
    conn = connect(paths.journal_file)
    migrate(conn)
    order = ledger.LiveOrder(
        "TVDSTAMP1", "01STAMP", "okx", "BTC/USDT:USDT", "sell", "market",
        Decimal("2"), Decimal("100"),
    )  # fmt: skip
    ledger.insert_submitting(conn, order, 100.0)
    row = conn.execute("SELECT * FROM orders WHERE client_order_id = 'TVDSTAMP1'").fetchone()
    assert not _left(row), "a row never stamped for a send has not left"

    ledger.mark_sent(conn, "TVDSTAMP1", sent_at)
    row = conn.execute("SELECT * FROM orders WHERE client_order_id = 'TVDSTAMP1'").fetchone()
    assert _left(row), f"sent at {sent_at} after journaling at 100.0 must count as maybe sent"
    assert float(row["updated_at"]) >= sent_at
    conn.close()
