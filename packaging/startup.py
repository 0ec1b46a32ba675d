"""Measure tvdesk's start-up: process start -> window shown -> engine ready.

    python packaging/startup.py                       # python -m tvdesk, window, 5 runs
    python packaging/startup.py dist/tvdesk/tvdesk    # the bundle
    python packaging/startup.py --headless ...        # no window: engine ready only
    python packaging/startup.py --cold ...            # drop the OS file cache before each run

Each run starts tvdesk with ``--timing`` on a fresh temporary data dir (``--no-tunnel
--port 0``, a throw-away webhook secret in the environment, Qt offscreen unless
QT_QPA_PLATFORM says otherwise), reads the figures it prints, then stops it with
SIGTERM. Prints, per milestone, the figure tvdesk reports (from the OS's process start
time) and the time this script saw the line (from just before it started the
process), as min and median over the runs. Without --cold (Linux, root: it writes
/proc/sys/vm/drop_caches) the files are in the OS cache after the first run.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

LINE = re.compile(r"^tvdesk timing: (?P<name>.+) (?P<seconds>[0-9.]+) s$")
ROOT = Path(__file__).resolve().parents[1]


def run_once(
    command: list[str], wanted: list[str], timeout: float
) -> dict[str, tuple[float, float]]:
    """One start: milestone -> (seconds tvdesk reported, seconds seen from here)."""
    with tempfile.TemporaryDirectory(prefix="tvdesk-startup-") as data_dir:
        env = dict(os.environ)
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
        env["TVDESK_WEBHOOK_SECRET"] = secrets.token_urlsafe(24)
        args = [*command, "--timing", "--no-tunnel", "--port", "0", "--data-dir", data_dir]
        seen: dict[str, tuple[float, float]] = {}
        done = threading.Event()
        started = time.perf_counter()
        process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
        )

        def read() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                match = LINE.match(line.strip())
                if match and match["name"] in wanted:
                    seen[match["name"]] = (float(match["seconds"]), time.perf_counter() - started)
                    if all(name in seen for name in wanted):
                        done.set()
            done.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        done.wait(timeout)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        reader.join(5)
        missing = [name for name in wanted if name not in seen]
        if missing:
            raise SystemExit(f"startup: {' '.join(args)} never reported {', '.join(missing)}")
        return seen


def drop_caches() -> None:
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as caches:
            caches.write("3\n")
    except OSError as exc:
        raise SystemExit(f"startup: --cold needs Linux and root ({exc})") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "executable", nargs="?", help="a bundle's tvdesk (default: python -m tvdesk)"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--headless", action="store_true", help="no window: engine ready only")
    parser.add_argument("--cold", action="store_true", help="drop the OS file cache first")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    command = [args.executable] if args.executable else [sys.executable, "-m", "tvdesk"]
    wanted = ["engine ready"] if args.headless else ["window shown", "engine ready"]
    if args.headless:
        command.append("--headless")
    runs = []
    for _ in range(args.runs):
        if args.cold:
            drop_caches()
        runs.append(run_once(command, wanted, args.timeout))
    label = " ".join(command).replace(str(ROOT) + os.sep, "")
    print(f"{label}: {args.runs} {'cold ' if args.cold else ''}runs")
    for name in wanted:
        reported = [run[name][0] for run in runs]
        observed = [run[name][1] for run in runs]
        print(
            f"  {name:13} min {min(reported):.2f} s  median {statistics.median(reported):.2f} s"
            f"   (seen from outside: min {min(observed):.2f} s, "
            f"median {statistics.median(observed):.2f} s; first run {observed[0]:.2f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
