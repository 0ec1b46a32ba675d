"""`tvdesk --headless` as a real process: the command-line contract of DESIGN.md."""

from __future__ import annotations

import http.client
import json
import re
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

import tvdesk
from tests.kit.engine_proc import Engines, dry_run_alert, get, run_cli
from tvdesk.core.auth import sign_tvdesk
from tvdesk.door.control import call as control_call
from tvdesk.door.control import control_headers, signed_message

# Shaped like the secrets tvdesk makes itself (43 characters).
SECRET = secrets.token_urlsafe(32)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[Engines]:
    started = Engines(tmp_path, SECRET)
    yield started
    started.cleanup()


def headless_args(data_dir: Path, *extra: str) -> list[str]:
    return ["--headless", "--no-tunnel", "--port", "0", "--data-dir", str(data_dir), *extra]


def assert_clean_failure(result: subprocess.CompletedProcess[str]) -> None:
    """A refusal a trader can read: non-zero, said on stderr, no traceback, never ready."""
    assert result.returncode != 0, result.stdout + result.stderr
    assert result.stderr.strip()
    assert "Traceback" not in result.stderr + result.stdout
    assert "tvdesk ready on" not in result.stdout


def export_records(data_dir: Path) -> list[dict[str, Any]]:
    result = run_cli("export", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


# -- ready ---------------------------------------------------------------------


def test_ready_line_engine_file_and_health(engines: Engines):
    engine = engines.start()

    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", engine.url)
    info = engine.engine_info()
    assert info["pid"] == engine.proc.pid
    assert info["port"] == engine.port
    assert info["version"] == tvdesk.__version__
    ports = (engine.port, info["control_port"])
    assert all(isinstance(p, int) and p > 0 for p in ports)
    assert len(set(ports)) == 2
    # --no-tunnel: no tunnel listener (the one that believes X-Forwarded-For) at all.
    assert info["tunnel_port"] is None

    code, health = engine.get("/health")
    assert code == 200
    assert health["status"] == "ok"
    assert (health["mode"], health["version"]) == ("paper", tvdesk.__version__)
    assert health["tunnel"]["state"] == "off"
    # The control port answers only to requests signed with the webhook secret, now, for
    # that very request: not a webhook's signature, nor another control request's.
    base = f"http://127.0.0.1:{info['control_port']}"
    code, reply = get(f"{base}/status")
    assert (code, reply["error"]) == (401, "unauthorized")
    now = time.time()
    alert = json.dumps(dry_run_alert("replayed")).encode()
    nonce = "headless-test-nonce-1"
    status_message = signed_message("GET", "/status", nonce, b"")
    refused_signatures = [
        ("GET", "/status", b"", sign_tvdesk("not-the-secret", status_message, int(now))),
        ("GET", "/status", b"", sign_tvdesk(SECRET, status_message, int(now) - 600)),
        ("POST", "/flatten", alert, sign_tvdesk(SECRET, alert, int(now))),  # a webhook's
        ("POST", "/kill", b"", sign_tvdesk(SECRET, status_message, int(now))),  # another's
    ]
    for method, path, body, signature in refused_signatures:
        request = urllib.request.Request(
            base + path, data=body or None, method=method,
            headers={"X-TVDesk-Signature": signature, "X-TVDesk-Nonce": nonce},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401, (method, path)
    status = control_call(info["control_port"], SECRET, "GET", "/status")
    assert (status["mode"], status["kill_switch"]) == ("paper", False)
    # Each signed control request is taken once: sent again as it was, it is refused.
    once = urllib.request.Request(
        base + "/status", headers=control_headers(SECRET, "GET", "/status", b"", int(time.time()))
    )
    with urllib.request.urlopen(once, timeout=10) as answered:
        assert answered.status == 200
    with pytest.raises(urllib.error.HTTPError) as replayed:
        urllib.request.urlopen(once, timeout=10)
    assert replayed.value.code == 401
    assert "already used" in json.loads(replayed.value.read())["message"]


def test_an_ipv6_host_gives_a_usable_ready_url_and_send_test_reaches_it(engines: Engines):
    engine = engines.start("data", "--host", "::1")

    assert re.fullmatch(r"http://\[::1\]:\d+", engine.url)
    code, health = get(f"{engine.url}/health")
    assert (code, health["status"]) == (200, "ok")
    sent = run_cli(
        "send-test", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(f"200 from {engine.url}/webhook in ")


# -- shutdown ------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_cleanly(engines: Engines, sig: signal.Signals):
    engine = engines.start()
    code, reply = engine.post_signed(dry_run_alert("before-stop"))
    assert code == 200

    engine.send_signal(sig)

    assert engine.wait_exit(10) == 0
    assert not (engine.data_dir / "engine.json").exists()
    wal = engine.data_dir / "journal.sqlite3-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "journal not checkpointed at close"
    assert "Traceback" not in engine.stderr()
    # The journal is closed and whole: the acknowledged alert is in it.
    with closing(sqlite3.connect(engine.data_dir / "journal.sqlite3")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert [r["alert_id"] for r in export_records(engine.data_dir)] == [reply["alert_id"]]


# -- one engine per data dir ---------------------------------------------------


def test_second_engine_on_the_same_data_dir_is_refused(engines: Engines):
    first = engines.start()
    data_dir = first.data_dir

    second = run_cli(*headless_args(data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}, timeout=15)

    assert_clean_failure(second)
    assert f"pid {first.proc.pid}" in second.stderr
    assert str(data_dir.resolve()) in second.stderr
    # The first one is untouched and keeps serving.
    assert first.proc.poll() is None
    assert first.engine_info()["pid"] == first.proc.pid
    assert first.get("/health")[0] == 200
    assert first.post_signed(dry_run_alert("while-refused"))[0] == 200

    assert first.terminate() == 0
    third = engines.start()
    assert third.engine_info()["pid"] == third.proc.pid
    assert third.get("/health")[0] == 200


# -- kill -9 in the middle of a burst --------------------------------------------


BURST = 300
KILL_AFTER = 100


def test_kill_9_mid_burst_keeps_every_acknowledged_alert(engines: Engines):
    engine = engines.start()
    alerts = [dry_run_alert(f"burst-{i:03d}") for i in range(BURST)]
    acknowledged: dict[str, str] = {}  # client_ref -> alert_id
    lock = threading.Lock()
    enough = threading.Event()

    def send(alert: dict[str, Any]) -> None:
        try:
            code, reply = engine.post_signed(alert)
        except (OSError, http.client.HTTPException, ValueError):
            return  # the engine died before it answered: not acknowledged
        if code == 200:
            with lock:
                acknowledged[alert["client_ref"]] = reply["alert_id"]
                if len(acknowledged) >= KILL_AFTER:
                    enough.set()

    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(send, alert) for alert in alerts]
        assert enough.wait(30), f"only {len(acknowledged)} replies; stderr: {engine.stderr()}"
        engine.kill()
        for future in futures:
            future.result()

    assert KILL_AFTER <= len(acknowledged) < BURST, "the kill did not land mid-burst"
    # The dead engine's stale engine.json must not make send-test hang or crash.
    stale = run_cli(
        "send-test", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )
    assert_clean_failure(stale)

    restarted = engines.start()
    records = export_records(restarted.data_dir)
    accepted = [r for r in records if r["status"] == "accepted"]
    by_ref = {r["client_ref"]: r for r in accepted}
    for ref, alert_id in acknowledged.items():
        assert ref in by_ref, f"acknowledged alert {ref} ({alert_id}) was lost"
        assert by_ref[ref]["alert_id"] == alert_id
    assert len(accepted) >= len(acknowledged)
    twice = [ref for ref, n in Counter(r["client_ref"] for r in accepted).items() if n > 1]
    assert twice == []

    resend = {a["client_ref"]: a for a in alerts if a["client_ref"] in acknowledged}
    with ThreadPoolExecutor(max_workers=16) as pool:
        replies = dict(zip(resend, pool.map(restarted.post_signed, resend.values()), strict=True))
    for ref, (code, reply) in replies.items():
        assert code == 409, (ref, reply)
        assert reply["error"] == "duplicate"
        assert reply["alert_id"] == acknowledged[ref]
        assert acknowledged[ref] in reply["message"]


# -- secrets -------------------------------------------------------------------


# Any 12 characters in a row of the secret count as a leak: a message that echoes a
# truncated value must not give most of the secret away either.
FRAGMENTS = [SECRET[i : i + 12] for i in range(len(SECRET) - 11)]


def leaked_in(text: str) -> list[str]:
    return [fragment for fragment in FRAGMENTS if fragment in text]


def files_holding_secret(data_dir: Path) -> tuple[list[str], list[str]]:
    """(every file under data_dir, those whose bytes hold a piece of the secret)."""
    files = sorted(p for p in data_dir.rglob("*") if p.is_file())
    names = [str(p.relative_to(data_dir)) for p in files]
    leaks = [
        name
        for name, path in zip(names, files, strict=True)
        if leaked_in(path.read_bytes().decode("latin-1"))
    ]
    return names, leaks


def test_webhook_secret_is_never_written_or_printed(engines: Engines):
    engine = engines.start()
    pasted = dry_run_alert("pasted", secret=SECRET, comment=f"my secret is {SECRET}")
    requests: list[tuple[int, dict[str, Any] | bytes, dict[str, str]]] = [
        (200, pasted, {}),
        (409, pasted, {}),
        (401, dry_run_alert("wrong", secret=secrets.token_urlsafe(32)), {}),
        (401, dry_run_alert("wrong-sig"), {"X-Signature": "0" * 64}),
        (422, dry_run_alert("bad-qty", secret=SECRET, qty=SECRET), {}),
        (422, dry_run_alert("bad-side", token=SECRET, side="hold"), {}),
        (422, dry_run_alert("creds", passphrase=SECRET, apiKey="k", apiSecret="s"), {}),
        (422, dry_run_alert("{{timenow}}-" + SECRET, secret=SECRET), {}),
        (400, b'{"secret": "%s", "qty": {{strategy.order.contracts}}}' % SECRET.encode(), {}),
    ]
    found: list[str] = []  # every place a piece of the secret turned up
    for expected, body, headers in requests:
        code, reply = engine.post(body, headers)
        assert code == expected, (body, reply)
        if leaked_in(json.dumps(reply)):
            found.append(f"{code} reply: {reply}")
    # A secret pasted into a client_ref template: scrubbed like any other text.
    signed = json.dumps(dry_run_alert(f"{time.time_ns()}-{SECRET}", comment=SECRET)).encode()
    signature = sign_tvdesk(SECRET, signed, int(time.time()))
    assert engine.post(signed, {"X-TVDesk-Signature": signature})[0] == 200
    sent = run_cli(
        "send-test", "--data-dir", str(engine.data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}
    )
    assert sent.returncode == 0, sent.stderr

    names, leaks = files_holding_secret(engine.data_dir)
    assert "journal.sqlite3-wal" in names
    found += [f"{name} while running" for name in leaks]

    assert engine.terminate() == 0
    names, leaks = files_holding_secret(engine.data_dir)
    assert "journal.sqlite3" in names and "logs/tvdesk.log" in names
    found += [f"{name} after stop" for name in leaks]
    outputs = {
        "engine stdout": engine.stdout(),
        "engine stderr": engine.stderr(),
        "send-test stdout": sent.stdout,
        "send-test stderr": sent.stderr,
    }
    found += [where for where, text in outputs.items() if leaked_in(text)]
    assert not found, "the secret leaked into:\n" + "\n".join(found)


# -- what headless mode must not import ----------------------------------------


def import_trap(root: Path, *modules: str) -> Path:
    """A PYTHONPATH dir whose ``modules`` leave a marker file and raise when imported."""
    trap = root / "import-trap"
    for name in modules:
        target = trap / name / "__init__.py"
        target.parent.mkdir(parents=True)
        marker = root / f"imported-{name}"
        target.write_text(
            f"open({str(marker)!r}, 'w').close()\n"
            f"raise ImportError('{name} imported in headless mode')\n",
            encoding="utf-8",
        )
    # The trap itself must work, or the tests below would pass for nothing.
    probe = subprocess.run(
        [sys.executable, "-c", f"import {modules[0]}"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(trap)},
        timeout=30,
    )
    assert f"{modules[0]} imported in headless mode" in probe.stderr
    (root / f"imported-{modules[0]}").unlink()
    return trap


def imported(root: Path) -> list[str]:
    return sorted(p.name.removeprefix("imported-") for p in root.glob("imported-*"))


def test_headless_never_imports_qt(engines: Engines, tmp_path: Path):
    trap = import_trap(tmp_path, "PySide6", "shiboken6", "qasync")
    engine = engines.start(env={"PYTHONPATH": str(trap)})

    assert engine.get("/health")[0] == 200
    assert engine.post_signed(dry_run_alert("no-qt"))[0] == 200
    assert engine.terminate() == 0
    assert imported(tmp_path) == []
    assert "imported in headless mode" not in engine.stderr()


def test_headless_start_does_not_import_ccxt(engines: Engines, tmp_path: Path):
    trap = import_trap(tmp_path, "ccxt")
    engine = engines.start(env={"PYTHONPATH": str(trap)})

    assert engine.get("/health")[0] == 200
    assert imported(tmp_path) == []
    assert engine.terminate() == 0


# -- refusing to start -----------------------------------------------------------


def test_bad_settings_name_the_key_and_line(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    text = '# mine\n[risk]\nmax_notional = "lots"\n'
    (data_dir / "settings.toml").write_text(text, encoding="utf-8")

    result = run_cli(*headless_args(data_dir), env={"TVDESK_WEBHOOK_SECRET": SECRET}, timeout=15)

    assert_clean_failure(result)
    assert "risk.max_notional" in result.stderr
    assert "line 3" in result.stderr
    assert (data_dir / "settings.toml").read_text(encoding="utf-8") == text
    assert not (data_dir / "engine.json").exists()


def test_no_keyring_and_no_secret_variable(tmp_path: Path):
    data_dir = tmp_path / "data"

    # run_cli's environment has no TVDESK_* variables and a keyring backend that fails.
    result = run_cli(*headless_args(data_dir), timeout=15)

    assert_clean_failure(result)
    assert "keyring" in result.stderr.lower()
    assert "TVDESK_WEBHOOK_SECRET" in result.stderr
    assert not (data_dir / "engine.json").exists()
    # A made-up secret must not have been parked anywhere in plaintext instead.
    token = re.compile(rb"(?<![\w-])[\w-]{43}(?![\w-])")  # what secrets.token_urlsafe(32) makes
    for path in (p for p in data_dir.rglob("*") if p.is_file()):
        assert token.findall(path.read_bytes()) == [], path
    assert not token.findall((result.stdout + result.stderr).encode())


def test_port_in_use_is_named(engines: Engines, tmp_path: Path):
    data_dir = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        result = run_cli(
            *headless_args(data_dir, "--port", str(port)),
            env={"TVDESK_WEBHOOK_SECRET": SECRET},
            timeout=15,
        )

    assert_clean_failure(result)
    assert f":{port}" in result.stderr
    assert "--port" in result.stderr
    assert not (data_dir / "engine.json").exists()
    # The failed start let go of the data dir.
    assert engines.start("data").get("/health")[0] == 200
