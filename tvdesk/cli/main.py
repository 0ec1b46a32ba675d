"""The command line: starts the window or the headless engine, and the small tools.

Headless mode never imports Qt (nor ccxt): a server without a display must be
able to run tvdesk.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tvdesk import __version__
from tvdesk.support import timing

DEFAULT_TEST_SYMBOL = "BINANCE:BTCUSDT"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tvdesk",
        description="TradingView alerts to exchange orders, from your own PC.",
    )
    parser.add_argument("--version", action="version", version=f"tvdesk {__version__}")
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="run one signed alert end to end in a temporary data dir, then exit 0 or 1",
    )
    parser.add_argument(
        "--timing",
        action="store_true",
        help="print start-up figures (window shown, engine ready) to stderr",
    )
    _add_data_dir(parser)
    parser.add_argument("--port", type=_port, help="listener port (default 8787; 0 = any free)")
    parser.add_argument("--host", help="listener address (default 127.0.0.1)")
    parser.add_argument("--no-tunnel", action="store_true", help="don't start the ngrok tunnel")
    parser.add_argument("--mode", choices=("paper", "live"), help="paper (default) or live")
    parser.add_argument("--exchange", help="ccxt id of the default exchange (default binance)")
    parser.add_argument(
        "--exchange-url", help="send the exchange's REST calls to this URL (proxy, simulator)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    export = commands.add_parser("export", help="print the journal: one record per alert")
    _add_data_dir(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--output", "-o", type=Path, help="write to a file instead of stdout")

    send = commands.add_parser("send-test", help="sign and send a test alert")
    _add_data_dir(send)
    send.add_argument("--url", help="webhook URL (default: the running engine's)")
    send.add_argument("--fill", action="store_true", help="a real paper alert instead of a dry run")
    send.add_argument("--symbol", default=DEFAULT_TEST_SYMBOL)
    send.add_argument("--side", default="buy", choices=("buy", "sell"))
    send.add_argument("--qty", default="0.001")
    send.add_argument("--price", help="price for the alert (paper fills need one)")

    status = commands.add_parser("status", help="state of the running engine")
    _add_data_dir(status)
    kill = commands.add_parser("kill", help="turn the kill switch on: no new orders")
    _add_data_dir(kill)
    kill.add_argument("--flatten", action="store_true", help="and close tvdesk's positions")
    resume = commands.add_parser("resume", help="turn the kill switch off")
    _add_data_dir(resume)
    return parser


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="keep settings, journal and logs in DIR instead of the usual places",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is a number from 0 to 65535")
    return value


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given == ["--tunnel-guard"]:  # a frozen tvdesk guarding its ngrok agent (tunnel_guard)
        from tvdesk.tunnel.guard import main as guard

        return guard()
    args = build_parser().parse_args(argv)
    if args.timing:
        timing.enable()
    data_dir: Path | None = getattr(args, "data_dir", None)
    if args.command == "export":
        return cmd_export(data_dir, args.format, args.output)
    if args.command == "send-test":
        return cmd_send_test(data_dir, args)
    if args.command in ("status", "kill", "resume"):
        return cmd_control(data_dir, args)
    if args.self_test:
        from tvdesk.engine.selftest import run_self_test

        return run_self_test()
    if not args.headless:
        return cmd_window(data_dir, args)
    return cmd_run(data_dir, args)


def _fail(message: str, code: int = 2) -> int:
    print(f"tvdesk: {message}", file=sys.stderr)
    return code


# -- run ---------------------------------------------------------------------


def cmd_window(data_dir: Path | None, args: argparse.Namespace) -> int:
    missing = _no_display()
    if missing:
        return _fail(missing)
    # Imported here: headless mode and the small tools must never load Qt.
    from tvdesk.gui.app import GuiOptions, run

    options = GuiOptions(
        data_dir=data_dir,
        port=args.port,
        host=args.host,
        tunnel=not args.no_tunnel,
        mode=args.mode,
        exchange=args.exchange,
        exchange_url=args.exchange_url,
    )
    return run(options, _mark_window_timings if timing.enabled() else None)


def _no_display() -> str | None:
    """Why the window cannot open here (Linux without a display), before Qt aborts on it."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display to open the window on (DISPLAY and WAYLAND_DISPLAY are unset): "
        "on a server run `tvdesk --headless`; over SSH, connect with X forwarding"
    )


async def _mark_window_timings(window: Any) -> None:
    """--timing: "window shown" once it has painted, "engine ready" when the engine is."""
    if window.isVisible():
        window.repaint()
        timing.mark("window shown")

    def on_event(event: Any) -> None:
        if event.name == "EngineStarted":
            timing.mark("engine ready")

    window.handle.event.connect(on_event)


def cmd_run(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.settings import (
        SettingsError,
        default_settings_text,
        load_settings,
        resolve_paths,
    )

    paths = resolve_paths(data_dir)
    try:
        paths.ensure()
        if not paths.settings_file.exists():
            paths.settings_file.write_text(default_settings_text(), encoding="utf-8")
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot use the data folder {exc.filename}: {exc.strerror}")
    settings = _apply_overrides(settings, args)
    overrides = _cli_overrides(settings, args)
    return asyncio.run(
        _run_headless(settings, paths, data_dir, tunnel=not args.no_tunnel, overrides=overrides)
    )


def _cli_overrides(settings: Any, args: argparse.Namespace) -> dict[str, Any]:
    """The settings this run's flags changed: never written back to settings.toml."""
    given = {
        "listener.port": (args.port, settings.listener.port),
        "listener.host": (args.host, settings.listener.host),
        "exchange.default": (args.exchange, settings.exchange.default),
        "exchange.url": (args.exchange_url, settings.exchange.url),
        "mode": (args.mode, settings.mode),
    }
    return {key: effective for key, (flag, effective) in given.items() if flag is not None}


def _apply_overrides(settings: Any, args: argparse.Namespace) -> Any:
    listener = settings.listener
    if args.port is not None:
        listener = replace(listener, port=args.port)
    if args.host is not None:
        listener = replace(listener, host=args.host)
    exchange = settings.exchange
    if args.exchange:
        exchange = replace(exchange, default=args.exchange.lower())
    if args.exchange_url:
        exchange = replace(exchange, url=args.exchange_url)
    mode = args.mode or settings.mode
    return replace(settings, listener=listener, exchange=exchange, mode=mode)


async def _live_or_paper(engine: Any) -> None:
    """Live mode only with credentials and a reachable account; otherwise paper, said loudly."""
    if engine.settings.mode != "live":
        return
    exchange = engine.settings.exchange.default
    reason = await engine.check_live()
    if reason:
        print(f"tvdesk: LIVE trading refused: {reason}", file=sys.stderr)
        print("tvdesk: staying in PAPER mode (no real orders)", file=sys.stderr, flush=True)
        engine.update_settings(replace(engine.settings, mode="paper"), persist=False)
        return
    print(f"tvdesk: LIVE mode on {exchange}: alerts place REAL orders", file=sys.stderr, flush=True)


async def _run_headless(
    settings: Any,
    paths: Any,
    data_dir: Path | None,
    *,
    tunnel: bool,
    overrides: dict[str, Any],
) -> int:
    from tvdesk.config.keystore import Keystore, KeystoreError, service_name
    from tvdesk.engine.engine import Engine, EngineError
    from tvdesk.store.journal import JournalError
    from tvdesk.support.bus import EventBus
    from tvdesk.support.clock import SystemClock
    from tvdesk.support.lockfile import DataDirLocked
    from tvdesk.support.logs import EventLogger, setup_logging, stop_logging

    setup_logging(paths.log_file, console=True)
    bus = EventBus()
    bus.subscribe(EventLogger())
    keystore = Keystore(service_name(data_dir))
    engine = Engine(
        settings,
        keystore,
        SystemClock(),
        bus,
        paths=paths,
        tunnel_enabled=tunnel,
        overrides=overrides,
    )
    try:
        await _live_or_paper(engine)
        await engine.start()
    except (DataDirLocked, KeystoreError, EngineError, JournalError) as exc:
        if engine.live is not None:
            await engine.live.stop()
        stop_logging()
        return _fail(str(exc))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))
    if hasattr(signal, "SIGHUP"):
        loop.add_signal_handler(signal.SIGHUP, engine.reload_settings)
    timing.mark("engine ready")
    # Everything made so far (modules, the engine) lives as long as the process: keep
    # it out of the collector's way so a full collection never stalls an alert's reply.
    gc.collect()
    gc.freeze()
    print(f"tvdesk ready on {engine.local_url}", flush=True)
    try:
        await stop.wait()
    finally:
        try:
            await asyncio.wait_for(engine.stop(), timeout=9)
        except TimeoutError:
            # DESIGN: stopped within 10 s, exit 0. What did not finish is in the journal
            # and settled at the next start.
            print(
                "tvdesk: the shutdown took more than 9 s; stopped anyway "
                "(the next start settles what was in flight)",
                file=sys.stderr,
            )
        finally:
            stop_logging()
    return 0


# -- export --------------------------------------------------------------------


def cmd_export(data_dir: Path | None, fmt: str, output: Path | None) -> int:
    from tvdesk.config.settings import resolve_paths
    from tvdesk.store.export import ExportError, records, write_csv, write_jsonl

    journal = resolve_paths(data_dir).journal_file
    write = write_csv if fmt == "csv" else write_jsonl
    try:
        # Opened before any output: a failed export must not clobber the last good file.
        rows = records(journal)
        if output is None:
            write(rows, sys.stdout)
        else:
            with open(output, "w", encoding="utf-8", newline="") as out:
                write(rows, out)
    except ExportError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {exc.filename or output}: {exc.strerror or exc}")
    return 0


# -- send-test -----------------------------------------------------------------


def cmd_send_test(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.keystore import Keystore, KeystoreError, service_name
    from tvdesk.config.settings import local_url, resolve_paths
    from tvdesk.core.auth import sign_tvdesk

    paths = resolve_paths(data_dir)
    engine_info = _read_engine_file(paths.engine_file)
    if args.fill and engine_info.get("mode") == "live":
        return _fail("--fill sends a real alert and the engine is LIVE: refused")
    if args.fill and args.price is None:
        return _fail(
            "a paper fill needs a price (paper trading fills at the alert's price): "
            "add --price, e.g. --price 50000"
        )
    url = args.url
    public_url = engine_info.get("public_url") if url is None else None
    if url is None:
        if not engine_info:
            return _fail(f"no tvdesk is running on {paths.data_dir}: start it, or pass --url")
        # Through the tunnel when it is up: out to the internet and back, like TradingView.
        listener = local_url(str(engine_info.get("host", "127.0.0.1")), int(engine_info["port"]))
        base = public_url.rstrip("/") if public_url else listener
        url = f"{base}/webhook"
    elif not url.rstrip("/").endswith("/webhook"):
        url = url.rstrip("/") + "/webhook"
    if args.fill:
        # The engine's own word, just before sending: its mode may have changed since
        # engine.json was written, and with --url there is no engine.json at all.
        refusal = _fill_refusal(url.rstrip("/").removesuffix("/webhook") + "/health")
        if refusal:
            return _fail(refusal)
    try:
        secret = Keystore(service_name(data_dir)).get("webhook_secret")
    except KeystoreError as exc:
        return _fail(str(exc))
    if not secret:
        return _fail(
            "no webhook secret yet: start tvdesk once (it makes one), or set TVDESK_WEBHOOK_SECRET"
        )
    now = time.time()
    alert: dict[str, Any] = {
        "symbol": args.symbol,
        "side": args.side,
        "qty": args.qty,
        "timestamp": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "strategy": "tvdesk send-test",
        "client_ref": f"send-test-{int(now * 1000)}",
        "test": not args.fill,
    }
    if args.price is not None:
        alert["price"] = args.price
    body = json.dumps(alert).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-TVDesk-Signature": sign_tvdesk(secret, body, int(now)),
            "ngrok-skip-browser-warning": "1",
        },
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            code, text = response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        code, text = exc.code, exc.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return _fail(f"could not reach {url}: {reason}", 1)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"{code} from {url} in {elapsed:.1f} ms")
    if public_url:
        reach = "TradingView can reach you" if code == 200 else "see the reply below"
        print(f"round trip through the ngrok tunnel: {elapsed:.0f} ms ({reach})")
    print(text)
    if code != 200:
        return 1
    if engine_info and args.url is None:
        _print_outcome(paths.journal_file, text)
    return 0


OUTCOME_WAIT_S = 5.0


def _fill_refusal(health_url: str) -> str | None:
    """Why ``send-test --fill`` must not send (None when the engine says it is in paper)."""
    request = urllib.request.Request(health_url, headers={"ngrok-skip-browser-warning": "1"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            mode = json.loads(response.read().decode("utf-8", "replace")).get("mode")
    except (urllib.error.URLError, OSError, ValueError, AttributeError) as exc:
        reason = getattr(exc, "reason", exc)
        return (
            f"--fill sends a real alert, and the engine's mode could not be checked at "
            f"{health_url} ({reason}): refused"
        )
    if mode == "paper":
        return None
    if mode == "live":
        return "--fill sends a real alert and the engine is LIVE: refused"
    return (
        f"--fill sends a real alert, and {health_url} does not say the engine is in paper: refused"
    )


def _print_outcome(journal_file: Path, reply_text: str) -> None:
    """What the worker made of the alert just sent, read from the journal (read-only)."""
    import sqlite3

    from tvdesk.store.export import ExportError, open_readonly

    try:
        alert_id = json.loads(reply_text)["alert_id"]
        conn = open_readonly(journal_file)
    except (ValueError, KeyError, TypeError, ExportError):
        return
    try:
        deadline = time.monotonic() + OUTCOME_WAIT_S
        while True:
            try:
                row = conn.execute(
                    "SELECT outcome, reason FROM alerts WHERE alert_id = ?", (alert_id,)
                ).fetchone()
            except sqlite3.Error:
                return  # the reply above stands; the outcome is in tvdesk export
            if row is not None and row[0] != "pending":
                print(f"outcome: {row[0]} — {row[1]}")
                return
            if time.monotonic() >= deadline:
                print("outcome: pending (the worker has not decided yet: see tvdesk export)")
                return
            time.sleep(0.05)
    finally:
        conn.close()


def cmd_control(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.keystore import Keystore, KeystoreError, service_name
    from tvdesk.config.settings import resolve_paths
    from tvdesk.door.control import ControlError, call

    paths = resolve_paths(data_dir)
    info = _read_engine_file(paths.engine_file)
    if not info.get("control_port"):
        return _fail(f"no tvdesk is running on {paths.data_dir}", 1)
    try:
        secret = Keystore(service_name(data_dir)).get("webhook_secret")
    except KeystoreError as exc:
        return _fail(str(exc))
    if not secret:
        return _fail("no webhook secret to sign with: set TVDESK_WEBHOOK_SECRET")
    try:
        if args.command == "status":
            reply = call(info["control_port"], secret, "GET", "/status")
        elif args.command == "kill":
            reply = call(info["control_port"], secret, "POST", "/kill", {"flatten": args.flatten})
        else:
            reply = call(info["control_port"], secret, "POST", "/resume", {})
    except ControlError as exc:
        return _fail(str(exc), 1)
    print(json.dumps(reply, indent=2))
    return 0


def _read_engine_file(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
