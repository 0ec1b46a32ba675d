"""The engine's listening ports: one aiohttp runner per port, started one by one and
cleaned up together, newest first.

Every port cuts off slow and idle clients and caps its open connections
(``[listener] read_timeout_s`` and ``max_connections``): 1,100 half-open connections
once used up the 1,024 file descriptors a process gets and stopped the listener.

- Headers: aiohttp's keep-alive timer starts when a connection opens (and again after
  each reply) and closes it if no complete request has arrived when it fires; with
  ``keepalive_timeout = read_timeout_s`` that is the header timeout, for a client that
  sends nothing and for one that trickles half a header alike.
- Body: the webhook handler reads the body under the same timeout
  (:func:`tvdesk.door.webhook.read_body`); ``lingering_time`` bounds the unread rest of
  a refused body the same way.
- Connections: :class:`_Gate` is the protocol factory the port's socket server calls for
  each accepted connection. It counts the connections that are open and closes a new
  one at once when the cap is reached, before aiohttp ever sees it; refusals are logged
  as one line per minute with a count (:mod:`tvdesk.support.repeats`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from tvdesk.config.schema import ListenerSettings
from tvdesk.engine.errors import EngineError

log = logging.getLogger(__name__)


class Listeners:
    def __init__(self) -> None:
        self._runners: list[web.AppRunner] = []

    async def serve(
        self, app: web.Application, host: str, port: int, limits: ListenerSettings
    ) -> int:
        """Serve ``app`` on ``host:port`` (port 0: any free one); returns the port bound.

        ``limits``: the read timeout and the connection cap (the module's docstring)."""
        timeout = limits.read_timeout_s
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=5,
            keepalive_timeout=timeout,
            lingering_time=timeout,
        )
        await runner.setup()
        self._runners.append(runner)
        assert runner.server is not None  # set up above
        gate = _Gate(runner.server, limits.max_connections)
        site = _GatedSite(runner, host, port, gate)
        try:
            await site.start()
        except OSError as exc:
            raise EngineError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "another program uses that port: pick another with --port"
            ) from exc
        gate.port = int(runner.addresses[0][1])
        return gate.port

    async def close(self) -> None:
        """Stop accepting on every port; requests in progress get the runner's grace."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


class _GatedSite(web.BaseSite):
    """aiohttp's TCPSite, with the connection gate as the socket server's protocol factory."""

    def __init__(self, runner: web.AppRunner, host: str, port: int, gate: _Gate) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._gate = gate

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        # No reuse_address: on Windows it lets a second process bind a port already in use
        # (on POSIX asyncio sets SO_REUSEADDR itself, which never shares a listening port).
        self._server = await loop.create_server(
            self._gate, self._host, self._port, backlog=self._backlog
        )


class _Gate:
    """Counts one port's open connections and closes those past the cap at once."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], cap: int) -> None:
        self.factory = factory  # aiohttp's Server: one request handler per connection
        self.cap = cap
        self.open = 0
        self.port = 0  # known once bound

    def __call__(self) -> _Slot:
        return _Slot(self)

    def turn_away(self, transport: asyncio.BaseTransport) -> None:
        transport.close()
        log.warning(
            "closed a new connection to port %d at once: %d connections are open, the most "
            "[listener] max_connections allows (a client may be flooding tvdesk)",
            self.port,
            self.cap,
            extra={"repeats": True},  # one line per minute, with a count
        )


class _Slot(asyncio.Protocol):
    """One connection's place under the cap, passing everything on to aiohttp.

    Counted from ``connection_made`` to ``connection_lost``, which asyncio always pairs,
    so a connection that fails before it is made never holds a place.
    """

    __slots__ = ("_gate", "_inner")

    def __init__(self, gate: _Gate) -> None:
        self._gate = gate
        self._inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        gate = self._gate
        if gate.open >= gate.cap:
            gate.turn_away(transport)
            return
        gate.open += 1
        self._inner = gate.factory()
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._gate.open -= 1
            self._inner.connection_lost(exc)

    # A connection turned away is closed before it reads or writes, so these only ever
    # run for an admitted one.
    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)  # type: ignore[union-attr]

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()  # type: ignore[union-attr]

    def pause_writing(self) -> None:
        self._inner.pause_writing()  # type: ignore[union-attr]

    def resume_writing(self) -> None:
        self._inner.resume_writing()  # type: ignore[union-attr]
