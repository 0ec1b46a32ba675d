"""``tvdesk notify-test``: one line to every channel settings.toml sets up, at once (no
retries), and what came of each, in words the trader can act on."""

from __future__ import annotations

import asyncio
import socket
from typing import NamedTuple

import aiohttp

from tvdesk.config.keystore import Keystore, KeystoreError
from tvdesk.config.schema import NotifySettings
from tvdesk.notify.senders import PUBLIC, TIMEOUT_S, Endpoints, SendError, channels

CHANNELS = ("Telegram", "Discord", "ntfy")
_HOW = {
    "Telegram": "set telegram_chat_id in [notify]",
    "Discord": "set discord = true in [notify]",
    "ntfy": "set ntfy_topic in [notify]",
}


class Outcome(NamedTuple):
    channel: str
    sent: bool | None  # None: not set up
    why: str

    def __str__(self) -> str:
        word = {True: "sent", False: "NOT sent", None: "not set up"}[self.sent]
        return f"{self.channel}: {word}{f' — {self.why}' if self.why else ''}"


def test_text() -> str:
    return (
        f"tvdesk: test notification from {socket.gethostname()}. If you read this, "
        "tvdesk can reach you here."
    )


async def send_test(
    notify: NotifySettings,
    keystore: Keystore,
    endpoints: Endpoints = PUBLIC,
    timeout_s: float = TIMEOUT_S,
) -> list[Outcome]:
    """Send ``test_text()`` to each channel set up; one outcome per channel, in CHANNELS order."""
    try:
        found, problems = channels(notify, keystore, endpoints)
    except KeystoreError as exc:
        return [Outcome(name, False, str(exc)) for name in CHANNELS]
    outcomes = {p.channel: Outcome(p.channel, False, p.why) for p in problems}
    text = test_text()
    async with aiohttp.ClientSession() as session:
        results = await asyncio.gather(
            *(c.send(session, text, timeout_s) for c in found), return_exceptions=True
        )
    for channel, result in zip(found, results, strict=True):
        if isinstance(result, SendError):
            outcomes[channel.name] = Outcome(channel.name, False, result.reason)
        elif isinstance(result, BaseException):
            outcomes[channel.name] = Outcome(channel.name, False, type(result).__name__)
        else:
            outcomes[channel.name] = Outcome(channel.name, True, "")
    return [outcomes.get(name, Outcome(name, None, _HOW[name])) for name in CHANNELS]
