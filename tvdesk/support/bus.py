"""A small synchronous publish/subscribe bus for the engine's events."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tvdesk.core.events import Event

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


class EventBus:
    """Delivers each event to every subscriber, in order, on the publisher's thread.

    A subscriber that raises is logged and skipped: one broken panel must not
    stop the engine or the other subscribers.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed on %s", event.name)
