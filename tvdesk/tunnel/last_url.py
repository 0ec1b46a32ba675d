"""The public URL of the last run, remembered: a new one is said loudly, because every
TradingView alert still sends to the old one until the trader edits it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from tvdesk.core.clock import Clock
from tvdesk.core.events import Event
from tvdesk.support.atomic import write_atomic
from tvdesk.tunnel.events import TunnelUrlChanged

log = logging.getLogger(__name__)


class LastUrl:
    """The public URL last given to TradingView, kept in ``path`` (JSON) across runs."""

    def __init__(self, path: Path, clock: Clock, publish: Callable[[Event], None]) -> None:
        self._path = path
        self._clock = clock
        self._publish = publish
        self._last_url: str | None = None

    def load(self) -> None:
        """Read the URL of the last run (none if the file is missing or unreadable)."""
        try:
            self._last_url = json.loads(self._path.read_text(encoding="utf-8")).get("public_url")
        except (OSError, ValueError, AttributeError):
            self._last_url = None

    def note(self, url: str, domain: str) -> None:
        """Say loudly when the URL is not the one TradingView was given last time."""
        previous, self._last_url = self._last_url, url
        if previous and previous != url:
            fix = ""
            if not domain:
                fix = (
                    "; enter your free ngrok static domain under Static domain on the Connect "
                    "tab (or [tunnel] domain in settings.toml) so it stays the same"
                )
            message = (
                f"the public webhook URL changed from {previous} to {url}: edit every "
                f"TradingView alert to send to {url}/webhook{fix}"
            )
            log.warning("tunnel: %s", message)
            self._publish(TunnelUrlChanged(self._clock.time(), previous, url, message))
        try:
            write_atomic(self._path, json.dumps({"public_url": url}))
        except OSError as exc:
            log.warning("tunnel: cannot remember the public URL (%s)", exc.strerror or exc)
