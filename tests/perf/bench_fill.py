"""Alert → paper fill latency: from each request's send time to its fill's journal commit.

    .venv/bin/python tests/perf/bench_fill.py [--alerts 1000] [--rate 200]

The engine runs in this process on a plain asyncio loop (as headless mode runs it) with
a real journal in a temporary data dir; an ``AlertDecided`` event is published right
after the commit that records the fill, and its arrival time ends each measurement.
A separate client process sends signed alerts open-loop at ``--rate`` per second and
reports each request's wall-clock send time with the alert id it got back, so the
client never shares the engine's loop or interpreter lock. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CLIENT = r"""
import asyncio, json, sys, time
sys.path.insert(0, sys.argv[4])
from tests.perf.bench_webhook import alert_request, connect
port, secret = int(sys.argv[1]), sys.argv[2]
n, rate = int(sys.argv[3].split(",")[0]), float(sys.argv[3].split(",")[1])

async def main():
    conns = [await connect(port) for _ in range(8)]
    reqs = [alert_request(port, secret, f"fill-{i}") for i in range(n)]
    free = asyncio.Queue()
    for c in conns:
        free.put_nowait(c)
    sent = {}
    async def one(i, conn):
        wall = time.time()
        status, _ = await conn.request(reqs[i])
        free.put_nowait(conn)
        sent[i] = (wall, status)
    t0 = time.perf_counter()
    tasks = []
    for i in range(n):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, await free.get())))
    await asyncio.gather(*tasks)
    print(json.dumps({f"fill-{i}": v for i, v in sent.items()}))

asyncio.run(main())
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 3)


async def run(alerts: int, rate: float) -> dict[str, object]:
    import keyring

    from tests.kit.memkeyring import MemoryKeyring
    from tvdesk.config.keystore import Keystore
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.schema import Settings
    from tvdesk.core.events import AlertDecided, Event
    from tvdesk.engine.engine import Engine
    from tvdesk.support.bus import EventBus
    from tvdesk.support.clock import SystemClock

    keyring.set_keyring(MemoryKeyring())
    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-fill-") as tmp:
        settings = Settings()
        settings = replace(
            settings,
            listener=replace(settings.listener, port=0),
            risk=replace(settings.risk, max_orders_per_minute=0, max_notional=0),
            paper=replace(settings.paper, balances={"USDT": Decimal(10_000_000)}),
        )
        decided: dict[str, tuple[float, str]] = {}

        def on_event(event: Event) -> None:
            if isinstance(event, AlertDecided):
                decided[event.alert_id] = (time.time(), event.outcome)

        bus = EventBus()
        bus.subscribe(on_event)
        keystore = Keystore("tvdesk/bench", env={"TVDESK_WEBHOOK_SECRET": secret})
        engine = Engine(
            settings,
            keystore,
            SystemClock(),
            bus,
            paths=resolve_paths(Path(tmp)),
            tunnel_enabled=False,
        )
        await engine.start()
        try:
            client = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                CLIENT,
                str(engine.port),
                secret,
                f"{alerts},{rate}",
                str(ROOT),
                stdout=subprocess.PIPE,
            )
            out, _ = await client.communicate()
            sent = json.loads(out)
            deadline = time.monotonic() + 30
            while engine.worker.depth and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            by_ref = {
                r["client_ref"]: r["alert_id"]
                for r in await engine.queries.alerts_page(limit=alerts + 10)
            }
        finally:
            await engine.stop()
    latencies, outcomes = [], {}
    for ref, (wall, status) in sent.items():
        alert_id = by_ref.get(ref)
        if status != 200 or alert_id not in decided:
            outcomes["missing"] = outcomes.get("missing", 0) + 1
            continue
        at, outcome = decided[alert_id]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        latencies.append((at - wall) * 1000)
    return {
        "machine": {"nproc": os.cpu_count(), "python": platform.python_version()},
        "alerts": alerts,
        "rate_per_s": rate,
        "outcomes": outcomes,
        "fill_ms": {
            "p50": pct(latencies, 50),
            "p90": pct(latencies, 90),
            "p99": pct(latencies, 99),
            "max": round(max(latencies), 3),
            "mean": round(statistics.fmean(latencies), 3),
        },
        "target": {"fill_p50_ms_max": 3.0, "met": pct(latencies, 50) <= 3.0},
        "measured": "request send (client wall clock) -> AlertDecided after the fill's commit",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.alerts, args.rate))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
