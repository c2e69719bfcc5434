"""Streaming gzip of responses over 1 KiB for clients that accept it (CONTRACTS.md: caching).

The response start is held back only until the first body chunk shows whether the body is worth
compressing; after that chunks are compressed and sent as they come, never buffered whole.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

MIN_SIZE = 1024
LEVEL = 5  # close to level 6's ratio at a fraction of the CPU
# Chunks this large are compressed off the event loop (zlib releases the GIL) so other requests run.
OFFLOAD_SIZE = 256 * 1024

# Media that is already compressed, or streams that must flush each event at once.
_SKIP_PREFIXES = (b"image/", b"video/", b"audio/", b"font/woff", b"text/event-stream")
_SKIP_TYPES = frozenset(
    {b"application/zip", b"application/gzip", b"application/zstd", b"application/octet-stream"}
)


def accepts_gzip(accept_encoding: bytes | None) -> bool:
    if not accept_encoding:
        return False
    for part in accept_encoding.lower().split(b","):
        coding, _, params = part.strip().partition(b";")
        if coding.strip() in (b"gzip", b"*"):
            return params.replace(b" ", b"") not in (b"q=0", b"q=0.0", b"q=0.00", b"q=0.000")
    return False


def _worth_compressing(status: int, headers: list[tuple[bytes, bytes]]) -> bool:
    if status < 200 or status in (204, 304):
        return False
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-encoding":
            return False
        if lname == b"content-length" and int(value) <= MIN_SIZE:
            return False
        if lname == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            if media in _SKIP_TYPES or (media.startswith(_SKIP_PREFIXES) and media != b"image/svg+xml"):
                return False
        if lname == b"cache-control" and b"no-transform" in value.lower():
            return False
    return True


def _compressed_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    vary_done = False
    for name, value in headers:
        lname = name.lower()
        if lname == b"content-length":
            continue
        if lname == b"etag" and value.startswith(b'"'):
            value = b"W/" + value  # the bytes differ from the identity representation's
        if lname == b"vary":
            vary_done = True
            if b"accept-encoding" not in value.lower():
                value += b", Accept-Encoding"
        out.append((name, value))
    out.append((b"content-encoding", b"gzip"))
    if not vary_done:
        out.append((b"vary", b"Accept-Encoding"))
    return out


class GzipSend:
    """An ASGI `send` that gzips the response it is given when that pays."""

    __slots__ = ("_compressor", "_held_start", "_passthrough", "_send")

    def __init__(self, send: Any) -> None:
        self._send = send
        self._held_start: dict[str, Any] | None = None
        self._compressor: Any = None
        self._passthrough = False

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if _worth_compressing(message["status"], message.get("headers", [])):
                self._held_start = message
            else:
                self._passthrough = True
                await self._send(message)
            return
        if self._passthrough or message["type"] != "http.response.body":
            await self._send(message)
            return
        body: bytes = message.get("body", b"")
        more: bool = message.get("more_body", False)
        if self._compressor is None:
            start = self._held_start
            assert start is not None, "body before response start"
            if not more and len(body) <= MIN_SIZE:
                self._passthrough = True
                await self._send(start)
                await self._send(message)
                return
            self._compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
            await self._send({**start, "headers": _compressed_headers(start.get("headers", []))})
        out = await self._compress(body) if body else b""
        if not more:
            out += self._compressor.flush()
        if out or not more:
            await self._send({"type": "http.response.body", "body": out, "more_body": more})

    async def _compress(self, body: bytes) -> bytes:
        if len(body) >= OFFLOAD_SIZE:
            return await asyncio.to_thread(self._compressor.compress, body)
        result: bytes = self._compressor.compress(body)
        return result
