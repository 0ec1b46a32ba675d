"""Limit for journal-before-reply on this machine: the bare aiohttp handler plus a durable
SQLite journal (WAL, synchronous=FULL) with group commit. A writer thread commits whatever
bodies are queued as one transaction; each reply waits for its commit. Nothing is parsed.

A copy of ../shared/bench/journal_floor.py (DESIGN.md, "Quality bars"), only reformatted
for ruff; bench_webhook.py runs it as ``python journal_floor.py PORT``.
"""

import asyncio
import os
import queue
import sqlite3
import sys
import tempfile
import threading

from aiohttp import web

q: "queue.SimpleQueue[tuple[bytes, asyncio.Future] | None]" = queue.SimpleQueue()


def writer(path: str, loop: asyncio.AbstractEventLoop) -> None:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS alerts (id INTEGER PRIMARY KEY, body BLOB)")
    while True:
        batch = [q.get()]
        while True:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                break
        db.execute("BEGIN")
        db.executemany("INSERT INTO alerts (body) VALUES (?)", [(b,) for b, _ in batch])
        db.execute("COMMIT")
        loop.call_soon_threadsafe(_done, [f for _, f in batch])


def _done(futs):
    for f in futs:
        if not f.done():
            f.set_result(None)


async def webhook(request):
    body = await request.read()
    fut = asyncio.get_running_loop().create_future()
    q.put((body, fut))
    await fut
    return web.json_response({"status": "accepted"})


async def start(app):
    d = tempfile.mkdtemp(prefix="jfloor-")
    threading.Thread(
        target=writer,
        args=(os.path.join(d, "j.sqlite3"), asyncio.get_running_loop()),
        daemon=True,
    ).start()


app = web.Application()
app.on_startup.append(start)
app.router.add_post("/webhook", webhook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
