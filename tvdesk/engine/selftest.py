"""``tvdesk --self-test``: proves an installation (or a bundle) works, offline.

First the backends the app needs, each imported and exercised a little: Qt widgets
with the window's own modules and icon (the probe the CLI hands down from
tvdesk.gui.probe: the engine imports no Qt), the keyring backends (discovered, never
read), ccxt's default exchange (instantiated, no network) and pyngrok. Then one signed
alert end to end on the loop the window uses (the probe's qasync loop): ephemeral port,
temporary data dir, paper broker, secret kept in memory. It touches neither the
trader's keyring nor their journal, and nothing leaves loopback.

``tvdesk --self-test --headless`` (a server, a container: no Qt installed) passes no
probe: the same checks less Qt's, the alert on plain asyncio, and Qt never imported.

Prints one line, ``self-test ok (...): tvdesk X.Y.Z, ...`` or ``self-test FAILED:
<what>: <why>; ...``, and returns 0 or 1.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tvdesk import __version__
from tvdesk.support.platform import current

TIMEOUT_S = 20.0
# The keyring backend each OS's trader relies on (by the platform module's name for the
# OS), as keyring's entry point names it.
NATIVE_KEYRING = {"linux": "SecretService", "windows": "Windows", "macos": "macOS"}

T = TypeVar("T")


class SelfTestFailed(Exception):
    pass


class WindowProbe(Protocol):
    """The window's toolkit, proved from above (tvdesk.gui.probe): the engine imports no Qt."""

    def check(self) -> str:
        """Load the window's modules, icon and a widget; say what was proved, or raise."""
        ...

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to its end on the loop the window uses."""
        ...


def run_self_test(window: WindowProbe | None) -> int:
    """Check everything, print one line; ``window=None`` is headless (Qt left alone)."""
    started = time.perf_counter()
    passed: list[str] = [f"tvdesk {__version__}"]
    failures: list[str] = []

    def check(what: str, fn: Callable[[], str]) -> bool:
        try:
            passed.append(fn())
        except Exception as exc:
            failures.append(f"{what}: {_describe(exc)}")
            return False
        return True

    on_window: WindowProbe | None = None  # the alert's loop: plain asyncio unless Qt works
    if window is None:
        passed.append("headless")
    elif check("Qt widgets", window.check):
        on_window = window
    check("keyring", _check_keyring)
    check("pyngrok", _check_pyngrok)
    try:
        passed.extend(_run_on_loop(_async_checks, window=on_window, failures=failures))
    except TimeoutError:
        failures.append(f"the alert: no outcome within {TIMEOUT_S:.0f} s")
    except Exception as exc:
        failures.append(f"the alert: {_describe(exc)}")
    if failures:
        print("self-test FAILED: " + "; ".join(failures), file=sys.stderr, flush=True)
        return 1
    elapsed = (time.perf_counter() - started) * 1000
    print(f"self-test ok ({elapsed:.0f} ms): " + ", ".join(passed), flush=True)
    return 0


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, SelfTestFailed):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- backends ------------------------------------------------------------------


def _check_keyring() -> str:
    from importlib.metadata import entry_points

    import keyring.backend

    registered = {ep.name: ep for ep in entry_points(group="keyring.backends")}
    native = NATIVE_KEYRING.get(current().name)
    if native is not None:
        if native not in registered:
            raise SelfTestFailed(
                f"the {native} backend is not registered (keyring's package metadata is missing)"
            )
        registered[native].load()  # its module and what it imports
    # Discovery as tvdesk does it (its encrypted-file and session stores are chosen by the
    # trader, never detected); probes which backends can work, reads no secret.
    import tvdesk.config.secret_stores  # noqa: F401

    usable = sorted(
        {
            type(backend).__module__.rsplit(".", 1)[-1]
            for backend in keyring.backend.get_all_keyring()
            if backend.priority > 0 and type(backend).__module__ != "keyring.backends.chainer"
        }
    )
    found = ", ".join(sorted(usable)) + " usable" if usable else "none usable here"
    return f"keyring: {len(registered)} backends, {found}"


def _check_pyngrok() -> str:
    for name in ("pyngrok.conf", "pyngrok.installer", "pyngrok.ngrok", "pyngrok.process"):
        importlib.import_module(name)
    from pyngrok import __version__ as pyngrok_version

    return f"pyngrok {pyngrok_version}"


async def _check_ccxt(exchange_id: str) -> str:
    import ssl

    import certifi

    ccxt = importlib.import_module("ccxt.async_support")
    exchange_class = getattr(ccxt, exchange_id, None)
    if exchange_class is None:
        raise SelfTestFailed(f"ccxt has no exchange {exchange_id!r}")
    exchange = exchange_class()  # no network until a call is made
    await exchange.close()
    ssl.create_default_context(cafile=certifi.where())  # the exchanges' TLS roots
    return f"ccxt {ccxt.__version__} {exchange_id}"


# -- on the window's loop ---------------------------------------------------------


def _run_on_loop(
    checks: Callable[[list[str]], Coroutine[Any, Any, list[str]]],
    *,
    window: WindowProbe | None,
    failures: list[str],
) -> list[str]:
    """Run ``checks`` on the window's qasync loop when Qt works (as the window does), else
    (headless, or Qt broken) on plain asyncio."""
    main = asyncio.wait_for(checks(failures), TIMEOUT_S)
    if window is not None:
        return window.run(main)
    return asyncio.run(main)


async def _async_checks(failures: list[str]) -> list[str]:
    from tvdesk.config.schema import Settings

    passed = []
    exchange_id = Settings().exchange.default
    try:
        passed.append(await _check_ccxt(exchange_id))
    except Exception as exc:
        failures.append(f"ccxt ({exchange_id}): {_describe(exc)}")
    passed.append(await _alert_end_to_end())
    return passed


async def _alert_end_to_end() -> str:
    from aiohttp import ClientSession

    from tvdesk.config.keystore import Keystore
    from tvdesk.config.paths import resolve_paths
    from tvdesk.config.schema import Settings
    from tvdesk.core.auth import sign_tvdesk
    from tvdesk.core.events import AlertDecided, Event
    from tvdesk.engine.engine import Engine
    from tvdesk.store.export import records
    from tvdesk.support.bus import EventBus
    from tvdesk.support.clock import SystemClock

    with tempfile.TemporaryDirectory(prefix="tvdesk-selftest-") as tmp:
        paths = resolve_paths(Path(tmp))
        settings = Settings()
        settings = replace(settings, listener=replace(settings.listener, port=0))
        secret = secrets.token_urlsafe(32)
        keystore = Keystore("tvdesk/self-test", env={"TVDESK_WEBHOOK_SECRET": secret})
        bus = EventBus()
        decided: dict[str, AlertDecided] = {}
        arrived = asyncio.Event()

        def on_event(event: Event) -> None:
            if isinstance(event, AlertDecided):
                decided[event.alert_id] = event
                arrived.set()

        bus.subscribe(on_event)
        engine = Engine(settings, keystore, SystemClock(), bus, paths=paths, tunnel_enabled=False)
        await engine.start()
        try:
            now = time.time()
            body = json.dumps(
                {
                    "symbol": "BINANCE:BTCUSDT",
                    "side": "buy",
                    "qty": "0.001",
                    "price": "50000",
                    "timestamp": datetime.fromtimestamp(now, UTC).isoformat(),
                    "client_ref": "self-test",
                    "strategy": "tvdesk self-test",
                }
            ).encode()
            headers = {"X-TVDesk-Signature": sign_tvdesk(secret, body, int(now))}
            async with (
                ClientSession() as session,
                session.post(f"{engine.local_url}/webhook", data=body, headers=headers) as reply,
            ):
                answer = await reply.json()
                if reply.status != 200:
                    raise SelfTestFailed(f"the webhook answered {reply.status}: {answer}")
            alert_id = answer["alert_id"]
            while alert_id not in decided:
                arrived.clear()
                await arrived.wait()
            outcome = decided[alert_id]
            if outcome.outcome != "filled":
                raise SelfTestFailed(f"the alert was {outcome.outcome}: {outcome.reason}")
        finally:
            await engine.stop()
        exported = [r for r in records(paths.journal_file) if r["alert_id"] == alert_id]
        if not exported or not exported[0]["orders"]:
            raise SelfTestFailed("the filled alert is missing from the journal")
    return "one signed alert filled on paper"
