"""Watching the ngrok agent: the processes pyngrok launched, their guard, and what they say.

pyngrok's threads call in here (the launch hook, every log line of the agent). A dead
agent is noticed from its process, never by asking pyngrok; a session the agent lost or
regained while it lives on is known only from its own words, and handed to the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvdesk.tunnel.explain import RETRYING, TunnelProblem, agent_problem, tidy
from tvdesk.tunnel.timings import within

if TYPE_CHECKING:
    from pyngrok.conf import PyngrokConfig
    from pyngrok.log import NgrokLog

    from tvdesk.tunnel.agent import AgentGuard

# ngrok's own log messages for a session lost and (re)established.
_SESSION_LOST = frozenset(("session closing", "failed to reconnect session"))
_SESSION_BACK = frozenset(("client session established", "tunnel session started"))


class AgentWatch:
    """The agent processes of one tunnel, across its sessions, and the agent's last words.

    ``hide`` redacts what the agent says; ``lost(why)`` and ``back()`` run on ``loop``
    when the agent's session with ngrok is lost and established again.
    """

    def __init__(
        self,
        hide: Callable[[str], str],
        lost: Callable[[str], None],
        back: Callable[[], None],
    ) -> None:
        self._hide = hide
        self._lost = lost
        self._back = back
        self.loop: asyncio.AbstractEventLoop | None = None  # set when the tunnel starts
        self._procs: list[subprocess.Popen[Any]] = []
        self._accepting_launches = False
        self._guard: AgentGuard | None = None
        self._agent_said: deque[str] = deque(maxlen=20)
        self._agent_error: str | None = None

    @property
    def pids(self) -> list[int]:
        """The agent processes started and not yet reaped (for tests and diagnostics)."""
        return [proc.pid for proc in self._procs if proc.poll() is None]

    @property
    def guard_pid(self) -> int | None:
        return self._guard.pid if self._guard is not None else None

    @property
    def error(self) -> str | None:
        """The agent's last error, redacted (None: it reported none)."""
        return self._agent_error

    def begin(self, binary: Path) -> None:
        """A new agent from ``binary``: its words afresh, its launches guarded."""
        from tvdesk.tunnel import agent

        self._agent_said.clear()
        self._agent_error = None
        if self._guard is None:
            self._guard = agent.AgentGuard()
        self._accepting_launches = True
        agent.set_launch_hook(binary, self.on_launch)

    async def close_guard(self) -> None:
        if self._guard is not None:
            from tvdesk.tunnel import agent

            guard, self._guard = self._guard, None
            await agent.in_thread(guard.close)

    async def end(self, config: PyngrokConfig | None, stop_s: float) -> None:
        """End every agent started (politely, then firmly) and refuse any further launch."""
        self._accepting_launches = False
        procs = list(self._procs)
        if not procs and config is None:
            return
        from tvdesk.tunnel import agent

        ended = agent.in_thread(lambda: agent.end_agents(procs, config, stop_s))
        with contextlib.suppress(Exception, TimeoutError):
            await within(ended, stop_s * 2 + 5)
        for proc in procs:
            if proc.poll() is not None:
                self._procs.remove(proc)
                if self._guard is not None:
                    self._guard.forget(proc.pid)

    # -- what the agent said -----------------------------------------------------------

    def last_words(self, *, any_line: bool = False) -> str:
        said = self._agent_error
        if not said and any_line and self._agent_said:
            said = self._agent_said[-1]
        return f"; it last said: {tidy(said)}" if said else ""

    def start_timeout(self, startup_s: float, domain: str) -> TunnelProblem:
        """Why the agent did not start within ``startup_s``, from what it said meanwhile."""
        seconds = f"{startup_s:g} s"
        if self._agent_error:
            problem = agent_problem(self._agent_error, domain)
            return TunnelProblem(f"no tunnel after {seconds}: {problem.message}", problem.state)
        if not self._agent_said:
            return TunnelProblem(
                f"the ngrok agent did not start within {seconds} and printed nothing; {RETRYING}"
            )
        return TunnelProblem(
            f"the ngrok agent did not finish starting within {seconds}"
            f"{self.last_words(any_line=True)}; "
            f"{RETRYING}"
        )

    # -- callbacks from pyngrok's threads ---------------------------------------------

    def on_launch(self, proc: subprocess.Popen[Any]) -> None:
        self._procs.append(proc)
        if not self._accepting_launches:
            # pyngrok's connect() restarts a dead agent on its own; not after we gave up.
            with contextlib.suppress(OSError):
                proc.kill()
            return
        if self._guard is not None:
            self._guard.watch(proc.pid)

    def on_log(self, entry: NgrokLog) -> None:
        line = self._hide(entry.line)
        self._agent_said.append(line)
        if entry.lvl in ("ERROR", "CRITICAL") and entry.err:
            self._agent_error = self._hide(entry.err)
        elif line.startswith("ERROR:") and self._agent_error is None:
            self._agent_error = line.removeprefix("ERROR:").strip()
        # Once up, the agent process lives on through a lost connection and reconnects
        # by itself: only its own words say that TradingView cannot reach tvdesk meanwhile.
        if entry.msg in _SESSION_LOST and entry.lvl in ("ERROR", "CRITICAL"):
            self._on_loop(self._lost, self._hide(entry.err or entry.msg or ""))
        elif entry.msg in _SESSION_BACK:
            self._on_loop(self._back)

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to tell
                loop.call_soon_threadsafe(callback, *args)


async def wait_exit(
    proc: subprocess.Popen[Any], seconds: float | None, poll_s: float
) -> int | None:
    """The agent's exit code once it exits, or None if it still runs after ``seconds``."""
    loop = asyncio.get_running_loop()
    deadline = None if seconds is None else loop.time() + seconds
    while proc.poll() is None:
        step = poll_s
        if deadline is not None:
            step = min(step, deadline - loop.time())
            if step <= 0:
                return None
        await asyncio.sleep(step)
    return proc.returncode
