"""``tvdesk send-test``: sign a test alert with the webhook secret and send it.

By default to the running engine (through its tunnel when that is up, as TradingView
would), then read what the worker made of it from the journal. ``--fill`` sends a real
paper alert, and only after the engine itself says it is in paper mode.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tvdesk.cli.common import fail, read_engine_file
from tvdesk.cli.unlock import open_keystore
from tvdesk.support import exits


def cmd_send_test(data_dir: Path | None, args: argparse.Namespace) -> int:
    from tvdesk.config.keystore import WEBHOOK_SECRET, KeystoreError, service_name
    from tvdesk.config.paths import local_url, resolve_paths
    from tvdesk.config.secret_stores import SecretsFileError
    from tvdesk.core.auth import sign_tvdesk

    paths = resolve_paths(data_dir)
    engine_info = read_engine_file(paths.engine_file)
    if args.fill and engine_info.get("mode") == "live":
        return fail("--fill sends a real alert and the engine is LIVE: refused")
    if args.fill and args.price is None:
        return fail(
            "a paper fill needs a price (paper trading fills at the alert's price): "
            "add --price, e.g. --price 50000"
        )
    url = args.url
    public_url = engine_info.get("public_url") if url is None else None
    if url is None:
        if not engine_info:
            return fail(
                f"no tvdesk is running on {paths.data_dir}: start it, or pass --url", exits.FAILED
            )
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
            return fail(refusal)
    try:
        service = service_name(data_dir)
        keystore = open_keystore(service, paths.config_dir, os.environ, needs=[WEBHOOK_SECRET])
        secret = keystore.get(WEBHOOK_SECRET)
    except (KeystoreError, SecretsFileError) as exc:
        return fail(str(exc))
    if not secret:
        return fail(
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
        return fail(f"could not reach {url}: {reason}", exits.FAILED)
    elapsed = (time.perf_counter() - started) * 1000
    print(f"{code} from {url} in {elapsed:.1f} ms")
    if public_url:
        reach = "TradingView can reach you" if code == 200 else "see the reply below"
        print(f"round trip through the ngrok tunnel: {elapsed:.0f} ms ({reach})")
    print(text)
    if code != 200:
        return exits.FAILED
    if engine_info and args.url is None:
        _print_outcome(paths.journal_file, text)
    return exits.OK


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
