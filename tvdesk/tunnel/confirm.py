"""Confirming the public URL: tvdesk asks for its own ``GET /health`` through the tunnel.

Once if it works, again (backing off) only while it does not: ngrok's free plan counts
every request, and only TradingView's own requests really matter.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import aiohttp

from tvdesk.tunnel.explain import RETRYING, TunnelProblem, tidy
from tvdesk.tunnel.timings import TunnelTimings
from tvdesk.tunnel.watchdog import AgentWatch, wait_exit


async def confirm(
    url: str,
    proc: subprocess.Popen[Any],
    timings: TunnelTimings,
    watch: AgentWatch,
    *,
    say: Callable[[str], None],
    down: Callable[[str, str], None],
) -> str | None:
    """GET /health once through the public URL; again, backing off, only if that failed.

    Never polled once it worked: ngrok's free plan counts every request. After
    ``max_checks`` failures it stops asking and says so (None: confirmed). ``say(detail)``
    tells what it does; ``down(error, detail)`` reports a failed check before the next.
    """
    for checks in range(1, timings.max_checks + 1):
        delay = timings.backoff(checks - 1)
        say(f"checking {url}/health")
        problem = await check_health(url, timings.check_s)
        if problem is None:
            return None
        if checks == timings.max_checks:
            return (
                f"{problem}. Checked {checks} times; not checking again, to spare your "
                "ngrok request quota: send a test alert to try the URL, or restart tvdesk"
            )
        down(problem, f"checking again in {delay:g} s")
        if await wait_exit(proc, delay, timings.poll_s) is not None:
            raise TunnelProblem(
                f"the ngrok agent stopped unexpectedly (exit code {proc.returncode}"
                f"{watch.last_words()}): restarting it"
            )


async def check_health(url: str, check_s: float) -> str | None:
    """None if tvdesk answered ``GET /health`` through ``url``; otherwise why not, in words."""
    reason = ""
    try:
        timeout = aiohttp.ClientTimeout(total=check_s)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"{url}/health", headers={"ngrok-skip-browser-warning": "1"}) as r,
        ):
            body = await r.json(content_type=None) if r.status == 200 else None
            if isinstance(body, dict) and body.get("status") == "ok":
                return None
            reason = f"HTTP {r.status}"
    except TimeoutError:
        reason = f"no answer within {check_s:g} s"
    except (aiohttp.ClientError, ValueError) as exc:
        reason = tidy(str(exc)) or type(exc).__name__
    return (
        f"the tunnel is open, but tvdesk could not reach itself through {url}/health "
        f"({reason}), so TradingView cannot either; {RETRYING}"
    )
