"""Engine events to panel handlers, coalesced so a burst becomes one refresh.

Panels register themselves; every method named ``on_event_<name>`` (``AlertAccepted``
→ ``on_event_alert_accepted``) gets the events of that type. Events are queued and
delivered together on a short timer; after each delivery ``flushed`` fires once, so
a model that collected 2,000 new rows inserts them with one ``beginInsertRows``.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QObject, QTimer, Signal

from tvdesk.core.events import Event
from tvdesk.gui.handle import EngineHandle

log = logging.getLogger(__name__)

FLUSH_MS = 50  # fast enough to feel live, slow enough to batch a burst
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@cache
def handler_name(event_name: str) -> str:
    return "on_event_" + _CAMEL.sub("_", event_name).lower()


class Bridge(QObject):
    flushed = Signal()  # after each batch of events has been handed out

    def __init__(
        self, handle: EngineHandle, interval_ms: int = FLUSH_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._handle = handle
        self._handlers: dict[str, list[Callable[[Event], None]]] = defaultdict(list)
        self._pending: list[Event] = []
        self._timer = QTimer(self, singleShot=True, interval=interval_ms)
        self._timer.timeout.connect(self.flush)
        handle.event.connect(self._on_event)

    def register(self, panel: object) -> None:
        """Hand ``panel`` the events it has ``on_event_<name>`` methods for."""
        for attr in dir(type(panel)):
            if attr.startswith("on_event_"):
                self._handlers[attr].append(getattr(panel, attr))

    def _on_event(self, event: Event) -> None:
        self._pending.append(event)
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        events, self._pending = self._pending, []
        for event in events:
            for handler in self._handlers.get(handler_name(event.name), ()):
                try:
                    handler(event)
                except Exception:  # one broken panel must not starve the others
                    log.exception("%s failed on %s", handler, event.name)
        if events:
            self.flushed.emit()

    def close(self) -> None:
        """Hear no more events (the window is closing: what is pending is dropped)."""
        self._handle.event.disconnect(self._on_event)
        self._timer.stop()
        self._pending.clear()
