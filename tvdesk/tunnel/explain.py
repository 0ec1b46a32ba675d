"""What went wrong with the tunnel, in the trader's words, and whether retrying can help.

The ngrok agent's own errors are terse, escaped logfmt and sometimes echo the authtoken
("Your authtoken: ..."); everything here is redacted before it is shown or logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

NO_AUTHTOKEN = (
    "ngrok needs an authtoken: get one free at the ngrok dashboard and paste it in Secrets"
)
RETRYING = "tvdesk keeps retrying on its own"

_CODE = re.compile(r"ERR_NGROK_\d+")
# The agent echoes the token after "Your authtoken:"; stop at whitespace or a logfmt escape.
_TOKEN_ECHO = re.compile(r"(authtoken:\s*)[^\s\\\"']+", re.IGNORECASE)
_NETWORK_WORDS = (
    "failed to dial",
    "no such host",
    "network is unreachable",
    "i/o timeout",
    "connection refused",
    "tls handshake",
    "temporary failure in name resolution",
    "connection reset",
)
_DETAIL_CHARS = 300


class TunnelProblem(Exception):
    """A failed attempt. ``final`` problems wait for the trader; the others are retried."""

    def __init__(self, message: str, state: str = "down") -> None:
        super().__init__(message)
        self.message = message
        self.state = state  # down (retrying) | error | off (both wait for the trader)

    @property
    def final(self) -> bool:
        return self.state != "down"

    def __str__(self) -> str:
        return self.message


def redact(text: str, secrets: Iterable[str]) -> str:
    """Text with every secret, and whatever follows "authtoken:", blanked out."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[hidden]")
    return _TOKEN_ECHO.sub(r"\1[hidden]", text)


def tidy(text: str) -> str:
    """One readable line out of an agent error (logfmt escapes, CR/LF, trailing codes)."""
    text = text.replace("\\r", " ").replace("\\n", " ").replace('\\"', '"')
    text = " ".join(text.split())
    if len(text) > _DETAIL_CHARS:
        text = text[: _DETAIL_CHARS - 1] + "…"
    return text


def _code(text: str) -> str:
    found = _CODE.search(text)
    return f" ({found.group(0)})" if found else ""


def agent_problem(text: str, domain: str) -> TunnelProblem:
    """Turn what the agent (or its API) said into a problem the trader can act on."""
    lower = text.lower()
    code = _code(text)
    if "ERR_NGROK_4018" in text or "requires a verified account and authtoken" in lower:
        return TunnelProblem(f"{NO_AUTHTOKEN}{code}", "error")
    if any(c in text for c in ("ERR_NGROK_105", "ERR_NGROK_106", "ERR_NGROK_107")) or (
        "authtoken" in lower and ("invalid" in lower or "does not look like" in lower)
    ):
        return TunnelProblem(
            f"ngrok refused the authtoken{code}: copy it again from the ngrok dashboard "
            "(Your Authtoken) and paste it in Secrets",
            "error",
        )
    if "ERR_NGROK_108" in text or "simultaneous ngrok agent sessions" in lower:
        return TunnelProblem(
            f"another ngrok agent already runs with this authtoken, and a free ngrok account "
            f"allows one at a time{code}: close the other one (another tvdesk, or ngrok on "
            f"another PC); {RETRYING}"
        )
    if "ERR_NGROK_334" in text or "already online" in lower:
        where = f"the ngrok domain {domain}" if domain else "this ngrok URL"
        return TunnelProblem(
            f"{where} is already in use by another ngrok agent{code}: close the other tvdesk "
            f"or ngrok that uses it; {RETRYING}"
        )
    if any(c in text for c in ("ERR_NGROK_313", "ERR_NGROK_319", "ERR_NGROK_320")) or (
        "domain" in lower and ("reserve" in lower or "not allowed" in lower)
    ):
        return TunnelProblem(
            f"ngrok does not let this account use the domain {domain or '(none)'}{code}: copy "
            "your domain from the ngrok dashboard (Domains) into Static domain on the Connect "
            "tab (or [tunnel] domain in settings.toml), or clear it",
            "error",
        )
    if any(word in lower for word in _NETWORK_WORDS):
        return TunnelProblem(
            "cannot reach ngrok's servers: is this PC online? (a firewall or proxy may block "
            f"connect.ngrok-agent.com:443; ngrok said: {tidy(text)}); {RETRYING}"
        )
    said = tidy(text) or "nothing"
    return TunnelProblem(f"the ngrok agent failed (it said: {said}); {RETRYING}")


def download_problem(reason: str, seconds: float, timed_out: bool) -> TunnelProblem:
    what = (
        f"the ngrok agent download did not finish within {seconds:g} s"
        if timed_out
        else f"could not download the ngrok agent ({tidy(reason)})"
    )
    return TunnelProblem(
        f"{what}: is this PC online? {RETRYING}, or set [tunnel] ngrok_path "
        "(or TVDESK_NGROK_PATH) to an ngrok agent you already have"
    )
