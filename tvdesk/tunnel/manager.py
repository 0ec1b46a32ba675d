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
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from tvdesk.config.keystore import Keystore, KeystoreError
from tvdesk.config.paths import Paths
from tvdesk.config.schema import TunnelSettings
from tvdesk.core.clock import Clock
from tvdesk.core.events import Event, TunnelChanged
from tvdesk.tunnel import agent_config, launch
from tvdesk.tunnel.binary import AgentBinary
from tvdesk.tunnel.confirm import confirm
from tvdesk.tunnel.explain import NO_AUTHTOKEN, RETRYING, TunnelProblem, redact
from tvdesk.tunnel.last_url import LastUrl
from tvdesk.tunnel.timings import TunnelTimings
from tvdesk.tunnel.watchdog import AgentWatch, wait_exit

if TYPE_CHECKING:
    from pyngrok.conf import PyngrokConfig

log = logging.getLogger(__name__)

AUTHTOKEN = "ngrok_authtoken"  # the keystore entry; TVDESK_NGROK_AUTHTOKEN overrides it


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
        self.timings = timings or TunnelTimings()
        self._state = "off"
        self._public_url: str | None = None
        self._error: str | None = None
        self._detail: str | None = None
        self._port = 0
        self._task: asyncio.Task[None] | None = None
        self._token: str | None = None
        self._config: PyngrokConfig | None = None
        self._watch = AgentWatch(self._hide, self._session_lost, self._session_back)
        self._binary = AgentBinary(
            settings,
            os.environ if env is None else env,
            paths,
            clock,
            publish,
            hide=self._hide,
            say=self._say,
        )
        self._last_url = LastUrl(paths.data_dir / "tunnel.json", clock, publish)
        self._reached_up = False
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
        return self._watch.pids

    @property
    def guard_pid(self) -> int | None:
        return self._watch.guard_pid

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
        self._watch.loop = asyncio.get_running_loop()  # the agent's log lines come on a thread
        self._lost_url: str | None = None  # the URL while the agent's session is lost
        self._last_url.load()
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
        await self._watch.close_guard()
        if self._token is not None:
            from tvdesk.tunnel import agent

            agent.unhide(self._token)
        # The agent read its authtoken at start: no copy of it outlives the tunnel on disk.
        agent_config.remove_config(self._paths)
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
        binary = await self._binary.locate(self.timings.download_s)
        from tvdesk.tunnel import agent  # pyngrok only now: --no-tunnel never imports it

        agent.hide(token)
        config_path = agent_config.config_path(self._paths)
        agent_config.write_config(config_path, token)
        self._config = agent.make_config(
            binary, config_path, self._watch.on_log, self.timings.startup_s, self.timings.api_s
        )
        self._watch.begin(binary)

        self._say("starting the ngrok agent")
        proc = await launch.start_agent(
            self._config,
            self.timings,
            self._watch,
            hide=self._hide,
            domain=self._domain,
            configured=self._binary.configured,
        )
        self._say("opening the public URL")
        url = await launch.open_endpoint(
            self._config,
            self._port,
            self.timings.api_s,
            self._watch,
            hide=self._hide,
            domain=self._domain(),
        )
        unconfirmed = await confirm(
            url,
            proc,
            self.timings,
            self._watch,
            say=self._say,
            down=lambda error, detail: self._set("down", error=error, detail=detail),
        )
        self._reached_up = True
        self._set("up", url=url, error=unconfirmed)
        self._last_url.note(url, self._domain())
        code = await wait_exit(proc, None, self.timings.poll_s)
        raise TunnelProblem(
            f"the ngrok agent stopped unexpectedly (exit code {code}"
            f"{self._watch.last_words()}): restarting it"
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

    async def _end_agents(self) -> None:
        await self._watch.end(self._config, self.timings.stop_s)

    # -- the agent's session, lost and back (called on the loop by the watch) -------------

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

    def _say(self, detail: str) -> None:
        """What the tunnel is doing now, for ``status()`` (no event: the state is the same)."""
        self._detail = detail

    def _hide(self, text: str) -> str:
        return redact(text, (self._token,) if self._token else ())

    def _domain(self) -> str:
        domain = self._settings().domain.strip()
        return domain.removeprefix("https://").removeprefix("http://").rstrip("/")
