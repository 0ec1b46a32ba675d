"""Slow, idle and piling-up clients (DESIGN.md, "Safety rules"), against a real engine.

Raw loopback sockets play the bad clients, so each test controls exactly what the server
has been sent; the good client is the door kit's HTTP client. A cut-off is seen as the
socket's end (EOF or reset), never waited for with a sleep; the timeouts around the waits
only bound how long a failing test takes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.kit.door import SECRET, Door, alert, open_door
from tvdesk.config.schema import ListenerSettings, Settings
from tvdesk.support.logs import setup_logging, stop_logging

READ_TIMEOUT_S = 1
# How long a failing test may wait for a cut-off that never comes.
PATIENCE_S = READ_TIMEOUT_S * 8


def quick(**listener: int) -> Settings:
    return Settings(
        listener=ListenerSettings(port=0, **{"read_timeout_s": READ_TIMEOUT_S, **listener})
    )


@pytest.fixture
async def door(tmp_path: Path) -> AsyncIterator[Door]:
    async with open_door(tmp_path / "data", settings=quick()) as opened:
        yield opened


async def connect(door: Door) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", door.engine.port)


async def cut_off(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sent until it closed the connection."""
    async with asyncio.timeout(PATIENCE_S):
        try:
            return await reader.read()
        except ConnectionResetError:
            return b""


async def health(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    """One keep-alive GET /health on a raw connection; its status line."""
    writer.write(b"GET /health HTTP/1.1\r\nHost: tvdesk\r\n\r\n")
    async with asyncio.timeout(PATIENCE_S):
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
    return head.split(b"\r\n")[0]


# ---------------------------------------------------------------- read timeouts


async def test_a_client_that_stops_mid_header_is_cut_off_while_alerts_go_through(door: Door):
    reader, writer = await connect(door)
    writer.write(b"POST /webhook HTTP/1.1\r\nHost: tvdesk\r\nContent-Ty")
    silent_reader, silent = await connect(door)  # and one that sends nothing at all

    ok = await door.send(alert())

    assert ok.status == 200, ok.text
    assert await cut_off(reader) == b""  # closed without a reply
    assert await cut_off(silent_reader) == b""
    writer.close()
    silent.close()


async def test_a_body_that_stalls_midway_is_cut_off(door: Door):
    body = json.dumps({**alert(), "secret": SECRET}).encode()
    reader, writer = await connect(door)
    writer.write(
        b"POST /webhook HTTP/1.1\r\nHost: tvdesk\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )

    ok = await door.send(alert())

    assert ok.status == 200, ok.text
    assert await cut_off(reader) == b""
    writer.close()
    await door.settle()
    assert len(door.records()) == 1  # the stalled alert was never taken


async def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit(tmp_path: Path):
    limit = 64 * 1024
    async with open_door(tmp_path / "data", settings=quick(max_body_bytes=limit)) as door:
        reader, writer = await connect(door)
        writer.write(
            b"POST /webhook HTTP/1.1\r\nHost: tvdesk\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # A 1 MiB body, of which only the first 72 KiB are ever sent: the server must
        # answer from those alone, so it cannot have read (or buffered) any more.
        chunk = b"x" * 4096
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        for _ in range((limit + 8 * 1024) // len(chunk)):
            writer.write(framed)
        await writer.drain()

        async with asyncio.timeout(PATIENCE_S):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), head
        writer.close()
        await door.settle()
        assert [r["error"] for r in door.records()] == ["too_large"]


# ---------------------------------------------------------------- connection cap


async def test_connections_past_the_cap_are_closed_at_once_and_logged_once(
    tmp_path: Path,
):
    cap = 3
    log_file = tmp_path / "logs" / "tvdesk.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging(log_file, console=False)
    # A long read timeout, so no connection here is closed for idling.
    settings = quick(read_timeout_s=60, max_connections=cap)
    try:
        async with open_door(tmp_path / "data", settings=settings) as door:
            held = [await connect(door) for _ in range(cap)]
            for reader, writer in held:  # each one answered: each one is in
                assert await health(reader, writer) == b"HTTP/1.1 200 OK"

            for _ in range(5):
                reader, writer = await connect(door)
                writer.write(b"GET /health HTTP/1.1\r\nHost: tvdesk\r\n\r\n")
                assert await cut_off(reader) == b""  # closed, unanswered
                writer.close()

            for reader, writer in held:  # those already in still work
                assert await health(reader, writer) == b"HTTP/1.1 200 OK"
            # One leaves (the server closing its end means it has counted it out)...
            reader, writer = held.pop()
            writer.write_eof()
            assert await cut_off(reader) == b""
            # ...and a newcomer takes its place.
            newcomer = await connect(door)
            assert await health(*newcomer) == b"HTTP/1.1 200 OK"
            for _, writer in [*held, newcomer]:
                writer.close()
    finally:
        stop_logging()
        root.handlers[:], root.level = saved
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    refused = [line for line in lines if "max_connections" in line["msg"]]
    assert len(refused) == 2, refused  # the first at once, then one with the count
    assert refused[1]["held_back"] == 4
