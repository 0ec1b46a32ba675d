"""Webhook benchmark: the headless tvdesk engine against DESIGN.md's two references.

    .venv/bin/python tests/perf/bench_webhook.py [--quick] [--profile FILE]

DESIGN.md's quality bars are ratios against two reference servers measured in the same
run on the same machine (copies of ../shared/bench/ live beside this script):

- the journaling floor (journal_floor.py): a bare aiohttp handler plus a durable,
  group-committed SQLite journal (WAL, synchronous FULL), each reply after its commit,
  nothing parsed: the limit for journal-before-reply on this machine and disk;
- the FastAPI peer (fastapi_peer.py + common.py): the seeds' style of receiver on
  uvicorn (secret check, parse, in-memory de-dup), keeping nothing. It needs the
  "bench" extra: ``.venv/bin/pip install -e '.[bench]'`` (``make bench`` does it).

This script starts them and tvdesk as subprocesses on 127.0.0.1 and measures each:

- ack latency p50/p99/max at 200 alerts/s open-loop: request i is due at t0 + i/200
  and its latency runs from that scheduled time to its response, so queueing counts;
- sustained alerts/s: a closed loop over many keep-alive connections, every alert
  unique (so tvdesk journals every one) and every reply expected to be 200. For tvdesk
  two figures: ``throughput_per_s`` counts the 200s (journaled before the reply), and
  ``executed_per_s`` runs until its worker has also executed the round's last alert on
  paper (the queue is empty again), which is what DESIGN's bar asks for.

The ratios and targets: tvdesk/floor throughput >= 0.6, tvdesk/peer throughput >= 1.5,
tvdesk/floor ack p99 <= 1.3. ``--diagnostics`` adds two more servers for context: a
bare aiohttp handler (read the body, reply 200) and the bare handler journaling each
body through tvdesk's own journal (``tvdesk_journal_floor``: what tvdesk's journal costs
against the reference floor's).

Every alert is a valid TradingView-style alert with the webhook secret in its body
and a unique client_ref. After the run the engine is stopped and its journal
exported: the accepted rows must be exactly the alerts that got a 200.

The machine may be shared, so the phases run in rounds: latency rounds alternate
between the servers, throughput rounds report their median. tvdesk's worker keeps
executing accepted alerts after their 200, so the script waits for its queue to empty
before each latency round and runs tvdesk's throughput rounds last: its backlog must
not steal CPU from the references.

``--profile FILE`` records tvdesk with py-spy (the "bench" extra) during its
throughput rounds: FILE ending in .txt is py-spy's raw collapsed stacks, summarised
by function under "profile" in the JSON (``--profile-gil``: only samples holding the
GIL, i.e. where the interpreter's time goes); any other name is a speedscope file.

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio.Protocol (on
uvloop when installed) sending pre-built requests; open-loop send times come from a
ticker thread (time.sleep is finer than the event loop's millisecond timers). The
JSON reports the generator's and the server's CPU use per throughput round, and the
CPU the rest of the machine used meanwhile (``other_load_cores``).

One JSON object goes to stdout, progress to stderr. Exit status 0 when the run
completed with every request answered 200 and the journal matching, 1 otherwise;
missed targets are reported in the JSON, not in the exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import multiprocessing
import os
import platform
import queue
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar, cast

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
RATE_PER_S = 200.0
PERF = Path(__file__).resolve().parent
TARGETS = {
    "ack_p99_vs_floor_max": 1.3,
    "throughput_vs_floor_min": 0.6,
    "throughput_vs_peer_min": 1.5,
}
READY_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0  # a request still unanswered this long after its phase is an error
DRAIN_TIMEOUT_S = 20.0  # how long to wait for tvdesk's worker to empty its queue
EXECUTE_TIMEOUT_S = 300.0  # ... after a throughput round, to time its execution
SETTLE_S = 0.3
OPEN_LOOP_CONNECTIONS = 8  # opened up front; more are opened when all are busy
MAX_OPEN_LOOP_CONNECTIONS = 256

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    quick: bool
    warmup: int
    latency_rounds: int
    latency_per_round: int
    throughput_rounds: int
    throughput_per_round: int
    throughput_budget_s: float  # per round; requests not sent by then are reported
    concurrency: int
    client_procs: int
    loop: str  # the generator's event loop: "uvloop" | "asyncio"


# -- the bare baseline server (this script run with --serve-bare) ----------------------


def serve_bare(journal_path: Path | None = None) -> int:
    """A bare aiohttp app set up like tvdesk's listener: read the body, reply 200 JSON.

    With ``journal_path`` it is the journaling floor: before replying, each body's hash
    is committed through tvdesk's own journal (writer thread, group commit, WAL,
    ``synchronous = FULL``) as an accepted alert with a unique client_ref. Nothing is
    parsed or checked, so this is the least any handler that journals before it
    answers can cost on this machine and disk.
    """
    from aiohttp import web

    journal: Any = None
    if journal_path is not None:
        sys.path.insert(0, str(ROOT))
        from tvdesk.store.journal import AlertRecord, Journal

        journal = Journal(journal_path)
        journal.open()
    count = 0

    async def webhook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text='{"status":"accepted"}', content_type="application/json")

    async def journaled(request: web.Request) -> web.Response:
        nonlocal count
        body = await request.read()
        count += 1
        record = AlertRecord(
            alert_id=f"floor-{count}",
            received_at=time.time(),
            client=request.remote or "",
            status="accepted",
            client_ref=f"floor-{count}",
            body_hash=hashlib.sha256(body).hexdigest(),
            outcome="pending",
        )
        await journal.admit(record, 0.0)
        return web.Response(text='{"status":"accepted"}', content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/webhook", webhook if journal is None else journaled)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, HOST, 0)
        await site.start()
        server = site._server  # aiohttp has no public accessor for the bound port
        assert server is not None
        port = server.sockets[0].getsockname()[1]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        print(f"bare ready on http://{HOST}:{port}", flush=True)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())
    if journal is not None:
        journal.close()
    return 0


class BareServer:
    """The baseline as a subprocess; stdout is pumped by a thread so it never fills."""

    def __init__(self, stderr_path: Path, journal_path: Path | None = None) -> None:
        self.stderr_path = stderr_path
        self.journal_path = journal_path
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> BareServer:
        with open(self.stderr_path, "w", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve-bare"]
                + ([] if self.journal_path is None else ["--journal", str(self.journal_path)]),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError("the bare server was not ready in time") from None
            if line is None:
                raise RuntimeError(f"the bare server exited: {self.stderr_path.read_text()}")
            if line.startswith("bare ready on "):
                self.port = int(line.rsplit(":", 1)[1])
                return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


# -- the reference servers (DESIGN.md's journaling floor and FastAPI peer) --------------


class ScriptServer:
    """A reference script run as ``python SCRIPT PORT``; ready once its port accepts."""

    def __init__(self, script: Path, stderr_path: Path, env: dict[str, str] | None = None) -> None:
        self.script = script
        self.stderr_path = stderr_path
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> ScriptServer:
        self.port = free_port()
        with open(self.stderr_path, "w", encoding="utf-8") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, str(self.script), str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                cwd=self.script.parent,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.script.name} exited: {self.stderr_path.read_text()[-2000:]}"
                )
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.script.name} was not ready in time") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- the load generator: a minimal HTTP/1.1 keep-alive client ----------------------------


class HttpConn(asyncio.Protocol):
    """One keep-alive connection, one request in flight; a reply is (status, perf_counter)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, float]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only look alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None:
            self._parse()

    def _parse(self) -> None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if not head.startswith(b"http/1.1 ") or at < 0:
            self._fail(ConnectionError("unexpected response head (no content-length)"))
            return
        stop = head.find(b"\r\n", at + 2)
        total = end + 4 + int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(buf) < total:
            return
        status = int(head[9:12])
        del buf[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, time.perf_counter()))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.waiter = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(ConnectionError("the server closed the connection"))

    def request(self, data: bytes) -> asyncio.Future[tuple[int, float]]:
        if self.closed or self.transport is None:
            raise ConnectionError("connection closed")
        self.waiter = self.loop.create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


async def connect(port: int) -> HttpConn:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(lambda: HttpConn(loop), HOST, port)
    return conn


def alert_request(port: int, secret: str, client_ref: str) -> bytes:
    body = json.dumps(
        {
            "secret": secret,
            "symbol": "BTCUSDT",
            "side": "buy",
            "qty": "0.001",
            "price": "50000",
            "client_ref": client_ref,
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"POST /webhook HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def run_async(coro: Coroutine[Any, Any, T], loop_name: str) -> T:
    if loop_name == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    return asyncio.run(coro)


def default_loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


# -- open-loop ack latency --------------------------------------------------------------


@dataclass
class LatencySamples:
    latencies: list[float] = field(default_factory=list)  # s, scheduled send -> 200
    lags: list[float] = field(default_factory=list)  # s, scheduled send -> actual send
    ok: list[int] = field(default_factory=list)  # indices that got 200
    errors: Counter[str] = field(default_factory=Counter)
    connections: int = 0


async def open_loop(port: int, requests: Sequence[bytes], rate: float) -> LatencySamples:
    """Send request i at t0 + i/rate whatever came back; latency from the scheduled time.

    A ticker thread sleeps to each due time and hands the send to the event loop, so
    the loop stays free to read replies and the send times are not rounded to the
    loop's millisecond timers.
    """
    loop = asyncio.get_running_loop()
    out = LatencySamples()
    idle = [await connect(port) for _ in range(OPEN_LOOP_CONNECTIONS)]
    every = list(idle)
    left = len(requests)
    finished: asyncio.Future[None] = loop.create_future()
    connecting: set[asyncio.Task[None]] = set()

    def settle() -> None:
        nonlocal left
        left -= 1
        if left == 0 and not finished.done():
            finished.set_result(None)

    def on_reply(
        conn: HttpConn, i: int, due: float, fut: asyncio.Future[tuple[int, float]]
    ) -> None:
        try:
            status, done_at = fut.result()
        except (OSError, asyncio.CancelledError) as exc:
            out.errors[type(exc).__name__] += 1
        else:
            idle.append(conn)
            if status == 200:
                out.latencies.append(done_at - due)
                out.ok.append(i)
            else:
                out.errors[f"http_{status}"] += 1
        settle()

    def send(conn: HttpConn, i: int, due: float) -> None:
        try:
            reply = conn.request(requests[i])
        except OSError as exc:
            out.errors[type(exc).__name__] += 1
            settle()
            return
        reply.add_done_callback(partial(on_reply, conn, i, due))

    async def send_on_new(i: int, due: float) -> None:
        try:
            conn = await connect(port)
        except OSError as exc:
            out.errors[type(exc).__name__] += 1
            settle()
            return
        every.append(conn)
        send(conn, i, due)

    def fire(i: int, due: float) -> None:
        out.lags.append(time.perf_counter() - due)
        while idle:
            conn = idle.pop()
            if not conn.closed:
                send(conn, i, due)
                return
        if len(every) + len(connecting) >= MAX_OPEN_LOOP_CONNECTIONS:
            out.errors["too_many_connections"] += 1
            settle()
            return
        task = loop.create_task(send_on_new(i, due))
        connecting.add(task)
        task.add_done_callback(connecting.discard)

    stop = threading.Event()
    t0 = time.perf_counter() + 0.05

    def ticker() -> None:
        for i in range(len(requests)):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)  # finer than Event.wait's timeout here (p99 ~0.2 vs ~1 ms)
            if stop.is_set():
                return
            try:
                loop.call_soon_threadsafe(fire, i, due)
            except RuntimeError:  # the loop is closed
                return

    thread = threading.Thread(target=ticker, name="bench-ticker", daemon=True)
    thread.start()
    try:
        await asyncio.wait_for(
            asyncio.shield(finished), len(requests) / rate + 0.05 + REQUEST_TIMEOUT_S
        )
    except TimeoutError:
        out.errors["timeout_or_unsent"] += left
    finally:
        stop.set()
        thread.join(5)
        for conn in every:
            conn.close()
    out.connections = len(every)
    return out


def _pct(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)


# -- closed-loop throughput -------------------------------------------------------------


async def closed_loop(
    port: int,
    requests: Sequence[tuple[int, bytes]],
    concurrency: int,
    budget_s: float,
    ready: Connection | None = None,
) -> dict[str, Any]:
    """Keep ``concurrency`` connections busy until the requests or the time budget run out.

    With ``ready`` (a generator process): report once connected, then wait for the
    start time on that pipe so that every generator process starts together.
    """
    conns = [await connect(port) for _ in range(concurrency)]
    if ready is not None:
        ready.send("ready")
        if not ready.poll(READY_TIMEOUT_S):
            raise RuntimeError("no start signal")
        start_at: float = ready.recv()
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    else:
        start_at = time.monotonic()
    stop_at = start_at + budget_s
    cpu0 = time.process_time()
    ok: list[int] = []
    errors: Counter[str] = Counter()
    sent = 0
    last = start_at

    async def worker(conn: HttpConn) -> None:
        nonlocal sent, last
        while sent < len(requests) and time.monotonic() < stop_at:
            index, data = requests[sent]
            sent += 1
            try:
                if conn.closed:
                    conn = await connect(port)
                    conns.append(conn)
                status, _ = await conn.request(data)
            except OSError as exc:
                errors[type(exc).__name__] += 1
                continue
            last = time.monotonic()
            if status == 200:
                ok.append(index)
            else:
                errors[f"http_{status}"] += 1

    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(worker(conn)) for conn in conns]
    _, pending = await asyncio.wait(tasks, timeout=budget_s + REQUEST_TIMEOUT_S)
    for task in pending:
        task.cancel()
    cpu = time.process_time() - cpu0
    for conn in conns:
        conn.close()
    unanswered = sent - len(ok) - sum(errors.values())
    if unanswered:
        errors["timeout"] += unanswered
    return {
        "ok": ok,
        "errors": dict(errors),
        "not_sent": len(requests) - sent,
        "last": last,
        "cpu_s": cpu,
    }


def _throughput_worker(
    pipe: Connection,
    port: int,
    secret: str,
    prefix: str,
    indices: range,
    concurrency: int,
    budget_s: float,
    loop_name: str,
) -> None:
    """One generator process: builds its requests, connects, waits for the start, runs."""
    try:
        requests = [(i, alert_request(port, secret, f"{prefix}{i}")) for i in indices]
        result = run_async(closed_loop(port, requests, concurrency, budget_s, pipe), loop_name)
        pipe.send(result)
    except Exception as exc:
        pipe.send({"failed": repr(exc)})
    finally:
        pipe.close()


def throughput_round(
    port: int, server_pid: int, secret: str, prefix: str, cfg: Config
) -> dict[str, Any]:
    """One closed-loop round in ``cfg.client_procs`` generator processes started together."""
    n = cfg.throughput_per_round
    ctx = multiprocessing.get_context("spawn")
    procs: list[Any] = []
    pipes: list[Connection] = []
    try:
        for k in range(cfg.client_procs):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=_throughput_worker,
                args=(
                    child,
                    port,
                    secret,
                    prefix,
                    range(k, n, cfg.client_procs),
                    max(1, cfg.concurrency // cfg.client_procs),
                    cfg.throughput_budget_s,
                    cfg.loop,
                ),
                daemon=True,
            )
            proc.start()
            child.close()
            procs.append(proc)
            pipes.append(parent)
        for pipe in pipes:
            if not pipe.poll(READY_TIMEOUT_S):
                raise RuntimeError("a generator process did not get ready")
            message = pipe.recv()
            if message != "ready":
                raise RuntimeError(f"a generator process failed: {message}")
        server_cpu0, machine0 = process_cpu_s(server_pid), machine_busy_s()
        start_at = time.monotonic() + 0.1
        for pipe in pipes:
            pipe.send(start_at)
        results = []
        for pipe in pipes:
            if not pipe.poll(cfg.throughput_budget_s + REQUEST_TIMEOUT_S + 10):
                raise RuntimeError("a generator process did not finish")
            result = pipe.recv()
            if "failed" in result:
                raise RuntimeError(f"a generator process failed: {result['failed']}")
            results.append(result)
        server_cpu1, machine1 = process_cpu_s(server_pid), machine_busy_s()
        window = time.monotonic() - start_at
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
    ok = [i for r in results for i in r["ok"]]
    errors: Counter[str] = Counter()
    for r in results:
        errors.update(r["errors"])
    elapsed = max(r["last"] for r in results) - start_at
    generator_cpu = sum(r["cpu_s"] for r in results)
    server_cpu = _diff(server_cpu1, server_cpu0)
    machine = _diff(machine1, machine0)
    other = None
    if server_cpu is not None and machine is not None:
        other = max(0.0, machine - server_cpu - generator_cpu) / window
    return {
        "per_s": len(ok) / elapsed if elapsed > 0 else 0.0,
        "start_at": start_at,
        "finished_at": start_at + elapsed,
        "ok": ok,
        "errors": errors,
        "not_sent": sum(r["not_sent"] for r in results),
        "generator_cpu": generator_cpu / elapsed if elapsed > 0 else None,
        "server_cpu": server_cpu / elapsed if server_cpu is not None and elapsed > 0 else None,
        # CPU per alert: steadier than alerts/s when other work shares the machine.
        "server_cpu_us": server_cpu / len(ok) * 1e6 if server_cpu is not None and ok else None,
        "server_cpu_start": server_cpu0,
        "other_load": other,
    }


def process_cpu_s(pid: int) -> float | None:
    """CPU seconds a process (all its threads) has used, from /proc; None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_s() -> float | None:
    """CPU seconds all cores have spent busy since boot (everything but idle and iowait)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _diff(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before


# -- the servers under test ---------------------------------------------------------


@dataclass
class Target:
    """One server under test and everything measured against it."""

    name: str
    port: int
    pid: int
    drained: Callable[[], bool] | None = None  # True once the server has no backlog
    acked: list[str] = field(default_factory=list)  # client_refs answered 200
    warmup_errors: Counter[str] = field(default_factory=Counter)
    latency: LatencySamples = field(default_factory=LatencySamples)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    drain_s: list[float] = field(default_factory=list)

    def wait_drained(self) -> None:
        if self.drained is None:
            return
        started = time.monotonic()
        while not self.drained() and time.monotonic() - started < DRAIN_TIMEOUT_S:
            time.sleep(0.05)
        self.drain_s.append(round(time.monotonic() - started, 2))

    def executed_at(self) -> float | None:
        """When the worker's queue was empty again (monotonic), None if not in time."""
        assert self.drained is not None
        started = time.monotonic()
        while not self.drained():
            if time.monotonic() - started > EXECUTE_TIMEOUT_S:
                return None
            time.sleep(0.01)
        return time.monotonic()

    def report(self) -> dict[str, Any]:
        lat = self.latency
        lat.latencies.sort()
        lat.lags.sort()
        tp_errors: Counter[str] = Counter()
        for r in self.rounds:
            tp_errors.update(r["errors"])
        all_errors = self.warmup_errors + lat.errors + tp_errors
        per_s = [r["per_s"] for r in self.rounds]
        executed = [r["executed_per_s"] for r in self.rounds if r.get("executed_per_s")]
        result: dict[str, Any] = {
            "ack_p50_ms": _ms(_pct(lat.latencies, 50)),
            "ack_p99_ms": _ms(_pct(lat.latencies, 99)),
            "ack_max_ms": _ms(lat.latencies[-1] if lat.latencies else None),
            "throughput_per_s": round(statistics.median(per_s), 1) if per_s else None,
            "errors": sum(all_errors.values()),
            "error_detail": dict(all_errors),
            "latency_samples": len(lat.latencies),
            "send_lag_p50_ms": _ms(_pct(lat.lags, 50)),
            "send_lag_p99_ms": _ms(_pct(lat.lags, 99)),
            "latency_connections": lat.connections,
            "throughput_rounds_per_s": [round(x, 1) for x in per_s],
            "throughput_not_sent": sum(r["not_sent"] for r in self.rounds),
            "server_cpu_cores": _median_of(self.rounds, "server_cpu"),
            "server_cpu_us_per_alert": _median_of(self.rounds, "server_cpu_us"),
            "generator_cpu_cores": _median_of(self.rounds, "generator_cpu"),
            "other_load_cores": _median_of(self.rounds, "other_load"),
            "acked_200": len(self.acked),
        }
        if self.drained is not None:
            result["executed_per_s"] = round(statistics.median(executed), 1) if executed else None
            result["executed_rounds_per_s"] = [round(x, 1) for x in executed]
            result["executed_cpu_us_per_alert"] = _median_of(
                [r for r in self.rounds if "executed_cpu_us" in r], "executed_cpu_us"
            )
            result["worker_backlog_s"] = [r.get("backlog_s") for r in self.rounds]
            result["worker_drain_waits_s"] = self.drain_s
        return result


def _median_of(rounds: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rounds if r[key] is not None]
    return round(statistics.median(values), 2) if values else None


def engine_drained(control_port: int, secret: str) -> Callable[[], bool]:
    """Whether tvdesk's worker queue is empty, from the control port's status."""
    from tvdesk.door.control import ControlError, call

    def drained() -> bool:
        try:
            return call(control_port, secret, "GET", "/status").get("queue_depth", 0) == 0
        except ControlError:
            return True  # unknown: don't wait

    return drained


# -- the profile ------------------------------------------------------------------------


class Profiler:
    """py-spy recording one process; a raw (.txt) record is summarised by function."""

    def __init__(self, path: Path, gil: bool, rate: int = 250) -> None:
        self.path = path
        self.gil = gil
        self.rate = rate
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, pid: int) -> None:
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        fmt = "raw" if self.path.suffix == ".txt" else "speedscope"
        cmd = [spy, "record", "--pid", str(pid), "--rate", str(self.rate), "--nonblocking"]
        cmd += ["--format", fmt, "--output", str(self.path)] + (["--gil"] if self.gil else [])
        log(f"profiling tvdesk with py-spy into {self.path}")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)  # py-spy attaches before the load starts
        if self.proc.poll() is not None:
            assert self.proc.stderr is not None
            raise RuntimeError(f"py-spy did not start: {self.proc.stderr.read().decode()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def summary(self, top: int = 20) -> dict[str, Any]:
        """Share of the samples per function (its lines merged): self and inclusive."""
        report: dict[str, Any] = {"file": str(self.path), "gil_only": self.gil}
        if self.path.suffix != ".txt" or not self.path.exists():
            return report
        own: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        total = 0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [_function_of(frame) for frame in stack.split(";")]
            total += int(count)
            own[frames[-1]] += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
        share = {
            "self": own.most_common(top),
            "inclusive": inclusive.most_common(top * 2),
        }
        report["samples"] = total
        for kind, rows in share.items():
            report[kind] = [f"{100 * n / total:5.1f}% {name}" for name, n in rows]
        return report


def _function_of(frame: str) -> str:
    """``name (file.py:12)`` -> ``name (file.py)``: one row per function, not per line."""
    head, sep, tail = frame.rpartition(":")
    return f"{head})" if sep and tail.rstrip(")").isdigit() else frame


# -- the run ----------------------------------------------------------------------------


def run_phases(
    targets: list[Target],
    secret: str,
    run_id: str,
    cfg: Config,
    profiler: Profiler | None = None,
) -> None:
    for t in targets:
        log(f"{t.name}: warm-up ({cfg.warmup} alerts)")
        requests = [
            (i, alert_request(t.port, secret, f"{run_id}-warm-{i}")) for i in range(cfg.warmup)
        ]
        result = run_async(closed_loop(t.port, requests, 8, 30.0), cfg.loop)
        t.acked.extend(f"{run_id}-warm-{i}" for i in result["ok"])
        t.warmup_errors.update(result["errors"])
    n = cfg.latency_per_round
    for r in range(cfg.latency_rounds):
        for t in targets if r % 2 == 0 else targets[::-1]:
            t.wait_drained()
            time.sleep(SETTLE_S)
            log(f"{t.name}: open-loop latency round {r + 1} ({n} alerts at {RATE_PER_S:.0f}/s)")
            refs = [f"{run_id}-lat-{r * n + i}" for i in range(n)]
            requests = [alert_request(t.port, secret, ref) for ref in refs]
            got = run_async(open_loop(t.port, requests, RATE_PER_S), cfg.loop)
            t.acked.extend(refs[i] for i in got.ok)
            t.latency.latencies += got.latencies
            t.latency.lags += got.lags
            t.latency.errors += got.errors
            t.latency.connections = max(t.latency.connections, got.connections)
    # A server with a backlog (tvdesk's worker) goes last: it would slow the others down.
    for t in targets:
        t.wait_drained()
        if profiler is not None and t.name == "tvdesk":
            profiler.start(t.pid)
        for r in range(cfg.throughput_rounds):
            time.sleep(SETTLE_S)
            log(
                f"{t.name}: closed-loop throughput round {r + 1} "
                f"({cfg.throughput_per_round} alerts, {cfg.concurrency} connections)"
            )
            prefix = f"{run_id}-tp{r}-"
            result = throughput_round(t.port, t.pid, secret, prefix, cfg)
            ok = result.pop("ok")
            t.acked.extend(f"{prefix}{i}" for i in ok)
            if t.drained is not None:
                # The round ends for DESIGN's bar when its last alert is executed too.
                done = t.executed_at()
                cpu0, cpu1 = result["server_cpu_start"], process_cpu_s(t.pid)
                if done is not None:
                    result["executed_per_s"] = len(ok) / (done - result["start_at"])
                    if cpu0 is not None and cpu1 is not None and ok:
                        result["executed_cpu_us"] = (cpu1 - cpu0) / len(ok) * 1e6
                    result["backlog_s"] = round(done - result["finished_at"], 2)
            t.rounds.append(result)
        if profiler is not None and t.name == "tvdesk":
            profiler.stop()


def check_journal(data_dir: Path, acked: list[str]) -> dict[str, Any]:
    """The engine's journal, exported: accepted rows against the 200s the generator saw."""
    from tests.kit.engine_proc import run_cli

    out = run_cli("export", "--data-dir", str(data_dir), timeout=90)
    if out.returncode != 0:
        return {"match": False, "error": out.stderr.strip()[:500]}
    accepted = [
        record["client_ref"]
        for record in map(json.loads, out.stdout.splitlines())
        if record["status"] == "accepted"
    ]
    return {
        "match": len(accepted) == len(acked) and set(accepted) == set(acked),
        "accepted_rows": len(accepted),
        "acked_200": len(acked),
    }


def fs_type(path: Path) -> str | None:
    """The file system holding ``path`` (fsync on tmpfs is free, on a disk it is not)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, kind = "", None
    resolved = str(path.resolve())
    for line in mounts:
        parts = line.split()
        if len(parts) < 3 or len(parts[1]) < len(best):
            continue
        if (resolved + "/").startswith(parts[1].rstrip("/") + "/"):
            best, kind = parts[1], parts[2]
    return kind


def ratios_of(tvdesk: dict[str, Any], floor: dict[str, Any], peer: dict[str, Any]) -> dict:
    """DESIGN's ratios: tvdesk against the journaling floor and against the FastAPI peer.

    ``*_executed`` uses tvdesk's executed_per_s (its worker done too) where the plain
    ones use its 200s; the references have no worker, so theirs is their 200s.
    """
    executed = tvdesk.get("executed_per_s")
    return {
        "ack_p99_vs_floor": ratio(tvdesk["ack_p99_ms"], floor["ack_p99_ms"]),
        "throughput_vs_floor": ratio(tvdesk["throughput_per_s"], floor["throughput_per_s"]),
        "throughput_vs_peer": ratio(tvdesk["throughput_per_s"], peer["throughput_per_s"]),
        "executed_vs_floor": ratio(executed, floor["throughput_per_s"]),
        "executed_vs_peer": ratio(executed, peer["throughput_per_s"]),
    }


def targets_met(ratios: dict[str, float | None]) -> dict[str, bool]:
    def at_most(key: str, limit: float) -> bool:
        return ratios[key] is not None and ratios[key] <= limit

    def at_least(key: str, limit: float) -> bool:
        return ratios[key] is not None and ratios[key] >= limit

    return {
        "ack_p99_vs_floor": at_most("ack_p99_vs_floor", TARGETS["ack_p99_vs_floor_max"]),
        "throughput_vs_floor": at_least("throughput_vs_floor", TARGETS["throughput_vs_floor_min"]),
        "throughput_vs_peer": at_least("throughput_vs_peer", TARGETS["throughput_vs_peer_min"]),
        "executed_vs_floor": at_least("executed_vs_floor", TARGETS["throughput_vs_floor_min"]),
        "executed_vs_peer": at_least("executed_vs_peer", TARGETS["throughput_vs_peer_min"]),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return round(a / b, 3)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer alerts (under a minute)")
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="generator processes for the throughput phase (one keeps up on 2 cores)",
    )
    parser.add_argument("--concurrency", type=int, default=64, help="throughput connections")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default=default_loop())
    parser.add_argument(
        "--diagnostics",
        action="store_true",
        help="also measure a bare aiohttp handler and one journaling through tvdesk's journal",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy record tvdesk's throughput rounds into this file (.txt: raw, summarised)",
    )
    parser.add_argument(
        "--profile-gil", action="store_true", help="with --profile: only samples holding the GIL"
    )
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--journal", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def config(args: argparse.Namespace) -> Config:
    concurrency = max(1, args.concurrency)
    common = {
        "quick": args.quick,
        "concurrency": concurrency,
        "client_procs": max(1, min(args.client_procs, concurrency)),
        "loop": args.loop,
    }
    if args.quick:
        return Config(
            warmup=200,
            latency_rounds=2,
            latency_per_round=300,
            throughput_rounds=2,
            throughput_per_round=3000,
            throughput_budget_s=5.0,
            **common,
        )
    return Config(
        warmup=500,
        latency_rounds=4,
        latency_per_round=500,
        throughput_rounds=3,
        throughput_per_round=20000,
        throughput_budget_s=15.0,
        **common,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_bare:
        return serve_bare(args.journal)
    sys.path.insert(0, str(ROOT))
    from tests.kit.engine_proc import EngineProcess

    cfg = config(args)
    started = time.monotonic()
    run_id = f"bench-{os.getpid()}-{int(time.time())}"
    secret = secrets.token_urlsafe(24)
    machine: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    profiler = None if args.profile is None else Profiler(args.profile, args.profile_gil)
    with tempfile.TemporaryDirectory(prefix="tvdesk-bench-") as tmp:
        tmp_path = Path(tmp)
        data_dir = tmp_path / "data"
        machine["data_dir_fs"] = fs_type(tmp_path)
        # The floor keeps its journal in a temporary folder: this one, the same disk.
        floor = ScriptServer(
            PERF / "journal_floor.py", tmp_path / "floor-stderr.log", {"TMPDIR": tmp}
        )
        peer = ScriptServer(
            PERF / "fastapi_peer.py",
            tmp_path / "peer-stderr.log",
            {"TVDESK_WEBHOOK_SECRET": secret},
        )
        extra: list[BareServer] = []
        if args.diagnostics:
            extra = [
                BareServer(tmp_path / "bare-stderr.log"),
                BareServer(tmp_path / "tjournal-stderr.log", tmp_path / "tj" / "journal.db"),
            ]
        engine = EngineProcess(data_dir, secret)
        try:
            log("starting the journaling floor, the FastAPI peer and tvdesk --headless")
            targets = []
            for name, server in (("journal_floor", floor), ("fastapi_peer", peer)):
                server.start()
                assert server.proc is not None
                targets.append(Target(name, server.port, server.proc.pid))
            for name, bare in zip(("bare", "tvdesk_journal_floor"), extra, strict=False):
                bare.start()
                assert bare.proc is not None
                targets.append(Target(name, bare.port, bare.proc.pid))
            engine.start()
            assert engine.proc is not None
            info = json.loads((data_dir / "engine.json").read_text(encoding="utf-8"))
            targets.append(
                Target(
                    "tvdesk",
                    engine.port,
                    engine.proc.pid,
                    drained=engine_drained(int(info["control_port"]), secret),
                )
            )
            run_phases(targets, secret, run_id, cfg, profiler)
            log("stopping tvdesk and exporting its journal")
            engine_rc = engine.terminate()
            journal = check_journal(data_dir, targets[-1].acked)
        finally:
            if profiler is not None:
                profiler.stop()
            for server in (floor, peer, *extra):
                server.stop()
            engine.cleanup()
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {t.name: t.report() for t in targets}
    ratios = ratios_of(results["tvdesk"], results["journal_floor"], results["fastapi_peer"])
    procs = cfg.client_procs
    report = {
        "machine": machine,
        "config": {
            "quick": cfg.quick,
            "rate_per_s": RATE_PER_S,
            "warmup": cfg.warmup,
            "latency": f"{cfg.latency_rounds} rounds x {cfg.latency_per_round} alerts",
            "throughput": f"{cfg.throughput_rounds} rounds x {cfg.throughput_per_round} alerts",
            "concurrency": cfg.concurrency,
        },
        "summary": {
            name: {
                "throughput_per_s": r["throughput_per_s"],
                "ack_p99_ms": r["ack_p99_ms"],
                "server_cpu_us_per_alert": r["server_cpu_us_per_alert"],
                **(
                    {
                        "executed_per_s": r["executed_per_s"],
                        "executed_cpu_us_per_alert": r["executed_cpu_us_per_alert"],
                    }
                    if "executed_per_s" in r
                    else {}
                ),
            }
            for name, r in results.items()
        },
        **results,
        "ratios": ratios,
        "targets": TARGETS,
        "meets_targets": targets_met(ratios),
        "generator": (
            f"raw HTTP/1.1 keep-alive client on asyncio.Protocol ({cfg.loop}), pre-built "
            f"requests; latency: in-process, ticker thread, open loop at {RATE_PER_S:.0f}/s; "
            f"throughput: {procs} process{'es' if procs > 1 else ''} x "
            f"{cfg.concurrency // procs} connections, closed loop, median of rounds"
        ),
        "journal_rows_match": journal["match"],
        "journal": journal,
        "engine_exit_code": engine_rc,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if profiler is not None:
        report["profile"] = profiler.summary()
    print(json.dumps(report, indent=2))
    clean = journal["match"] and not any(r["errors"] for r in results.values())
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
