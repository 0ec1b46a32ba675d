"""CSV exports never carry a formula a spreadsheet would run (OWASP "CSV injection"):
a text cell starting with =, +, -, @, tab or CR gets a leading apostrophe; plain numbers
stay numbers, and JSONL stays exact."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from tests.kit.paper import PaperDesk
from tvdesk.store.export import records, write_csv, write_jsonl

FORMULA = '=HYPERLINK("http://x","y")'


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = io.StringIO()
    write_csv(rows, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


async def test_alert_text_that_looks_like_a_formula_is_exported_as_text(tmp_path: Path) -> None:
    async with PaperDesk(tmp_path / "data") as desk:
        # An unmapped symbol is accepted at the door and refused by the worker: its text
        # reaches the journal, the export and the log as the sender wrote it.
        decided = await desk.trade(
            symbol=FORMULA, client_ref="@SUM(1+1)", strategy=FORMULA, comment=FORMULA
        )
    journal = records(desk.paths.journal_file)
    (row,) = [r for r in csv_rows(journal) if r["alert_id"] == decided.alert_id]
    assert row["symbol"] == "'" + FORMULA
    assert row["client_ref"] == "'@SUM(1+1)"
    # No cell anywhere (reason, message, trail...) starts a formula.
    for text in csv_rows(records(desk.paths.journal_file)):
        assert not [v for v in text.values() if v[:1] in ("=", "+", "@", "\t", "\r")], text

    out = io.StringIO()
    write_jsonl(records(desk.paths.journal_file), out)
    (exact,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert exact["symbol"] == FORMULA  # JSONL is data, never opened as a sheet
    assert exact["client_ref"] == "@SUM(1+1)"


def test_numbers_stay_numbers_and_other_text_starting_a_formula_is_escaped() -> None:
    record: dict[str, Any] = {
        "alert_id": "A1",
        "client_ref": "-12.5",  # a number, though in a text column: a sheet may add it up
        "symbol": "-1+cmd|' /c calc'!A1",
        "side": "+buy",
        "qty": "+3",
        "reason": "\tindented",
        "message": "\rreturned",
        "error": "-",
        "latency_ms": {},
        "trail": [],
        "orders": [{"avg_price": "-0.5", "symbol": "@x", "exchange_order_id": "1e-5"}],
    }
    (row,) = csv_rows([record])
    assert row["client_ref"] == "-12.5"
    assert row["qty"] == "+3"
    assert row["order.avg_price"] == "-0.5"
    assert row["order.exchange_order_id"] == "1e-5"
    assert row["symbol"] == "'-1+cmd|' /c calc'!A1"
    assert row["side"] == "'+buy"
    assert row["reason"] == "'\tindented"
    assert row["message"] == "'\rreturned"
    assert row["error"] == "'-"
    assert row["order.symbol"] == "'@x"
