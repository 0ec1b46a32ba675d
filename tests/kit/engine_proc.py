"""Run the real ``tvdesk --headless`` as a subprocess and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tvdesk.core.auth import sign_tvdesk

READY_TIMEOUT_S = 30.0


class EngineProcess:
    """One headless engine on an ephemeral port with its own data dir."""

    def __init__(
        self, data_dir: Path, secret: str, *extra: str, env: dict[str, str] | None = None
    ) -> None:
        self.data_dir = data_dir
        self.secret = secret
        self.extra = extra
        self.env = {**_clean_env(), "TVDESK_WEBHOOK_SECRET": secret, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.port = 0
        self.stderr_path = data_dir.parent / f"{data_dir.name}-stderr.log"
        self.stdout_lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._pump_thread: threading.Thread | None = None

    def start(self, wait: bool = True) -> EngineProcess:
        cmd = [
            sys.executable,
            "-m",
            "tvdesk",
            "--headless",
            "--no-tunnel",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.extra,
        ]
        stderr = open(self.stderr_path, "a", encoding="utf-8")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        stderr.close()
        self._pump_thread = threading.Thread(target=self._pump, daemon=True)
        self._pump_thread.start()
        if wait:
            self.wait_ready()
        return self

    def _pump(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"engine not ready in time; stderr: {self.stderr()}") from None
            if line is None:
                raise AssertionError(f"engine exited before ready; stderr: {self.stderr()}")
            if line.startswith("tvdesk ready on "):
                self.url = line.removeprefix("tvdesk ready on ")
                self.port = int(self.url.rsplit(":", 1)[1])
                return

    def stdout(self) -> str:
        """Everything printed so far; all of it once the process has exited."""
        if self.proc is not None and self.proc.poll() is not None and self._pump_thread:
            self._pump_thread.join(10)
        return "\n".join(self.stdout_lines)

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8")
        except OSError:
            return ""

    def post(
        self, body: bytes | dict[str, Any], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        return post(self.url + "/webhook", data, headers)

    def post_signed(self, alert: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        data = json.dumps(alert).encode()
        sig = sign_tvdesk(self.secret, data, int(time.time()))
        return post(self.url + "/webhook", data, {"X-TVDesk-Signature": sig})

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        return get(self.url + path)

    def engine_info(self) -> dict[str, Any]:
        """The engine's ``engine.json``."""
        return json.loads((self.data_dir / "engine.json").read_text(encoding="utf-8"))

    def send_signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TVDESK_")}
    # A subprocess must never reach the developer's real keyring.
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def post(
    url: str, data: bytes, headers: dict[str, str] | None = None, timeout: float = 10.0
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def get(url: str, timeout: float = 10.0) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tvdesk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**_clean_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def dry_run_alert(client_ref: str, **fields: Any) -> dict[str, Any]:
    """A valid test alert (``test: true``, a dry run) stamped with the current time."""
    return {
        "symbol": "BINANCE:BTCUSDT",
        "side": "buy",
        "qty": "0.001",
        "price": "50000",
        "timestamp": int(time.time()),
        "client_ref": client_ref,
        "test": True,
        **fields,
    }


class Engines:
    """Engines for one test, each on a data dir under ``root``; all killed at the end."""

    def __init__(self, root: Path, secret: str) -> None:
        self.root = root
        self.secret = secret
        self._started: list[EngineProcess] = []

    def start(
        self,
        name: str = "data",
        *extra: str,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> EngineProcess:
        engine = EngineProcess(self.root / name, self.secret, *extra, env=env)
        self._started.append(engine)
        return engine.start(wait=wait)

    def cleanup(self) -> None:
        for engine in self._started:
            engine.cleanup()
