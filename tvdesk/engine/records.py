"""The worker's rows in the journal: whether a live order is left unsettled, the alerts
still pending at start, and the one transaction that records an alert's outcome."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from tvdesk.engine.job import Decision, Job, Trail


def live_unsettled(conn: sqlite3.Connection) -> bool:
    """Whether a live order is in doubt or still open (the exchange may still act on it)."""
    return (
        conn.execute(
            "SELECT 1 FROM orders WHERE mode = 'live' AND status IN"
            " ('submitting', 'unknown', 'open', 'partially_filled') LIMIT 1"
        ).fetchone()
        is not None
    )


def pending_jobs(conn: sqlite3.Connection) -> list[Job]:
    """The alerts accepted but not yet decided, in arrival order."""
    return [
        Job(
            alert_id=r["alert_id"],
            alert=json.loads(r["alert"]),
            client=r["client"] or "",
            received_at=r["received_at"],
            trail=json.loads(r["trail"]),
            latency=json.loads(r["latency"]),
            replay_of=r["replay_of"],
            mode=r["mode"],
            origin=r["origin"],
        )
        for r in conn.execute(
            "SELECT alert_id, alert, client, received_at, trail, latency, replay_of, mode,"
            " origin FROM alerts WHERE outcome = 'pending' ORDER BY seq"
        )
    ]


def outcome_writer(
    job: Job, decision: Decision, trail: Trail, now: float
) -> Callable[[Any], list[tuple[str, str, str]]]:
    """The transaction that records ``decision`` and everything the broker did, as one.

    It returns the earlier alerts the broker's writes settled: (alert id, outcome, reason).
    """
    execution = decision.execution
    write = execution.write if execution is not None else None

    def record(conn: Any) -> list[tuple[str, str, str]]:
        settled = write(conn) if write is not None else []
        for alert_id, outcome, reason in settled:
            conn.execute(
                "UPDATE alerts SET outcome = ?, reason = ?, decided_at = ?"
                " WHERE alert_id = ? AND outcome = 'open'",
                (outcome, reason, now, alert_id),
            )
        conn.execute(
            "UPDATE alerts SET outcome = ?, reason = ?, trail = ?, latency = ?, decided_at = ?"
            " WHERE alert_id = ?",
            (
                decision.outcome,
                decision.reason,
                json.dumps(trail.entries),
                json.dumps(trail.latency),
                now,
                job.alert_id,
            ),
        )
        return settled

    return record
