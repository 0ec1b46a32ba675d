"""``tvdesk --headless``: the engine on a plain asyncio loop, no Qt, until a signal stops it.

The run's flags (port, host, mode, exchange) override settings.toml for this run only.
LIVE needs consent at every start: only ``--mode live`` on the command line trades live;
``mode = "live"`` in settings.toml alone starts in paper and says why. Live mode is also
refused loudly, back to paper, when the account cannot be reached.

Secrets come from the OS keyring, or from the encrypted file the window offers where there
is none, unlocked with ``TVDESK_SECRETS_PASSWORD_FILE`` / ``TVDESK_SECRETS_PASSWORD``
(cli.unlock: nobody is there to type it); TVDESK_* variables override both.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvdesk.cli.common import LogOptions, fail
from tvdesk.cli.unlock import open_keystore
from tvdesk.support import exits, timing
from tvdesk.support.platform import current

if TYPE_CHECKING:
    from tvdesk.config.keystore import Keystore

log = logging.getLogger(__name__)

LIVE_NEEDS_FLAG = (
    'settings.toml says mode = "live", but live trading needs --mode live on the command '
    "line at every start: starting in PAPER"
)


def cmd_run(data_dir: Path | None, args: argparse.Namespace, logs: LogOptions) -> int:
    from tvdesk.config.keystore import KeystoreError, service_name
    from tvdesk.config.load import SettingsError, load_settings
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.save import write_default_settings
    from tvdesk.config.secret_stores import SecretsFileError

    paths = resolve_paths(data_dir)
    try:
        paths.ensure()
        if not paths.settings_file.exists():
            write_default_settings(paths.settings_file)
        settings = load_settings(paths.settings_file)
    except SettingsError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot use the data folder {exc.filename}: {exc.strerror}")
    try:
        keystore = open_keystore(service_name(data_dir), paths.config_dir, os.environ)
    except (KeystoreError, SecretsFileError) as exc:
        return fail(str(exc))
    settings = _apply_overrides(settings, args)
    overrides = _cli_overrides(settings, args)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(
            _run_headless(
                settings,
                paths,
                keystore,
                tunnel=not args.no_tunnel,
                overrides=overrides,
                logs=logs,
            )
        )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop where it runs (not on Windows): the door answers more alerts per CPU second.

    A source install without it runs on asyncio's own loop, only slower.
    """
    return current().event_loop_factory()


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
    keystore: Keystore,
    *,
    tunnel: bool,
    overrides: dict[str, Any],
    logs: LogOptions,
) -> int:
    from tvdesk.config.keystore import KeystoreError
    from tvdesk.engine.engine import Engine
    from tvdesk.engine.errors import EngineError
    from tvdesk.notify.notifier import Notifier
    from tvdesk.store.errors import JournalError
    from tvdesk.support.bus import EventBus
    from tvdesk.support.clock import SystemClock
    from tvdesk.support.lockfile import DataDirLocked
    from tvdesk.support.logs import EventLogger, setup_logging, stop_logging

    setup_logging(logs.where(paths.log_file), console=True, level=logs.level)
    bus = EventBus()
    bus.subscribe(EventLogger())
    engine = Engine(
        settings,
        keystore,
        SystemClock(),
        bus,
        paths=paths,
        tunnel_enabled=tunnel,
        overrides=overrides,
    )
    notifier = Notifier(lambda: engine.settings, keystore, engine.clock)
    bus.subscribe(notifier.on_event)
    notifier.start()  # idle until [notify] names a channel
    if "mode" not in overrides and engine.hold_paper():
        # The file keeps "live" (the trader's choice); this run trades paper.
        print(f"tvdesk: {LIVE_NEEDS_FLAG}", file=sys.stderr, flush=True)
        log.warning(LIVE_NEEDS_FLAG)
    try:
        await _live_or_paper(engine)
        await engine.start()
    except (DataDirLocked, KeystoreError, EngineError, JournalError) as exc:
        if engine.live is not None:
            await engine.live.stop()
        await notifier.stop()
        stop_logging()
        return fail(str(exc))

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    current().on_stop(stop.set, loop)  # Ctrl+C, SIGTERM (Windows: Ctrl+Break too)
    current().on_reload(engine.reload_settings, loop)  # SIGHUP, where there is one
    timing.mark("engine ready")
    # Everything made so far (modules, the engine) lives as long as the process: keep
    # it out of the collector's way so a full collection never stalls an alert's reply.
    gc.collect()
    gc.freeze()
    # Alerts make short-lived objects in bursts: collect the young generation less often
    # (measured: +3-10% alerts/s on tests/perf/bench_webhook.py).
    gc.set_threshold(20_000, 20, 20)
    log.info(keystore.describe())
    print(f"tvdesk ready on {engine.local_url}", flush=True)
    try:
        await stop.wait()
    finally:
        deadline = loop.time() + 9.5
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
            # What the engine said while stopping goes out too, within the 10 s.
            await notifier.stop(timeout_s=max(0.1, min(2.0, deadline - loop.time())))
            stop_logging()
    return exits.OK
