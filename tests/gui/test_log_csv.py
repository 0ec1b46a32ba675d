"""The Log panel's "Export CSV" escapes formulas exactly as `tvdesk export` does."""

from __future__ import annotations

import csv

from tests.gui.helpers import decided_row, post_alert

FORMULA = '=HYPERLINK("http://x","y")'


async def test_export_csv_never_writes_a_formula(window, session, tmp_path):
    reply = await post_alert(session, window, symbol=FORMULA, strategy=FORMULA, comment=FORMULA)
    await decided_row(window, reply["alert_id"])
    out = tmp_path / "log.csv"
    assert window.log_panel.write_csv(out) == 1
    (row,) = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert row["alert_id"] == reply["alert_id"]
    assert row["Symbol"] == "'" + FORMULA
    assert row["Outcome"] == "rejected"  # the unmapped symbol: text, not a trade
    assert not [v for v in row.values() if v[:1] in ("=", "+", "-", "@", "\t", "\r")], row
