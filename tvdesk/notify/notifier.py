"""The notifier: hears the engine's events, sends the ones the trader chose to each channel.

Subscribing costs the worker one cheap call per event: a line is composed and queued, no
more. A dispatcher task collapses floods (at most ``per_minute`` lines a minute, then one
"and 37 more" line; kill-switch lines always go out) and hands each line to one lane per
channel, so a channel that hangs or fails only delays itself. A lane retries with the
one backoff, keeps order, and drops its oldest lines (and says so) when it cannot keep up.
Failures are logged once per ``log_every_s`` per channel, never with a token.

All of it runs on the loop ``start()`` is called on; ``on_event`` must be called there too
(the bus publishes on the engine's loop; the window relays events to its own thread).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

from tvdesk.config.keystore import (
    DISCORD_WEBHOOK_URL,
    NTFY_TOKEN,
    TELEGRAM_BOT_TOKEN,
    WEBHOOK_SECRET,
    Keystore,
    KeystoreError,
)
from tvdesk.config.schema import Settings
from tvdesk.core.clock import Clock
from tvdesk.core.events import Event
from tvdesk.notify.messages import Composer, Line
from tvdesk.notify.senders import (
    PUBLIC,
    TIMEOUT_S,
    Channel,
    Endpoints,
    SendError,
    Unusable,
    channels,
    configured,
)
from tvdesk.notify.senders import scrub as scrub_secrets
from tvdesk.support.backoff import backoff_delay

log = logging.getLogger(__name__)

_SECRET_ENTRIES = (WEBHOOK_SECRET, TELEGRAM_BOT_TOKEN, DISCORD_WEBHOOK_URL, NTFY_TOKEN)


@dataclass
class _Lane:
    """One channel's queue and the task that sends it, line by line."""

    channel: Channel
    size: int
    queue: deque[str] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    busy: bool = False
    dropped: int = 0
    unreported: int = 0  # failures since the last log line
    last_logged: float | None = None
    failing: bool = False

    def put(self, text: str) -> None:
        if len(self.queue) >= self.size:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(text)
        self.wake.set()

    @property
    def idle(self) -> bool:
        return not self.queue and not self.busy


class Notifier:
    def __init__(
        self,
        settings: Callable[[], Settings],
        keystore: Keystore,
        clock: Clock,
        *,
        endpoints: Endpoints = PUBLIC,
        per_minute: int = 20,
        window_s: float = 60.0,
        queue_size: int = 50,
        retries: int = 3,
        backoff_s: tuple[float, float] = (2.0, 30.0),
        timeout_s: float = TIMEOUT_S,
        log_every_s: float = 300.0,
        tick_s: float = 1.0,
    ) -> None:
        self._settings = settings
        self._keystore = keystore
        self._clock = clock
        self._endpoints = endpoints
        self._per_minute, self._window_s = per_minute, window_s
        self._queue_size, self._retries, self._backoff_s = queue_size, retries, backoff_s
        self._timeout_s, self._log_every_s, self._tick_s = timeout_s, log_every_s, tick_s
        self._composer = Composer()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox: deque[Line] = deque()
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # a lane finished a line (stop() waits on it)
        self._dispatcher: asyncio.Task[None] | None = None
        self._lanes: dict[str, _Lane] = {}
        self._session: aiohttp.ClientSession | None = None
        self._sent_at: deque[float] = deque()
        self._suppressed = 0
        self._problems_logged: dict[str, float] = {}
        self._closed = False

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Begin hearing events; call it on the loop that is to send them."""
        self._loop = asyncio.get_running_loop()
        if not configured(self._settings().notify):
            return  # nothing runs until settings.toml names a channel
        found = self._channels()
        if found:
            log.info("notifications go to %s", ", ".join(c.name for c in found))

    async def stop(self, timeout_s: float = 2.0) -> None:
        """Stop hearing events; send what is queued for at most ``timeout_s``, then drop it."""
        self._closed = True
        if self._suppressed:
            self._fan_out(self._summary())
        try:
            async with asyncio.timeout(timeout_s):
                while not self._idle():
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            left = sum(len(lane.queue) + lane.busy for lane in self._lanes.values())
            log.warning("shutting down with %d notification(s) unsent: no answer in time", left)
        tasks = [t for t in (self._dispatcher, *(lane.task for lane in self._lanes.values())) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def _idle(self) -> bool:
        return not self._inbox and all(lane.idle for lane in self._lanes.values())

    # -- on the publisher's path: cheap ------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The bus subscriber: compose, filter, queue; never waits for the network."""
        if self._loop is None or self._closed:
            return
        settings = self._settings()
        if not configured(settings.notify):
            return
        line = self._composer.line(event, settings.mode)
        if line is None or line.event not in settings.notify.events:
            return
        if len(self._inbox) >= self._queue_size and not line.urgent:
            self._suppressed += 1  # a burst the dispatcher has not caught up with: a flood
        else:
            self._inbox.append(line)
        if self._dispatcher is None:
            self._dispatcher = self._loop.create_task(self._dispatch(), name="tvdesk-notify")
        self._wake.set()

    # -- the dispatcher: flood limit, then one lane per channel ------------------------

    async def _dispatch(self) -> None:
        while True:
            if not self._inbox:
                self._wake.clear()
                try:
                    async with asyncio.timeout(self._tick_s if self._suppressed else None):
                        await self._wake.wait()
                except TimeoutError:
                    pass  # time to see whether the flood's summary can go out
            if self._suppressed and self._room():
                self._fan_out(self._summary())
            while self._inbox:
                line = self._inbox.popleft()
                if line.urgent or self._room():
                    self._sent_at.append(self._clock.time())
                    self._fan_out(line.text)
                else:
                    self._suppressed += 1
            self._changed.set()

    def _room(self) -> bool:
        horizon = self._clock.time() - self._window_s
        while self._sent_at and self._sent_at[0] <= horizon:
            self._sent_at.popleft()
        return len(self._sent_at) < self._per_minute

    def _summary(self) -> str:
        n, self._suppressed = self._suppressed, 0
        self._sent_at.append(self._clock.time())
        return (
            f"tvdesk: … and {n} more notification{'s' if n != 1 else ''} in the last minute, "
            "not sent to spare your phone (tvdesk's log has them all)"
        )

    def _fan_out(self, text: str) -> None:
        assert self._loop is not None
        for channel in self._channels():
            lane = self._lanes.get(channel.name)
            if lane is None:
                lane = self._lanes[channel.name] = _Lane(channel, self._queue_size)
                lane.task = self._loop.create_task(
                    self._run(lane), name=f"tvdesk-notify-{channel.name}"
                )
            lane.channel = channel  # a token changed in the keystore takes effect here
            lane.put(text)

    def _channels(self) -> list[Channel]:
        """The usable channels; each unusable one is logged (once per interval)."""
        try:
            found, problems = channels(self._settings().notify, self._keystore, self._endpoints)
        except KeystoreError as exc:
            found, problems = [], [Unusable("notifications", str(exc))]
        for problem in problems:
            self._log_problem(str(problem))
        return found

    def _log_problem(self, problem: str) -> None:
        now = self._clock.time()
        last = self._problems_logged.get(problem)
        if last is None or now - last >= self._log_every_s:
            self._problems_logged[problem] = now
            log.warning("notifications: %s", problem)

    # -- a lane: one channel, one line at a time, retried --------------------------------

    async def _run(self, lane: _Lane) -> None:
        while True:
            while not lane.queue:
                self._changed.set()
                lane.wake.clear()
                await lane.wake.wait()
            text = lane.queue.popleft()
            lane.busy = True
            if lane.dropped:
                text = (
                    f"({lane.dropped} older notification(s) dropped: {lane.channel.name} "
                    f"could not keep up)\n{text}"
                )
                lane.dropped = 0
            try:
                await self._deliver(lane, text)
            finally:
                lane.busy = False

    async def _deliver(self, lane: _Lane, text: str) -> None:
        channel = lane.channel
        text = scrub_secrets(text, (*channel.secrets, *self._known_secrets()))
        if self._session is None:
            self._session = aiohttp.ClientSession()
        failure: SendError | None = None
        for attempt in range(self._retries + 1):
            try:
                await channel.send(self._session, text, self._timeout_s)
            except SendError as exc:
                failure = exc
                if not exc.retry or attempt == self._retries:
                    break
                wait = exc.after_s
                await asyncio.sleep(
                    backoff_delay(attempt, *self._backoff_s) if wait is None else wait
                )
                continue
            if lane.failing:
                lane.failing = False
                log.info("%s notifications are delivered again", channel.name)
            return
        assert failure is not None
        self._report(lane, failure)

    def _report(self, lane: _Lane, failure: SendError) -> None:
        lane.failing = True
        lane.unreported += 1
        now = self._clock.time()
        if lane.last_logged is not None and now - lane.last_logged < self._log_every_s:
            return
        more = lane.unreported - 1
        also = f" ({more} more not sent since the last report)" if more else ""
        reason = scrub_secrets(failure.reason, (*lane.channel.secrets, *self._known_secrets()))
        log.warning("%s notification not sent: %s%s", lane.channel.name, reason, also)
        lane.last_logged, lane.unreported = now, 0

    def _known_secrets(self) -> tuple[str, ...]:
        found = []
        for name in _SECRET_ENTRIES:
            try:
                value = self._keystore.get(name)
            except KeystoreError:
                continue
            if value:
                found.append(value)
        return tuple(found)
