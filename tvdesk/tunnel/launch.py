"""Bringing an agent up: starting it, then opening its public endpoint.

Each step is a blocking pyngrok call in a thread of its own under a timeout of ours; its
failures come back as a ``TunnelProblem`` in the trader's words, redacted by ``hide``.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvdesk.tunnel.explain import RETRYING, TunnelProblem, agent_problem
from tvdesk.tunnel.timings import TunnelTimings, within
from tvdesk.tunnel.watchdog import AgentWatch

if TYPE_CHECKING:
    from pyngrok.conf import PyngrokConfig

ENDPOINT_NAME = "tvdesk"


async def start_agent(
    config: PyngrokConfig,
    timings: TunnelTimings,
    watch: AgentWatch,
    *,
    hide: Callable[[str], str],
    domain: Callable[[], str],
    configured: Callable[[], str],
) -> subprocess.Popen[Any]:
    """Start the agent and wait for its session; ``configured()`` is the trader's own agent."""
    from pyngrok.exception import PyngrokError, PyngrokNgrokError

    from tvdesk.tunnel import agent

    started = agent.in_thread(lambda: agent.start_agent(config))
    try:
        return await within(started, timings.startup_s)
    except TimeoutError:
        # pyngrok is stuck reading an agent that says nothing: ending it unblocks pyngrok.
        await watch.end(config, timings.stop_s)
        with contextlib.suppress(Exception, TimeoutError):
            await within(started, timings.stop_s + 2)
        raise watch.start_timeout(timings.startup_s, domain()) from None
    except PyngrokNgrokError as exc:
        said = exc.ngrok_error or watch.error or str(exc)
        raise agent_problem(hide(said), domain()) from None
    except PyngrokError as exc:
        raise agent_problem(hide(str(exc)), domain()) from None
    except OSError as exc:
        why = exc.strerror or str(exc)
        if not configured():
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


async def open_endpoint(
    config: PyngrokConfig,
    port: int,
    api_s: float,
    watch: AgentWatch,
    *,
    hide: Callable[[str], str],
    domain: str,
) -> str:
    """Ask the running agent for the public URL forwarding to ``port`` (at ``domain`` if set)."""
    from pyngrok.exception import PyngrokError, PyngrokNgrokHTTPError

    from tvdesk.tunnel import agent

    url = f"https://{domain}" if domain else None
    opened = agent.in_thread(lambda: agent.open_endpoint(config, port, ENDPOINT_NAME, url))
    try:
        public_url = await within(opened, api_s)
    except TimeoutError:
        raise TunnelProblem(
            f"the ngrok agent did not open the public URL within {api_s:g} s"
            f"{watch.last_words()}; {RETRYING}"
        ) from None
    except PyngrokNgrokHTTPError as exc:
        raise agent_problem(hide(exc.body or str(exc)), domain) from None
    except PyngrokError as exc:
        said = getattr(exc, "ngrok_error", None) or str(exc)
        raise agent_problem(hide(said), domain) from None
    if not public_url:
        raise TunnelProblem(f"the ngrok agent gave no public URL; {RETRYING}")
    return public_url.rstrip("/")
