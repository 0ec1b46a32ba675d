"""The window's one way to the engine: commands, queries and its event stream.

The engine either runs on the window's own qasync loop or on an asyncio loop
in a thread of its own (``threaded=True``); panels cannot tell which. They
read ``settings()`` and ``keystore``, run engine commands and queries with
``await handle.call(lambda engine: ...)`` and hear every engine event through
the ``event`` signal, always on the GUI thread.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

from tvdesk.core.events import Event

if TYPE_CHECKING:
    from tvdesk.config.keystore import Keystore
    from tvdesk.config.paths import Paths
    from tvdesk.config.schema import Settings
    from tvdesk.engine.engine import Engine

T = TypeVar("T")


class EngineHandle(QObject):
    event = Signal(object)  # every engine Event, in order, on the GUI thread
    _wake = Signal()  # the engine thread has queued events (threaded mode only)

    def __init__(self, engine: Engine, *, threaded: bool = False) -> None:
        super().__init__()
        self._engine = engine
        self.threaded = threaded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inbox: deque[Event] = deque()
        self._woken = False
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe = engine.bus.subscribe(self._on_bus)

    # -- what panels read ------------------------------------------------------

    def settings(self) -> Settings:
        """The settings the engine decides the next alert with (read-only: change via call)."""
        return self._engine.settings

    @property
    def keystore(self) -> Keystore:
        return self._engine.keystore

    @property
    def paths(self) -> Paths:
        return self._engine.paths

    @property
    def running(self) -> bool:
        return self._engine.started

    async def call(self, fn: Callable[[Engine], Any]) -> Any:
        """Run ``fn(engine)`` on the engine's loop (awaiting it if it is a coroutine)."""
        if not self.threaded:
            return await resolve_awaitable(fn(self._engine))
        assert self._loop is not None, "the engine is not running"

        async def on_engine_loop() -> Any:
            return await resolve_awaitable(fn(self._engine))

        future = asyncio.run_coroutine_threadsafe(on_engine_loop(), self._loop)
        return await asyncio.wrap_future(future)

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        if self.threaded:
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run_loop, args=(ready,), name="tvdesk-engine", daemon=True
            )
            self._thread.start()
            await asyncio.to_thread(ready.wait)
        try:
            await self.call(lambda engine: engine.start())
        except BaseException:
            await self._stop_loop()
            raise

    async def stop(self) -> None:
        """Drain the worker, stop the listeners and the tunnel; events keep flowing until then."""
        try:
            if self._engine.started:
                await self.call(lambda engine: engine.stop())
        finally:
            await self._stop_loop()
            self._drain()

    def close(self) -> None:
        self._unsubscribe()

    def _run_loop(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _stop_loop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._thread, self._loop = None, None

    # -- events ------------------------------------------------------------------

    def _on_bus(self, event: Event) -> None:
        if not self.threaded:
            self.event.emit(event)
            return
        # Engine thread: queue it and wake the GUI once per batch, not once per event.
        self._inbox.append(event)
        if not self._woken:
            self._woken = True
            self._wake.emit()

    def _drain(self) -> None:
        self._woken = False
        while self._inbox:
            self.event.emit(self._inbox.popleft())


async def resolve_awaitable(value: Any) -> Any:
    """``value``, awaited first when it is awaitable (commands may be sync or async)."""
    return await value if inspect.isawaitable(value) else value
