"""The engine's listening ports: one aiohttp runner per port, started one by one and
cleaned up together, newest first."""

from __future__ import annotations

from aiohttp import web

from tvdesk.engine.errors import EngineError


class Listeners:
    def __init__(self) -> None:
        self._runners: list[web.AppRunner] = []

    async def serve(self, app: web.Application, host: str, port: int) -> int:
        """Serve ``app`` on ``host:port`` (port 0: any free one); returns the port bound."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=5)
        await runner.setup()
        self._runners.append(runner)
        # No reuse_address: on Windows it lets a second process bind a port already in use
        # (on POSIX asyncio sets SO_REUSEADDR itself, which never shares a listening port).
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise EngineError(
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                "another program uses that port: pick another with --port"
            ) from exc
        return int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop accepting on every port; requests in progress get the runner's grace."""
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()
