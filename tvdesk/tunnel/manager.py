"""The tunnel manager: one ngrok agent for the tunnel port, watched and restarted.

States: ``off`` (disabled, or waiting for an authtoken), ``starting`` (first attempt),
``up`` (the public URL answered ``GET /health``), ``down`` (retrying with exponential
backoff), ``error`` (waiting for the trader to fix something). Every change goes on the
event stream as ``TunnelChanged``; ``status()`` feeds ``GET /health``.

Every blocking pyngrok call runs in a thread of its own under a timeout of ours, and a
dead agent is noticed from its process, never by asking pyngrok (whose ``connect()`` and
``get_tunnels()`` would quietly start a new agent).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp

from tvdesk.config.keystore import Keystore, KeystoreError
from tvdesk.config.settings import Paths, TunnelSettings
from tvdesk.core.clock import Clock
from tvdesk.core.events import Event, TunnelChanged
from tvdesk.support.atomic import write_atomic
from tvdesk.support.backoff import backoff_delay
from tvdesk.tunnel.events import TunnelAgentDownload, TunnelUrlChanged
from tvdesk.tunnel.explain import (
    NO_AUTHTOKEN,
    RETRYING,
    TunnelProblem,
    agent_problem,
    download_problem,
    redact,
    tidy,
)

if TYPE_CHECKING:
    from pyngrok.conf import PyngrokConfig
    from pyngrok.log import NgrokLog

    from tvdesk.tunnel.agent import AgentGuard

log = logging.getLogger(__name__)
T = TypeVar("T")

AUTHTOKEN = "ngrok_authtoken"  # the keystore entry; TVDESK_NGROK_AUTHTOKEN overrides it
ENDPOINT_NAME = "tvdesk"


@dataclass(frozen=True)
class TunnelTimings:
    """How long to wait for what; tests shrink them instead of sleeping."""

    startup_s: float = 20.0  # agent start until its session is established
    api_s: float = 15.0  # the agent API opening the public endpoint
    download_s: float = 300.0  # fetching the agent on first use
    check_s: float = 10.0  # GET /health through the public URL
    poll_s: float = 0.5  # how often the agent process is looked at
    stop_s: float = 3.0  # polite stop before a kill
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    # Checks of the public URL before tvdesk stops asking: each one counts against the
    # trader's ngrok request quota, and only TradingView's own requests really matter.
    max_checks: int = 8

    def backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.backoff_initial_s, self.backoff_max_s, rand=None)


# ngrok's own log messages for a session lost and (re)established.
_SESSION_LOST = frozenset(("session closing", "failed to reconnect session"))
_SESSION_BACK = frozenset(("client session established", "tunnel session started"))


class TunnelManager:
    def __init__(
        self,
        settings: Callable[[], TunnelSettings],
        keystore: Keystore,
        paths: Paths,
        clock: Clock,
        publish: Callable[[Event], None],
        *,
        env: Mapping[str, str] | None = None,
        timings: TunnelTimings | None = None,
    ) -> None:
        self._settings = settings
        self._keystore = keystore
        self._paths = paths
        self._clock = clock
        self._publish = publish
        self._env = os.environ if env is None else env
        self.timings = timings or TunnelTimings()
        self._state = "off"
        self._public_url: str | None = None
        self._error: str | None = None
        self._detail: str | None = None
        self._port = 0
        self._task: asyncio.Task[None] | None = None
        self._token: str | None = None
        self._config: PyngrokConfig | None = None
        self._procs: list[subprocess.Popen[Any]] = []
        self._accepting_launches = False
        self._guard: AgentGuard | None = None
        self._download: asyncio.Future[None] | None = None
        self._agent_said: deque[str] = deque(maxlen=20)
        self._agent_error: str | None = None
        self._reached_up = False
        self._last_url: str | None = None
        self._stopping = False

    # -- what the engine and the window see -------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def public_url(self) -> str | None:
        return self._public_url

    @property
    def error(self) -> str | None:
        return self._error

    def status(self) -> dict[str, Any]:
        return {
            "state": self._state,
            "public_url": self._public_url,
            "error": self._error,
            "detail": self._detail,
        }

    @property
    def agent_pids(self) -> list[int]:
        """The agent processes started and not yet reaped (for tests and diagnostics)."""
        return [proc.pid for proc in self._procs if proc.poll() is None]

    @property
    def guard_pid(self) -> int | None:
        return self._guard.pid if self._guard is not None else None

    @property
    def running(self) -> bool:
        """Trying or watching; False once stopped or waiting for the trader (off, error)."""
        return self._task is not None and not self._task.done()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, port: int) -> None:
        """Bring the tunnel to ``port`` up in the background; returns at once."""
        if self._task is not None:
            return
        self._port = port
        self._stopping = False
        self._loop = asyncio.get_running_loop()  # the agent's log lines come on a thread
        self._lost_url: str | None = None  # the URL while the agent's session is lost
        self._last_url = self._read_last_url()
        self._set("starting", detail="starting the tunnel")
        self._task = asyncio.create_task(self._run(), name="tvdesk-tunnel")

    async def stop(self) -> None:
        """End the agent (it never outlives tvdesk) and report ``off``."""
        task, self._task = self._task, None
        self._stopping = True
        while task is not None and not task.done():
            task.cancel()
            # Waited for, not awaited: a cancel that lands as a step finishes can be lost.
            await asyncio.wait({task}, timeout=0.1)
        await self._end_agents()
        if self._guard is not None or self._token is not None:
            from tvdesk.tunnel import agent

            if self._guard is not None:
                guard, self._guard = self._guard, None
                await agent.in_thread(guard.close)
            if self._token is not None:
                agent.unhide(self._token)
        # The agent read its authtoken at start: no copy of it outlives the tunnel on disk.
        (self._paths.config_dir / "ngrok" / "ngrok.yml").unlink(missing_ok=True)
        self._set("off")

    async def restart(self) -> None:
        """Start over with the current settings and authtoken (after the trader fixed one)."""
        await self.stop()
        await self.start(self._port)

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            self._reached_up = False
            try:
                await self._session()
                raise AssertionError("a tunnel session ends only by a problem")
            except TunnelProblem as exc:
                problem = exc
            except Exception as exc:  # unforeseen: keep the engine running and say so
                problem = TunnelProblem(
                    f"the tunnel failed unexpectedly ({type(exc).__name__}: "
                    f"{self._hide(str(exc))}); {RETRYING}"
                )
                log.error("tunnel: %s", problem.message)
            await self._end_agents()
            if problem.final:
                self._set(problem.state, error=problem.message)
                return
            if self._reached_up:
                attempt = 0
            delay = self.timings.backoff(attempt)
            attempt += 1
            self._set("down", error=problem.message, detail=f"next try in {delay:g} s")
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """One agent's life: start it, open the endpoint, confirm, then watch it."""
        self._lost_url = None  # a new agent: its session, its URL
        token = self._token = self._authtoken()
        binary = await self._agent_binary()
        from tvdesk.tunnel import agent  # pyngrok only now: --no-tunnel never imports it

        agent.hide(token)
        config_path = self._paths.config_dir / "ngrok" / "ngrok.yml"
        agent.write_config(config_path, token)
        self._agent_said.clear()
        self._agent_error = None
        self._config = agent.make_config(
            binary, config_path, self._on_agent_log, self.timings.startup_s, self.timings.api_s
        )
        if self._guard is None:
            self._guard = agent.AgentGuard()
        self._accepting_launches = True
        agent.set_launch_hook(binary, self._on_launch)

        proc = await self._start_agent(self._config)
        url = await self._open_endpoint(self._config)
        unconfirmed = await self._confirm(url, proc)
        self._reached_up = True
        self._set("up", url=url, error=unconfirmed)
        self._note_url(url)
        code = await self._wait_exit(proc, None)
        raise TunnelProblem(
            f"the ngrok agent stopped unexpectedly (exit code {code}{self._last_words()}): "
            "restarting it"
        )

    # -- steps -------------------------------------------------------------------------

    def _authtoken(self) -> str:
        try:
            token = self._keystore.get(AUTHTOKEN)
        except KeystoreError as exc:
            raise TunnelProblem(str(exc), "error") from None
        if not token:
            raise TunnelProblem(NO_AUTHTOKEN, "off")
        return token

    def _configured_agent(self) -> str:
        """The trader's own ngrok (TVDESK_NGROK_PATH or [tunnel] ngrok_path), if any."""
        return self._env.get("TVDESK_NGROK_PATH") or self._settings().ngrok_path

    async def _agent_binary(self) -> Path:
        configured = self._configured_agent()
        if configured:
            path = Path(configured).expanduser()
            where = "[tunnel] ngrok_path or TVDESK_NGROK_PATH"
            if not path.is_file():
                raise TunnelProblem(
                    f"there is no ngrok agent at {path} ({where}): correct the path, or clear "
                    "it and tvdesk downloads ngrok itself",
                    "error",
                )
            if not os.access(path, os.X_OK):
                raise TunnelProblem(
                    f"the ngrok agent at {path} is not executable ({where}): allow it to run "
                    "(chmod +x), or point the setting at another one",
                    "error",
                )
            return path
        from tvdesk.tunnel import agent

        path = self._paths.data_dir / "ngrok" / agent.agent_binary_name()
        if not path.is_file():
            await self._download_agent(path)
        return path

    async def _download_agent(self, path: Path) -> None:
        from tvdesk.tunnel import agent

        started = time.monotonic()
        self._detail = "downloading the ngrok agent (first use)"
        message = f"downloading the ngrok agent (first use, about 10 MB) to {path}"
        log.info("tunnel: %s", message)
        self._publish(TunnelAgentDownload(self._clock.time(), "started", 0.0, message))
        # One download at a time: a retry waits for one that is still under way.
        if self._download is None or self._download.done():
            self._download = agent.in_thread(lambda: agent.install_agent(path))
        try:
            await _within(self._download, self.timings.download_s)
        except TimeoutError:
            problem = download_problem("", self.timings.download_s, timed_out=True)
        except Exception as exc:
            problem = download_problem(self._hide(str(exc)), 0, timed_out=False)
        else:
            seconds = time.monotonic() - started
            if path.is_file():
                done = f"downloaded the ngrok agent in {seconds:.1f} s"
                log.info("tunnel: %s", done)
                self._publish(TunnelAgentDownload(self._clock.time(), "finished", seconds, done))
                return
            problem = download_problem(f"the download held no {path.name}", 0, timed_out=False)
        seconds = time.monotonic() - started
        log.warning("tunnel: %s", problem.message)
        self._publish(TunnelAgentDownload(self._clock.time(), "failed", seconds, problem.message))
        raise problem

    async def _start_agent(self, config: PyngrokConfig) -> subprocess.Popen[Any]:
        from pyngrok.exception import PyngrokError, PyngrokNgrokError

        from tvdesk.tunnel import agent

        self._detail = "starting the ngrok agent"
        started = agent.in_thread(lambda: agent.start_agent(config))
        try:
            return await _within(started, self.timings.startup_s)
        except TimeoutError:
            # pyngrok is stuck reading an agent that says nothing: ending it unblocks pyngrok.
            await self._end_agents()
            with contextlib.suppress(Exception, TimeoutError):
                await _within(started, self.timings.stop_s + 2)
            raise self._start_timeout() from None
        except PyngrokNgrokError as exc:
            said = exc.ngrok_error or self._agent_error or str(exc)
            raise agent_problem(self._hide(said), self._domain()) from None
        except PyngrokError as exc:
            raise agent_problem(self._hide(str(exc)), self._domain()) from None
        except OSError as exc:
            why = exc.strerror or str(exc)
            if not self._configured_agent():
                # tvdesk's own download, broken (cut short, say): fetch it again next try.
                Path(config.ngrok_path).unlink(missing_ok=True)
                raise TunnelProblem(
                    f"the downloaded ngrok agent would not run ({why}): downloading it again; "
                    f"{RETRYING}"
                ) from None
            raise TunnelProblem(
                f"cannot run the ngrok agent at {config.ngrok_path} ({why}): is it an ngrok "
                "for this computer? Point [tunnel] ngrok_path at another one, or clear it and "
                "tvdesk downloads ngrok itself",
                "error",
            ) from None

    def _start_timeout(self) -> TunnelProblem:
        seconds = f"{self.timings.startup_s:g} s"
        if self._agent_error:
            problem = agent_problem(self._agent_error, self._domain())
            return TunnelProblem(f"no tunnel after {seconds}: {problem.message}", problem.state)
        if not self._agent_said:
            return TunnelProblem(
                f"the ngrok agent did not start within {seconds} and printed nothing; {RETRYING}"
            )
        return TunnelProblem(
            f"the ngrok agent did not finish starting within {seconds}"
            f"{self._last_words(any_line=True)}; "
            f"{RETRYING}"
        )

    async def _open_endpoint(self, config: PyngrokConfig) -> str:
        from pyngrok.exception import PyngrokError, PyngrokNgrokHTTPError

        from tvdesk.tunnel import agent

        domain = self._domain()
        self._detail = "opening the public URL"
        url = f"https://{domain}" if domain else None
        opened = agent.in_thread(
            lambda: agent.open_endpoint(config, self._port, ENDPOINT_NAME, url)
        )
        try:
            public_url = await _within(opened, self.timings.api_s)
        except TimeoutError:
            raise TunnelProblem(
                f"the ngrok agent did not open the public URL within {self.timings.api_s:g} s"
                f"{self._last_words()}; {RETRYING}"
            ) from None
        except PyngrokNgrokHTTPError as exc:
            raise agent_problem(self._hide(exc.body or str(exc)), domain) from None
        except PyngrokError as exc:
            said = getattr(exc, "ngrok_error", None) or str(exc)
            raise agent_problem(self._hide(said), domain) from None
        if not public_url:
            raise TunnelProblem(f"the ngrok agent gave no public URL; {RETRYING}")
        return public_url.rstrip("/")

    async def _confirm(self, url: str, proc: subprocess.Popen[Any]) -> str | None:
        """GET /health once through the public URL; again, backing off, only if that failed.

        Never polled once it worked: ngrok's free plan counts every request. After
        ``max_checks`` failures it stops asking and says so (None: confirmed).
        """
        for checks in range(1, self.timings.max_checks + 1):
            delay = self.timings.backoff(checks - 1)
            self._detail = f"checking {url}/health"
            problem = await self._check(url)
            if problem is None:
                return None
            if checks == self.timings.max_checks:
                return (
                    f"{problem}. Checked {checks} times; not checking again, to spare your "
                    "ngrok request quota: send a test alert to try the URL, or restart tvdesk"
                )
            self._set("down", error=problem, detail=f"checking again in {delay:g} s")
            if await self._wait_exit(proc, delay) is not None:
                raise TunnelProblem(
                    f"the ngrok agent stopped unexpectedly (exit code {proc.returncode}"
                    f"{self._last_words()}): restarting it"
                )

    async def _check(self, url: str) -> str | None:
        reason = ""
        try:
            timeout = aiohttp.ClientTimeout(total=self.timings.check_s)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{url}/health", headers={"ngrok-skip-browser-warning": "1"}) as r,
            ):
                body = await r.json(content_type=None) if r.status == 200 else None
                if isinstance(body, dict) and body.get("status") == "ok":
                    return None
                reason = f"HTTP {r.status}"
        except TimeoutError:
            reason = f"no answer within {self.timings.check_s:g} s"
        except (aiohttp.ClientError, ValueError) as exc:
            reason = tidy(str(exc)) or type(exc).__name__
        return (
            f"the tunnel is open, but tvdesk could not reach itself through {url}/health "
            f"({reason}), so TradingView cannot either; {RETRYING}"
        )

    async def _wait_exit(self, proc: subprocess.Popen[Any], seconds: float | None) -> int | None:
        """The agent's exit code once it exits, or None if it still runs after ``seconds``."""
        loop = asyncio.get_running_loop()
        deadline = None if seconds is None else loop.time() + seconds
        while proc.poll() is None:
            step = self.timings.poll_s
            if deadline is not None:
                step = min(step, deadline - loop.time())
                if step <= 0:
                    return None
            await asyncio.sleep(step)
        return proc.returncode

    async def _end_agents(self) -> None:
        self._accepting_launches = False
        procs = list(self._procs)
        if not procs and self._config is None:
            return
        from tvdesk.tunnel import agent

        ended = agent.in_thread(lambda: agent.end_agents(procs, self._config, self.timings.stop_s))
        with contextlib.suppress(Exception, TimeoutError):
            await _within(ended, self.timings.stop_s * 2 + 5)
        for proc in procs:
            if proc.poll() is not None:
                self._procs.remove(proc)
                if self._guard is not None:
                    self._guard.forget(proc.pid)

    # -- callbacks from pyngrok's threads ---------------------------------------------

    def _on_launch(self, proc: subprocess.Popen[Any]) -> None:
        self._procs.append(proc)
        if not self._accepting_launches:
            # pyngrok's connect() restarts a dead agent on its own; not after we gave up.
            with contextlib.suppress(OSError):
                proc.kill()
            return
        if self._guard is not None:
            self._guard.watch(proc.pid)

    def _on_agent_log(self, entry: NgrokLog) -> None:
        line = self._hide(entry.line)
        self._agent_said.append(line)
        if entry.lvl in ("ERROR", "CRITICAL") and entry.err:
            self._agent_error = self._hide(entry.err)
        elif line.startswith("ERROR:") and self._agent_error is None:
            self._agent_error = line.removeprefix("ERROR:").strip()
        # Once up, the agent process lives on through a lost connection and reconnects
        # by itself: only its own words say that TradingView cannot reach tvdesk meanwhile.
        if entry.msg in _SESSION_LOST and entry.lvl in ("ERROR", "CRITICAL"):
            self._on_loop(self._session_lost, self._hide(entry.err or entry.msg or ""))
        elif entry.msg in _SESSION_BACK:
            self._on_loop(self._session_back)

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = getattr(self, "_loop", None)
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(callback, *args)

    def _session_lost(self, why: str) -> None:
        if self._state != "up" or self._public_url is None:
            return
        self._lost_url = self._public_url
        self._set(
            "down",
            error=(
                f"the ngrok agent lost its connection to ngrok ({why.strip(chr(34))}): "
                "TradingView cannot reach tvdesk until it reconnects, which it does by itself"
            ),
            detail="the ngrok agent is reconnecting",
        )

    def _session_back(self) -> None:
        url, self._lost_url = self._lost_url, None
        if url is not None and self._state == "down":
            self._set("up", url=url)

    # -- helpers -----------------------------------------------------------------------

    def _set(
        self,
        state: str,
        *,
        url: str | None = None,
        error: str | None = None,
        detail: str | None = None,
    ) -> None:
        self._detail = detail
        if (state, url, error) == (self._state, self._public_url, self._error):
            return
        self._state, self._public_url, self._error = state, url, error
        self._publish(TunnelChanged(self._clock.time(), state, url, error))

    def _hide(self, text: str) -> str:
        return redact(text, (self._token,) if self._token else ())

    def _domain(self) -> str:
        domain = self._settings().domain.strip()
        return domain.removeprefix("https://").removeprefix("http://").rstrip("/")

    def _last_words(self, *, any_line: bool = False) -> str:
        said = self._agent_error
        if not said and any_line and self._agent_said:
            said = self._agent_said[-1]
        return f"; it last said: {tidy(said)}" if said else ""

    @property
    def _url_file(self) -> Path:
        return self._paths.data_dir / "tunnel.json"

    def _read_last_url(self) -> str | None:
        try:
            return json.loads(self._url_file.read_text(encoding="utf-8")).get("public_url")
        except (OSError, ValueError, AttributeError):
            return None

    def _note_url(self, url: str) -> None:
        """Say loudly when the URL is not the one TradingView was given last time."""
        previous, self._last_url = self._last_url, url
        if previous and previous != url:
            fix = ""
            if not self._domain():
                fix = "; set [tunnel] domain to your free ngrok domain so it stays the same"
            message = (
                f"the public webhook URL changed from {previous} to {url}: edit every "
                f"TradingView alert to send to {url}/webhook{fix}"
            )
            log.warning("tunnel: %s", message)
            self._publish(TunnelUrlChanged(self._clock.time(), previous, url, message))
        try:
            write_atomic(self._url_file, json.dumps({"public_url": url}))
        except OSError as exc:
            log.warning("tunnel: cannot remember the public URL (%s)", exc.strerror or exc)


async def _within(future: asyncio.Future[T], seconds: float) -> T:
    """Wait for a blocking call's future, at most ``seconds``; the call itself goes on.

    asyncio.timeout rather than wait_for: on 3.11, wait_for can swallow a cancellation
    that arrives just as the future completes, and stop() would wait forever.
    """
    async with asyncio.timeout(seconds):
        return await asyncio.shield(future)
