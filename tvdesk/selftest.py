"""``tvdesk --self-test``: one signed alert end to end, in-process, offline.

Ephemeral port, temporary data dir, paper broker, secret kept in memory: it
touches neither the trader's keyring nor their journal, and nothing leaves
loopback.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

TIMEOUT_S = 20.0


class SelfTestFailed(Exception):
    pass


def run_self_test() -> int:
    started = time.perf_counter()
    try:
        asyncio.run(asyncio.wait_for(_self_test(), TIMEOUT_S))
    except SelfTestFailed as exc:
        print(f"self-test FAILED: {exc}", file=sys.stderr)
        return 1
    except TimeoutError:
        print(f"self-test FAILED: no outcome within {TIMEOUT_S:.0f} s", file=sys.stderr)
        return 1
    except Exception as exc:
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"self-test ok ({(time.perf_counter() - started) * 1000:.0f} ms)")
    return 0


async def _self_test() -> None:
    from aiohttp import ClientSession

    from tvdesk.bus import EventBus
    from tvdesk.clock import SystemClock
    from tvdesk.core.auth import sign_tvdesk
    from tvdesk.core.events import AlertDecided, Event
    from tvdesk.engine import Engine
    from tvdesk.export import records
    from tvdesk.keystore import Keystore
    from tvdesk.settings import Settings, resolve_paths

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
