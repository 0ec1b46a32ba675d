"""The journal's schema: its tables, the migrations from one version to the next,
and how a connection to the file is opened (WAL, ``synchronous = FULL``, or read-only).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from tvdesk.store.errors import JournalError

SCHEMA_VERSION = 6

_MIGRATIONS: list[str] = [
    # v1
    """
    CREATE TABLE alerts (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
        alert_id      TEXT NOT NULL UNIQUE,
        received_at   REAL NOT NULL,
        client        TEXT,
        via_tunnel    INTEGER NOT NULL DEFAULT 0,
        status        TEXT NOT NULL,          -- accepted | rejected | duplicate
        error         TEXT,                   -- reply code word when not accepted
        message       TEXT,
        fields        TEXT,                   -- JSON {field: problem} for 422
        client_ref    TEXT,
        body_hash     TEXT,
        duplicate_of  TEXT,
        symbol        TEXT,
        side          TEXT,
        qty           TEXT,
        test          INTEGER NOT NULL DEFAULT 0,
        alert         TEXT,                   -- JSON of the parsed alert
        raw           TEXT,                   -- the body, secrets and credentials removed
        outcome       TEXT,  -- pending | filled | open | rejected | failed | dry_run | canceled
        reason        TEXT,
        trail         TEXT NOT NULL DEFAULT '[]',
        latency       TEXT NOT NULL DEFAULT '{}',
        replay_of     TEXT,
        count         INTEGER NOT NULL DEFAULT 1,
        first_seen    REAL,
        last_seen     REAL,
        decided_at    REAL
    );
    -- client_ref is unique forever among accepted alerts: the database says so.
    CREATE UNIQUE INDEX alerts_client_ref ON alerts(client_ref)
        WHERE status = 'accepted' AND client_ref IS NOT NULL;
    CREATE INDEX alerts_body_hash ON alerts(body_hash, received_at)
        WHERE status = 'accepted';
    CREATE INDEX alerts_pending ON alerts(seq) WHERE outcome = 'pending';

    CREATE TABLE orders (
        client_order_id   TEXT PRIMARY KEY,
        alert_id          TEXT NOT NULL,
        exchange          TEXT NOT NULL,
        symbol            TEXT NOT NULL,
        side              TEXT NOT NULL,
        order_type        TEXT NOT NULL,
        qty               TEXT NOT NULL,
        price             TEXT,
        mode              TEXT NOT NULL,      -- paper | live
        -- submitting | open | partially_filled | filled | canceled | rejected | unknown
        status            TEXT NOT NULL,
        filled            TEXT NOT NULL DEFAULT '0',
        avg_price         TEXT,
        fee               TEXT,
        fee_currency      TEXT,
        reserved          TEXT,               -- quote (buy) or base (sell) held for a resting order
        exchange_order_id TEXT,
        expires_at        REAL,
        error             TEXT,
        created_at        REAL NOT NULL,
        updated_at        REAL NOT NULL
    );
    CREATE INDEX orders_alert ON orders(alert_id);
    CREATE INDEX orders_open ON orders(status)
        WHERE status IN ('submitting', 'open', 'partially_filled', 'unknown');

    CREATE TABLE fills (
        id               INTEGER PRIMARY KEY AUTOINCREMENT,
        client_order_id  TEXT NOT NULL,
        alert_id         TEXT NOT NULL,
        exchange         TEXT NOT NULL,
        symbol           TEXT NOT NULL,
        side             TEXT NOT NULL,
        qty              TEXT NOT NULL,
        price            TEXT NOT NULL,
        fee              TEXT NOT NULL,
        fee_currency     TEXT,
        realized_pnl     TEXT NOT NULL DEFAULT '0',
        mode             TEXT NOT NULL,
        at               REAL NOT NULL
    );
    CREATE INDEX fills_order ON fills(client_order_id);
    CREATE INDEX fills_at ON fills(at);

    CREATE TABLE positions (
        mode          TEXT NOT NULL,
        exchange      TEXT NOT NULL,
        symbol        TEXT NOT NULL,
        qty           TEXT NOT NULL,
        avg_price     TEXT NOT NULL,
        realized_pnl  TEXT NOT NULL DEFAULT '0',
        updated_at    REAL NOT NULL,
        PRIMARY KEY (mode, exchange, symbol)
    );

    CREATE TABLE balances (
        mode      TEXT NOT NULL,
        exchange  TEXT NOT NULL,
        currency  TEXT NOT NULL,
        free      TEXT NOT NULL,
        used      TEXT NOT NULL DEFAULT '0',
        PRIMARY KEY (mode, exchange, currency)
    );

    CREATE TABLE state (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    """,
    # v2: the mode an alert was accepted in; it trades live only if accepted live.
    """
    ALTER TABLE alerts ADD COLUMN mode TEXT;
    """,
    # v3: every signed body is taken once, ever: a captured signed request replayed
    # later (or after a restart) is a duplicate of the alert that first carried it.
    """
    CREATE TABLE signed_bodies (
        body_hash  TEXT PRIMARY KEY,   -- sha256 hex of the exact body bytes
        alert_id   TEXT NOT NULL,      -- the alert a repeat is a duplicate of
        seen_at    REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # v4: what made an alert tvdesk's own (``flatten``): written by the engine alone, never
    # derived from a request, so a restart resumes a pending flatten with its privilege.
    # Flattens journaled before v4 are known by their client, on rows that did not come
    # through the tunnel (the only listener that ever took a client from a header).
    """
    ALTER TABLE alerts ADD COLUMN origin TEXT;
    UPDATE alerts SET origin = 'flatten'
        WHERE client = 'internal:flatten' AND via_tunnel = 0 AND status = 'accepted';
    """,
    # v5: a perpetual's position (qty signed, below 0 a short; avg_price its entry) keeps
    # its leverage and the margin it holds. NULL on spot; on a perpetual row written before
    # v5, 1× with the whole entry value as margin (what the old paper book had paid).
    """
    ALTER TABLE positions ADD COLUMN leverage TEXT;
    ALTER TABLE positions ADD COLUMN margin TEXT;
    """,
    # v6: what a live order was sent with beyond its basics (JSON: reduce-only, position
    # side, trigger price), kept with its ``submitting`` row so that a re-send after a crash
    # carries exactly the same; NULL on rows written before v6 (unknown). And a perpetual
    # order's size in contracts beside its size in coins (NULL on spot).
    """
    ALTER TABLE orders ADD COLUMN params TEXT;
    ALTER TABLE orders ADD COLUMN contracts TEXT;
    """,
]


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        # Made owner-only before SQLite sees it: SQLite gives the -wal and -shm files the
        # journal's own mode, and the journal holds the trader's orders and positions.
        # An existing file, or one that cannot be made, is left to SQLite and its errors.
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.row_factory = sqlite3.Row
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection) -> None:
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise JournalError(
            f"the journal was written by a newer tvdesk (schema {version}, this one knows "
            f"{SCHEMA_VERSION}): upgrade tvdesk or use another --data-dir"
        )
    for number in range(version, SCHEMA_VERSION):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _split_sql(_MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _split_sql(script: str) -> list[str]:
    statements, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            statements.append("\n".join(current))
            current = []
    return [s for s in statements if s.strip()]
