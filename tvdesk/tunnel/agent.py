"""The pyngrok glue: the agent's config file, launching and ending it, and its guard.

Written against pyngrok 9 (pinned ``>=9,<10``), which drives the agent's ``/api/endpoints``
API. Three pyngrok habits are worked around here, each for a reason:

* ``PyngrokConfig`` reads ``NGROK_AUTHTOKEN`` from the environment and puts any authtoken
  on the agent's command line (``--authtoken``), visible to every user in ``ps``: the
  token goes in a 0600 config file in tvdesk's own config dir instead (``agent_config``).
* pyngrok lets the agent's stderr through to ours, and the agent prints fatal errors
  there, authtoken included: stderr joins stdout, where pyngrok parses each line and the
  log filter below redacts it.
* pyngrok gives no handle on the agent until it has started, and its start-up timeout is
  only checked between output lines: the launch hook hands the process over at once, so
  a silent agent can be killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from pyngrok import installer, ngrok, process
from pyngrok.conf import PyngrokConfig
from pyngrok.log import NgrokLog

from tvdesk.support.platform import current
from tvdesk.tunnel.explain import redact
from tvdesk.tunnel.guard import GUARD_CODE, GUARD_FLAG

log = logging.getLogger(__name__)

T = TypeVar("T")
LaunchHook = Callable[["subprocess.Popen[Any]"], None]

# -- pyngrok's settings (the agent's own config file: agent_config) --------------------


def make_config(
    ngrok_path: Path,
    config_path: Path,
    on_log: Callable[[NgrokLog], None],
    startup_s: float,
    request_s: float,
) -> PyngrokConfig:
    config = PyngrokConfig(
        ngrok_path=str(ngrok_path),
        config_path=str(config_path),
        monitor_thread=True,  # keeps reading the agent's output, or its pipe fills and it stalls
        log_event_callback=on_log,
        # Ours decides (see the manager); pyngrok's only counts between output lines.
        startup_timeout=round(startup_s) + 5,
        request_timeout=request_s,
        # Ctrl-C in a terminal reaches tvdesk, which ends the agent itself, in order (a
        # POSIX session; pyngrok offers no Windows process group).
        start_new_session="start_new_session" in current().detached(),
    )
    config.auth_token = None  # never on the command line; see the module docstring
    config.api_key = None
    return config


def install_agent(path: Path) -> None:
    """Download the ngrok agent to ``path`` (blocking)."""
    installer._print_progress_enabled = False  # it would write progress bars to our stdout
    installer.install_ngrok(str(path), ngrok_version="3")


def agent_binary_name() -> str:
    return installer.get_ngrok_bin()


# -- launching -------------------------------------------------------------------------

_hooks: dict[str, LaunchHook] = {}
_hooks_lock = threading.Lock()


class _SubprocessForPyngrok:
    """Stands in for the ``subprocess`` module inside ``pyngrok.process``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    def Popen(self, args: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        if kwargs.get("stdout") == subprocess.PIPE:
            kwargs.setdefault("stderr", subprocess.STDOUT)
        kwargs.setdefault("env", child_env())
        proc = subprocess.Popen(args, **kwargs)
        with _hooks_lock:
            hook = _hooks.get(str(args[0]))
        if hook is not None:
            hook(proc)
        return proc


def child_env() -> dict[str, str]:
    """This environment without tvdesk's secrets: the agent and the guard need none."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("TVDESK_")}


def set_launch_hook(ngrok_path: Path, hook: LaunchHook | None) -> None:
    """Call ``hook`` with every agent process pyngrok starts from ``ngrok_path``."""
    if not isinstance(process.subprocess, _SubprocessForPyngrok):
        process.subprocess = _SubprocessForPyngrok()  # type: ignore[assignment]
    with _hooks_lock:
        if hook is None:
            _hooks.pop(str(ngrok_path), None)
        else:
            _hooks[str(ngrok_path)] = hook


def start_agent(config: PyngrokConfig) -> subprocess.Popen[Any]:
    """Start the agent and wait for its session (blocking; pyngrok's own checks)."""
    return process.get_process(config).proc


def open_endpoint(config: PyngrokConfig, port: int, name: str, url: str | None) -> str | None:
    """Ask the running agent for a public endpoint forwarding to ``port`` (blocking).

    Inspection off for this endpoint too (pyngrok turns it off only for TCP and TLS): the
    agent would keep each request, webhook secret included, at its unauthenticated API.
    """
    options: dict[str, Any] = {"inspect": False}
    if url:
        options["url"] = url
    tunnel = ngrok.connect(f"http://127.0.0.1:{port}", name=name, pyngrok_config=config, **options)
    return tunnel.public_url


def end_agents(
    procs: Iterable[subprocess.Popen[Any]], config: PyngrokConfig | None, wait_s: float
) -> None:
    """Stop agents politely (so ngrok frees the domain at once), then firmly (blocking)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(OSError):
                proc.terminate()
    for proc in procs:
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()
    if config is not None:
        ngrok.kill(config)  # forget it in pyngrok's own registry too


# -- blocking calls off the event loop -------------------------------------------------


def in_thread(call: Callable[[], T]) -> asyncio.Future[T]:
    """Run a blocking call in a daemon thread of its own.

    Not the loop's executor: a call stuck on a dead network must neither delay the loop's
    shutdown nor keep the process alive at exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()
    # A future given up on (after a timeout) may still fail later: never "unretrieved".
    future.add_done_callback(lambda f: f.cancelled() or f.exception())

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:
            result, error = None, exc
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="tvdesk-tunnel", daemon=True).start()
    return future


# -- secrets out of pyngrok's log lines ------------------------------------------------


class _Redact(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:
            return True
        clean = redact(text, tuple(self.secrets))
        if clean != text:
            record.msg, record.args = clean, None
        return True


_redact = _Redact()
# A logger's filters see only the records made on that very logger, so each one is named.
for _name in ("pyngrok.process", "pyngrok.process.ngrok", "pyngrok.ngrok", "pyngrok.installer"):
    logging.getLogger(_name).addFilter(_redact)


def hide(secret: str) -> None:
    """Blank ``secret`` out of every pyngrok log line from now on."""
    _redact.secrets.add(secret)


def unhide(secret: str) -> None:
    _redact.secrets.discard(secret)


# -- the guard -------------------------------------------------------------------------


def guard_command() -> list[str]:
    """How to start the guard: this Python with the code, or the frozen app itself."""
    if getattr(sys, "frozen", False):  # its executable is tvdesk, not a Python that runs -c
        return [sys.executable, GUARD_FLAG]
    return [sys.executable, "-I", "-c", GUARD_CODE]


class AgentGuard:
    """Ends the agents if tvdesk dies without ending them itself (kill -9, a crash)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._unavailable = False

    def watch(self, pid: int) -> None:
        self._send(f"{pid}\n")

    def forget(self, pid: int) -> None:
        self._send(f"-{pid}\n")

    def close(self) -> None:
        """Nothing left to guard: the guard exits (blocking, briefly)."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None and not self._unavailable:
                self._proc = self._spawn()
            if self._proc is None or self._proc.stdin is None:
                return
            try:
                self._proc.stdin.write(line.encode())
                self._proc.stdin.flush()
            except OSError:
                log.warning("the tunnel guard process has gone; the agent is not guarded")
                self._proc = None

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        kwargs = current().detached()  # Ctrl-C must not end the guard first
        try:
            return subprocess.Popen(
                guard_command(),
                env=child_env(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **kwargs,
            )
        except OSError as exc:
            self._unavailable = True
            log.warning("could not start the tunnel guard (%s)", exc.strerror or exc)
            return None
