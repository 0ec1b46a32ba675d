"""Window benchmark: Qt event-loop stalls during a 2,000-alert burst, and start-up time.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/perf/bench_gui.py [--quick]
        [--engine qt|thread|both] [--rounds N]

DESIGN.md's window bars: a 2,000-alert burst never stalls the Qt loop for more than
50 ms, and the window is visible within 1.5 s of launch. This script measures:

- stall: the real window (all panels, offscreen) with its paper engine either on the
  window's own qasync loop (``qt``, what ``tvdesk`` runs) or on an asyncio loop in a
  thread of its own (``thread``). A QTimer ticks every 5 ms on the GUI thread and
  records the gap between ticks; the longest gap from the first alert until every alert
  is decided in the log is the stall. The alerts come from a separate process (its own
  interpreter and loop: the client never shares the window's loop), 2,000 signed
  paper alerts over 32 keep-alive connections as fast as the engine answers; each
  request's ack latency is measured there, from send to reply.
- start-up: the real ``tvdesk --timing`` command, offscreen, on a fresh data dir; its
  own figures count from the moment the OS started the process ("window shown", then
  "engine ready"). Repeated, median and max reported.

One JSON object goes to stdout, progress to stderr; targets are reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

BURST = 2000
CONNECTIONS = 32
TICK_MS = 5
TARGETS = {"max_stall_ms": 50.0, "window_shown_s": 1.5}
TIMING = re.compile(r"tvdesk timing: (window shown|engine ready) ([0-9.]+) s")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# -- the alert sender (this script run with --post, in its own process) --------------------


def post(url: str, secret: str, count: int, connections: int) -> int:
    import aiohttp

    from tvdesk.core.auth import sign_tvdesk

    async def main() -> dict[str, Any]:
        bodies = [
            json.dumps(
                {
                    "symbol": "BINANCE:BTCUSDT",
                    "side": "buy" if i % 2 == 0 else "sell",
                    "qty": "0.0001",
                    "price": "50000",
                    "client_ref": f"bench-gui-{os.getpid()}-{i}",
                }
            ).encode()
            for i in range(count)
        ]
        latencies: list[float] = []
        codes: dict[int, int] = {}
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for body in bodies:
            queue.put_nowait(body)
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def worker() -> None:
                while not queue.empty():
                    body = queue.get_nowait()
                    headers = {"X-TVDesk-Signature": sign_tvdesk(secret, body, int(time.time()))}
                    started = time.perf_counter()
                    async with session.post(url, data=body, headers=headers) as reply:
                        await reply.read()
                    latencies.append((time.perf_counter() - started) * 1000)
                    codes[reply.status] = codes.get(reply.status, 0) + 1

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(connections)))
            elapsed = time.perf_counter() - started
        return {
            "sent": count,
            "codes": codes,
            "seconds": round(elapsed, 3),
            "alerts_per_s": round(count / elapsed),
            "ack_p50_ms": round(percentile(latencies, 50), 2),
            "ack_p99_ms": round(percentile(latencies, 99), 2),
            "ack_max_ms": round(max(latencies), 2),
        }

    print(json.dumps(asyncio.run(main())), flush=True)
    return 0


# -- the burst against the real window ------------------------------------------------------


async def burst_round(threaded: bool) -> dict[str, Any]:
    from PySide6.QtCore import QTimer

    from tvdesk.config.keystore import Keystore
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.schema import Settings
    from tvdesk.gui.app import bring_up, build_window

    secret = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-gui-") as tmp:
        base = Settings()
        settings = replace(
            base,
            listener=replace(base.listener, port=0),
            risk=replace(base.risk, max_orders_per_minute=0),
            paper=replace(base.paper, balances={"USDT": Decimal(10_000_000)}),
        )
        keystore = Keystore("tvdesk/bench-gui", env={"TVDESK_WEBHOOK_SECRET": secret})
        window = build_window(
            settings, keystore, resolve_paths(Path(tmp)), tunnel=False, threaded=threaded
        )
        window.resize(1280, 800)
        window.show()
        assert await bring_up(window)
        window.tabs.setCurrentWidget(window.log_panel)  # the busiest view on screen
        model = window.log_panel.model

        gaps: list[float] = []
        last = time.perf_counter()

        def tick() -> None:
            nonlocal last
            now = time.perf_counter()
            gaps.append((now - last) * 1000)
            last = now

        collections: list[tuple[int, float]] = []  # (generation, ms) of each gc pass
        gc_started = 0.0

        def on_gc(phase: str, info: dict[str, int]) -> None:
            nonlocal gc_started
            if phase == "start":
                gc_started = time.perf_counter()
            else:
                collections.append((info["generation"], (time.perf_counter() - gc_started) * 1000))

        timer = QTimer(interval=TICK_MS)
        timer.timeout.connect(tick)
        await asyncio.sleep(0.3)  # let start-up work settle before measuring
        gc.callbacks.append(on_gc)
        timer.start()
        last = time.perf_counter()
        started = time.perf_counter()
        sender = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--post",
            window.connect_panel.webhook_url(),
            secret,
            str(BURST),
            str(CONNECTIONS),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await sender.communicate()
        sent = json.loads(out)
        acked_s = time.perf_counter() - started
        while not (model.rowCount() >= BURST and all(r.outcome != "pending" for r in model.rows())):
            await asyncio.sleep(0.02)
        shown_s = time.perf_counter() - started
        timer.stop()
        gc.callbacks.remove(on_gc)
        await window.quit()
        window.deleteLater()
    over = [g for g in gaps if g > TARGETS["max_stall_ms"]]
    return {
        "engine": "thread" if threaded else "qt",
        "max_stall_ms": round(max(gaps), 1),
        "stall_p99_ms": round(percentile(gaps, 99), 1),
        "ticks": len(gaps),
        "ticks_over_50ms": len(over),
        "acked_s": round(acked_s, 2),
        "all_rows_decided_s": round(shown_s, 2),
        "rows": model.rowCount(),
        "gc_passes": len(collections),
        "gc_max_ms": round(max((ms for _, ms in collections), default=0.0), 1),
        "gc_full_passes": sum(1 for gen, _ in collections if gen == 2),
        **{k: v for k, v in sent.items() if k != "sent"},
    }


def run_bursts(modes: list[bool], rounds: int) -> list[dict[str, Any]]:
    from PySide6.QtWidgets import QApplication

    from tvdesk.gui.aio import QtLoop
    from tvdesk.gui.collector import MainThreadCollector

    app = QApplication.instance() or QApplication([])
    app.setQuitOnLastWindowClosed(False)
    collector = MainThreadCollector(app)
    results = []
    try:
        for number in range(rounds):
            for threaded in modes:
                with asyncio.Runner(loop_factory=lambda: QtLoop(app)) as runner:
                    result = runner.run(burst_round(threaded))
                log(f"burst round {number + 1} ({result['engine']}): {json.dumps(result)}")
                results.append(result)
    finally:
        collector.close()
    return results


# -- start-up ---------------------------------------------------------------------------------


def startup_round() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-start-") as tmp:
        env = {**os.environ, "TVDESK_WEBHOOK_SECRET": secrets.token_urlsafe(32)}
        env["QT_QPA_PLATFORM"] = "offscreen"
        command = [
            sys.executable,
            "-m",
            "tvdesk",
            "--timing",
            "--no-tunnel",
            "--port",
            "0",
            "--data-dir",
            tmp,
        ]
        proc = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        marks: dict[str, float] = {}
        for line in proc.stderr:
            if found := TIMING.search(line):
                marks[found.group(1)] = float(found.group(2))
            if "engine ready" in marks:
                break
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    return marks


def summarise(results: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [r[key] for r in results]
    return {"median": statistics.median(values), "max": max(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of each")
    parser.add_argument("--engine", choices=("qt", "thread", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--post", nargs=4, metavar=("URL", "SECRET", "COUNT", "CONNECTIONS"))
    args = parser.parse_args()
    if args.post:
        url, secret, count, connections = args.post
        return post(url, secret, int(count), int(connections))

    rounds = 1 if args.quick else args.rounds
    modes = {"qt": [False], "thread": [True], "both": [False, True]}[args.engine]
    startups = []
    for number in range(1 if args.quick else 5):
        startups.append(startup_round())
        log(f"start-up round {number + 1}: {startups[-1]}")
    bursts = run_bursts(modes, rounds)
    report: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "targets": TARGETS,
        "startup_s": {name: summarise(startups, name) for name in ("window shown", "engine ready")},
        "burst": {"alerts": BURST, "connections": CONNECTIONS, "tick_ms": TICK_MS},
    }
    for engine in ("qt", "thread"):
        mine = [r for r in bursts if r["engine"] == engine]
        if mine:
            report["burst"][engine] = {
                key: summarise(mine, key)
                for key in (
                    "max_stall_ms",
                    "stall_p99_ms",
                    "ack_p99_ms",
                    "ack_p50_ms",
                    "alerts_per_s",
                    "all_rows_decided_s",
                )
            }
            report["burst"][engine]["rounds"] = mine
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
