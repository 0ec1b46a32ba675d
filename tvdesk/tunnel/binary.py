"""Where the ngrok agent comes from: the trader's own (a setting), or downloaded on first use."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tvdesk.config.paths import Paths
from tvdesk.config.schema import TunnelSettings
from tvdesk.core.clock import Clock
from tvdesk.core.events import Event
from tvdesk.tunnel.events import TunnelAgentDownload
from tvdesk.tunnel.explain import TunnelProblem, download_problem
from tvdesk.tunnel.timings import within

log = logging.getLogger(__name__)


class AgentBinary:
    """Finds the agent to run; downloads it (one download at a time) when there is none.

    ``hide`` redacts error text; ``say`` tells what the tunnel is doing (for its status).
    """

    def __init__(
        self,
        settings: Callable[[], TunnelSettings],
        env: Mapping[str, str],
        paths: Paths,
        clock: Clock,
        publish: Callable[[Event], None],
        *,
        hide: Callable[[str], str],
        say: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._env = env
        self._paths = paths
        self._clock = clock
        self._publish = publish
        self._hide = hide
        self._say = say
        self._download: asyncio.Future[None] | None = None

    def configured(self) -> str:
        """The trader's own ngrok (TVDESK_NGROK_PATH or [tunnel] ngrok_path), if any."""
        return self._env.get("TVDESK_NGROK_PATH") or self._settings().ngrok_path

    async def locate(self, download_s: float) -> Path:
        """The agent to run, downloaded first (within ``download_s``) if tvdesk has none."""
        configured = self.configured()
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
            await self._download_agent(path, download_s)
        return path

    async def _download_agent(self, path: Path, download_s: float) -> None:
        from tvdesk.tunnel import agent

        started = time.monotonic()
        self._say("downloading the ngrok agent (first use)")
        message = f"downloading the ngrok agent (first use, about 10 MB) to {path}"
        log.info("tunnel: %s", message)
        self._publish(TunnelAgentDownload(self._clock.time(), "started", 0.0, message))
        # One download at a time: a retry waits for one that is still under way.
        if self._download is None or self._download.done():
            self._download = agent.in_thread(lambda: agent.install_agent(path))
        try:
            await within(self._download, download_s)
        except TimeoutError:
            problem = download_problem("", download_s, timed_out=True)
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
