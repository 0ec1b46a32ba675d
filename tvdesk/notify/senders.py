"""The notification APIs: Telegram's Bot API ``sendMessage``, a Discord channel webhook, and
an ntfy topic. One request per line, each within a timeout; the notifier retries.

A ``SendError`` says in words what went wrong and whether trying again can help. It never
holds a token: the bot token sits in Telegram's URL path and the whole Discord webhook URL
is a secret, so no aiohttp exception (whose text names the URL) is passed on or chained.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote, urlsplit

import aiohttp

from tvdesk.config.keystore import (
    DISCORD_WEBHOOK_URL,
    NTFY_TOKEN,
    TELEGRAM_BOT_TOKEN,
    Keystore,
    env_var_name,
)
from tvdesk.config.schema import NotifySettings

TIMEOUT_S = 10.0
_MAX_RETRY_AFTER_S = 60.0


class SendError(Exception):
    """A line was not delivered. ``retry``: a later attempt may work (a timeout, a 5xx,
    a rate limit); ``after_s``: how long the API asked us to wait first."""

    def __init__(self, reason: str, *, retry: bool, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retry, self.after_s = reason, retry, after_s


@dataclass(frozen=True)
class Endpoints:
    """Where the APIs are: the public ones, or loopback fakes in tests."""

    telegram: str = "https://api.telegram.org"
    ntfy: str = "https://ntfy.sh"


PUBLIC = Endpoints()


class Channel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    async def send(self, session: aiohttp.ClientSession, text: str, timeout_s: float) -> None: ...


@dataclass(frozen=True)
class Telegram:
    token: str = field(repr=False)
    chat_id: str
    base: str = Endpoints.telegram
    name: str = "Telegram"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,)

    async def send(self, session: aiohttp.ClientSession, text: str, timeout_s: float) -> None:
        body = {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        url = f"{self.base.rstrip('/')}/bot{self.token}/sendMessage"
        await _post(self, session, url, timeout_s, json=body)


@dataclass(frozen=True)
class Discord:
    webhook_url: str = field(repr=False)
    name: str = "Discord"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.webhook_url, *urlsplit(self.webhook_url).path.split("/")[-2:])

    async def send(self, session: aiohttp.ClientSession, text: str, timeout_s: float) -> None:
        # No @everyone / role pings from an alert's text.
        body = {"content": text, "allowed_mentions": {"parse": []}}
        await _post(self, session, self.webhook_url, timeout_s, json=body)


@dataclass(frozen=True)
class Ntfy:
    topic: str
    token: str | None = field(default=None, repr=False)
    base: str = Endpoints.ntfy
    name: str = "ntfy"

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.token,) if self.token else ()

    async def send(self, session: aiohttp.ClientSession, text: str, timeout_s: float) -> None:
        headers = {"Title": "tvdesk"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = f"{self.base.rstrip('/')}/{quote(self.topic, safe='')}"
        await _post(self, session, url, timeout_s, data=text.encode(), headers=headers)


class Unusable(NamedTuple):
    """A channel settings.toml asks for that cannot work, and why, in words."""

    channel: str
    why: str

    def __str__(self) -> str:
        return f"{self.channel}: {self.why}"


def configured(notify: NotifySettings) -> bool:
    """Does the settings file ask for any channel at all? (No keystore read: cheap.)"""
    return bool(notify.telegram_chat_id or notify.discord or notify.ntfy_topic)


def channels(
    notify: NotifySettings, keystore: Keystore, endpoints: Endpoints = PUBLIC
) -> tuple[list[Channel], list[Unusable]]:
    """The channels the settings ask for and can use, and why each other one cannot work.

    May read the keystore (a D-Bus call the first time): never on the worker's path.
    """
    found: list[Channel] = []
    problems: list[Unusable] = []
    if notify.telegram_chat_id:
        token = keystore.get(TELEGRAM_BOT_TOKEN)
        if token:
            found.append(Telegram(token, notify.telegram_chat_id, endpoints.telegram))
        else:
            problems.append(_missing("Telegram", "telegram_chat_id is set", TELEGRAM_BOT_TOKEN))
    if notify.discord:
        url = keystore.get(DISCORD_WEBHOOK_URL)
        if not url:
            problems.append(_missing("Discord", "discord = true", DISCORD_WEBHOOK_URL))
        elif urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            problems.append(
                Unusable(
                    "Discord",
                    f"{DISCORD_WEBHOOK_URL} is not a web address: store the whole webhook URL "
                    "(channel settings → Integrations → Webhooks → Copy Webhook URL)",
                )
            )
        else:
            found.append(Discord(url))
    if notify.ntfy_topic:
        found.append(Ntfy(notify.ntfy_topic, keystore.get(NTFY_TOKEN), endpoints.ntfy))
    return found, problems


def _missing(channel: str, because: str, entry: str) -> Unusable:
    return Unusable(
        channel,
        f"{because} in settings.toml but no {entry} is stored: store it in the keyring "
        f"(docs/notify.md) or set {env_var_name(entry)}",
    )


async def _post(
    channel: Channel, session: aiohttp.ClientSession, url: str, timeout_s: float, **kw: Any
) -> None:
    host = urlsplit(url).hostname or "the server"
    failure: SendError | None = None
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.post(url, timeout=timeout, allow_redirects=False, **kw) as reply:
            status, headers, raw = reply.status, reply.headers, await reply.read()
    except TimeoutError:
        failure = SendError(f"{host} did not answer within {timeout_s:g} s", retry=True)
    except aiohttp.ClientError as exc:
        failure = SendError(f"cannot reach {host} ({type(exc).__name__})", retry=True)
    # Raised here, outside the except blocks: aiohttp's exception names the URL and must
    # not ride along as this one's context.
    if failure is not None:
        raise failure
    if 200 <= status < 300:
        return
    said = scrub(_api_words(raw), channel.secrets)
    reason = f"{host} answered {status}{f': {said}' if said else ''}"
    if status == 429:
        raise SendError(reason, retry=True, after_s=_retry_after(headers, raw))
    raise SendError(reason + _hint(channel.name, status), retry=status >= 500 or status == 408)


def _api_words(raw: bytes) -> str:
    """What the API says went wrong, from the fields each of them uses."""
    try:
        reply = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace").strip()[:200]
    if isinstance(reply, dict):
        for key in ("description", "message", "error"):  # Telegram, Discord, ntfy
            if isinstance(reply.get(key), str):
                return str(reply[key])[:200]
    return ""


def _retry_after(headers: Mapping[str, str], raw: bytes) -> float | None:
    found: Any = headers.get("Retry-After")
    if found is None:
        try:
            reply = json.loads(raw)
            found = reply.get("retry_after") or reply.get("parameters", {}).get("retry_after")
        except (ValueError, AttributeError):
            return None
    try:
        return min(_MAX_RETRY_AFTER_S, max(0.0, float(found)))
    except (TypeError, ValueError):
        return None


def _hint(name: str, status: int) -> str:
    if status in (401, 403, 404):
        entry = {"Telegram": TELEGRAM_BOT_TOKEN, "Discord": DISCORD_WEBHOOK_URL}.get(name)
        what = f"check {entry}" if entry else "check the topic and ntfy_token"
        return f" ({what}; docs/notify.md)"
    if status == 400 and name == "Telegram":
        return " (check telegram_chat_id, and send your bot a message first)"
    return ""


def scrub(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret in it replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
