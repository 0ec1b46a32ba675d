"""Loopback fakes of the notification APIs tvdesk sends to, on one aiohttp server:

* Telegram's Bot API: ``POST /bot<token>/sendMessage`` with JSON ``{chat_id, text}``;
  a wrong token is 401 ``{"ok": false, "description": "Unauthorized"}``, an unknown chat
  400 "Bad Request: chat not found", success ``{"ok": true, "result": {...}}``.
* A Discord channel webhook: ``POST /api/webhooks/<id>/<token>`` with JSON ``{content}``;
  an unknown webhook is 404 ``{"message": "Unknown Webhook", "code": 10015}``, an empty
  content 400, success 204 (no body), as Discord answers without ``?wait=true``.
* ntfy: ``POST /<topic>`` with the message as the plain-text body and an optional
  ``Authorization: Bearer <token>``; success 200 with the message as JSON.

Faults per API: ``fail(api, status, times)`` answers with a status (500, 429...) instead;
``hang(api)`` holds the next request until ``release(status)``. Every request is recorded
(``requests``, and handed to ``on_request``), and every delivered line (``delivered[api]``).
Runs on the test's loop (``start``/``stop``) or, for tests that drive a subprocess, on a
thread of its own (``in_thread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

APIS = ("telegram", "discord", "ntfy")
BOT_TOKEN = "7412345678:AAFakeTelegramBotTokenZ9xq3LmP0w"
CHAT_ID = "424242"
WEBHOOK_ID, WEBHOOK_TOKEN = "1234567890", "fakeDiscordWebhookToken_r8Tq2XvL"
TOPIC = "tvdesk-test-h7Kq2mZ"
NTFY_TOKEN = "tk_fakentfytoken9x8c7v6b5n4m3"


@dataclass
class Seen:
    api: str
    path: str
    status: int
    text: str | None  # the line, when the request carried one
    detail: dict[str, Any] = field(default_factory=dict)  # chat_id, authorization, ...


class FakeNotify:
    def __init__(self, *, ntfy_token: str | None = None) -> None:
        self.ntfy_token = ntfy_token  # None: the topic is open, as on ntfy.sh by default
        self.requests: list[Seen] = []
        self.delivered: dict[str, list[str]] = {api: [] for api in APIS}
        self._faults: dict[str, list[int]] = {api: [] for api in APIS}
        self._hang: dict[str, asyncio.Future[int] | None] = {api: None for api in APIS}
        self.holding: dict[str, asyncio.Event] = {api: asyncio.Event() for api in APIS}
        self._changed = asyncio.Event()
        self._cond = threading.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.on_request: Callable[[Seen], None] | None = None  # a test's hook, per request

    # -- test side ---------------------------------------------------------------------

    @property
    def discord_url(self) -> str:
        return f"{self.url}/api/webhooks/{WEBHOOK_ID}/{WEBHOOK_TOKEN}"

    def fail(self, api: str, status: int = 500, times: int = 1) -> None:
        self._faults[api] += [status] * times

    def hang(self, api: str) -> None:
        self._hang[api] = asyncio.get_running_loop().create_future()

    def release(self, api: str, status: int) -> None:
        held = self._hang[api]
        assert held is not None, f"no {api} request is held"
        self._hang[api] = None
        held.set_result(status)

    def attempts(self, api: str, text: str) -> int:
        return sum(1 for seen in self.requests if seen.api == api and seen.text == text)

    async def wait_delivered(self, api: str, count: int, timeout: float = 10.0) -> list[str]:
        async with asyncio.timeout(timeout):
            while len(self.delivered[api]) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.delivered[api]

    def wait_delivered_sync(self, api: str, count: int, timeout: float = 20.0) -> list[str]:
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.delivered[api]) >= count, timeout)
        assert ok, f"{api} got {self.delivered[api]}, wanted {count} line(s)"
        return self.delivered[api]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/api/webhooks/{id}/{token}", self._discord)
        app.router.add_post("/{topic}", self._ntfy)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for api in APIS:
            held = self._hang[api]
            if held is not None and not held.done():
                held.set_result(503)
        if self._runner is not None:
            await self._runner.cleanup()

    @contextlib.contextmanager
    def in_thread(self) -> Iterator[FakeNotify]:
        """Serve from a loop on a thread of its own (for a subprocess under test)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self._threaded_start(), loop).result(10)
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    async def _threaded_start(self) -> None:
        # The events belong to the loop that serves.
        self._changed = asyncio.Event()
        await self.start()

    # -- the APIs --------------------------------------------------------------------

    async def _fault(self, api: str) -> int | None:
        held = self._hang[api]
        if held is not None:
            self.holding[api].set()
            return await held
        return self._faults[api].pop(0) if self._faults[api] else None

    def _record(self, seen: Seen) -> None:
        with self._cond:
            self.requests.append(seen)
            if 200 <= seen.status < 300 and seen.text is not None:
                self.delivered[seen.api].append(seen.text)
            self._cond.notify_all()
        self._changed.set()
        if self.on_request is not None:
            self.on_request(seen)

    async def _telegram(self, request: web.Request) -> web.Response:
        body = await request.json()
        text, chat = body.get("text"), str(body.get("chat_id"))
        status, reply = 200, {"ok": True, "result": {"message_id": len(self.requests) + 1}}
        if request.match_info["token"] != BOT_TOKEN:
            status, reply = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        elif chat != CHAT_ID:
            status = 400
            reply = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
        fault = await self._fault("telegram") if status == 200 else None
        if fault is not None:
            status, reply = fault, {"ok": False, "error_code": fault, "description": "Oops"}
            if fault == 429:
                reply["parameters"] = {"retry_after": 0}
        self._record(Seen("telegram", request.path, status, text, {"chat_id": chat}))
        return web.json_response(reply, status=status)

    async def _discord(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body.get("content")
        detail = {"allowed_mentions": body.get("allowed_mentions")}
        known = (request.match_info["id"], request.match_info["token"])
        if known != (WEBHOOK_ID, WEBHOOK_TOKEN):
            self._record(Seen("discord", request.path, 404, text, detail))
            return web.json_response({"message": "Unknown Webhook", "code": 10015}, status=404)
        if not text:
            self._record(Seen("discord", request.path, 400, text, detail))
            reply = {"message": "Cannot send an empty message", "code": 50006}
            return web.json_response(reply, status=400)
        fault = await self._fault("discord")
        if fault is not None:
            self._record(Seen("discord", request.path, fault, text, detail))
            reply = {"message": "Oops", "retry_after": 0} if fault == 429 else {"message": "Oops"}
            return web.json_response(reply, status=fault)
        self._record(Seen("discord", request.path, 204, text, detail))
        return web.Response(status=204)

    async def _ntfy(self, request: web.Request) -> web.Response:
        text = await request.text()
        auth = request.headers.get("Authorization", "")
        topic = request.match_info["topic"]
        detail = {"topic": topic, "authorization": auth, "title": request.headers.get("Title")}
        status = 200
        if self.ntfy_token is not None and auth != f"Bearer {self.ntfy_token}":
            status = 403
        fault = await self._fault("ntfy") if status == 200 else None
        status = fault if fault is not None else status
        self._record(Seen("ntfy", request.path, status, text, detail))
        if status != 200:
            reply: dict[str, Any] = {"code": 40301 if status == 403 else status * 100}
            reply["http"] = status
            reply["error"] = "forbidden" if status == 403 else "oops"
            return web.json_response(reply, status=status)
        return web.json_response({"id": "x1", "event": "message", "topic": topic, "message": text})
