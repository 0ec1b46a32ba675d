"""Live benchmark: alert → order at a loopback exchange, beside a plain signed request.

    .venv/bin/python tests/perf/bench_live.py [--alerts 200] [--warmup 20]

The fake Binance (tests/kit/fake_binance.py) runs as its own process and notes the
monotonic time (system-wide on Linux) at which each order request reaches its handler.
tvdesk runs in this process: a real engine in live mode (real listener, journal with
synchronous = FULL, worker, ccxt with its rate limiter off) pointed at the fake with
``exchange.url``. One signed alert at a time goes to the webhook; its latency runs from
just before the request is sent to the fake receiving the order, so it includes the
door's journal commit, the worker, the ``submitting`` row's commit and ccxt's signing.

The baseline is the least a client can do for the same order: one HMAC-signed POST
/api/v3/order with aiohttp on a kept-alive connection, measured the same way.

One JSON object goes to stdout; the target (DESIGN.md: p50 ≤ 15 ms) is reported in it,
not in the exit status. Exit 1 only when an alert was not filled exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.kit.fake_binance import API_KEY, API_SECRET  # noqa: E402
from tests.kit.live import LiveDesk, live_settings  # noqa: E402
from tvdesk.brokers.exchange import LiveTuning  # noqa: E402

TARGET_P50_MS = 15.0


class Fake:
    """The fake exchange as a subprocess."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.kit.fake_binance", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().removeprefix("fake binance on ").strip()

    async def arrivals(self, session: aiohttp.ClientSession) -> dict[str, int]:
        async with session.get(f"{self.url}/fake/received") as reply:
            return {r["clientOrderId"]: r["mono_ns"] for r in await reply.json()}

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "n": len(ordered),
        "p50": round(statistics.median(ordered), 3),
        "p90": round(ordered[int(0.9 * (len(ordered) - 1))], 3),
        "p99": round(ordered[int(0.99 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
    }


async def bench_tvdesk(fake: Fake, alerts: int, warmup: int) -> dict[str, Any]:
    tuning = replace(LiveTuning(), rate_limit=False)
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-live-") as tmp:
        # LiveDesk needs only the exchange's URL of the fake it is given.
        desk = LiveDesk(Path(tmp), fake, live_settings(fake.url), tuning=tuning)  # type: ignore[arg-type]
        async with desk, aiohttp.ClientSession() as session:
            sent: dict[str, int] = {}
            for i in range(warmup + alerts):
                started = time.monotonic_ns()
                decided = await desk.trade(qty="0.001", price="50000")
                if decided.outcome != "filled":
                    raise SystemExit(f"alert {i} not filled: {decided.reason}")
                if i >= warmup:
                    sent[f"tvd{decided.alert_id}"] = started
            arrived = await fake.arrivals(session)
            records = desk.export()
    once = all(cid in arrived for cid in sent) and len(arrived) == warmup + alerts
    steps: dict[str, list[float]] = {}
    for record in records.values():
        for step, ms in record["latency_ms"].items():
            steps.setdefault(step, []).append(ms)
    return {
        "to_exchange_ms": summary([(arrived[c] - t) / 1e6 for c, t in sent.items()]),
        "step_p50_ms": {s: round(statistics.median(v), 3) for s, v in sorted(steps.items())},
        "filled_exactly_once": once,
    }


async def bench_plain(fake: Fake, requests: int, warmup: int) -> dict[str, Any]:
    """One signed POST /api/v3/order per order, nothing else: the floor."""
    sent: dict[str, int] = {}
    round_trip: list[float] = []
    async with aiohttp.ClientSession() as session:
        for i in range(warmup + requests):
            cid = f"plain{i:05d}"
            query = urlencode(
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": "0.001",
                    "newClientOrderId": cid,
                    "newOrderRespType": "FULL",
                    "timestamp": int(time.time() * 1000),
                    "recvWindow": 5000,
                }
            )
            signature = hmac.new(API_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
            headers = {
                "X-MBX-APIKEY": API_KEY,
                "Content-Type": "application/x-www-form-urlencoded",
            }
            started = time.monotonic_ns()
            async with session.post(
                f"{fake.url}/api/v3/order", data=f"{query}&signature={signature}", headers=headers
            ) as reply:
                body = await reply.json()
            if reply.status != 200:
                raise SystemExit(f"plain request refused: {body}")
            if i >= warmup:
                sent[cid] = started
                round_trip.append((time.monotonic_ns() - started) / 1e6)
        arrived = await fake.arrivals(session)
    return {
        "to_exchange_ms": summary([(arrived[c] - t) / 1e6 for c, t in sent.items()]),
        "round_trip_ms": summary(round_trip),
    }


async def run(alerts: int, warmup: int) -> dict[str, Any]:
    fakes = [Fake(), Fake()]  # a fresh exchange for each, so neither sees the other's orders
    try:
        plain = await bench_plain(fakes[0], alerts, warmup)
        tvdesk = await bench_tvdesk(fakes[1], alerts, warmup)
    finally:
        for fake in fakes:
            fake.stop()
    p50 = tvdesk["to_exchange_ms"]["p50"]
    return {
        "benchmark": "alert → order at a loopback Binance-compatible exchange",
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "alerts": alerts,
        "warmup": warmup,
        "ccxt_rate_limiter": False,
        "tvdesk": tvdesk,
        "plain_signed_request": plain,
        "p50_over_plain_ms": round(p50 - plain["to_exchange_ms"]["p50"], 3),
        "target": {"p50_ms_max": TARGET_P50_MS, "met": p50 <= TARGET_P50_MS},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.alerts, args.warmup))
    print(json.dumps(report, indent=2))
    return 0 if report["tvdesk"]["filled_exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
