"""uvicorn's HTTP protocol with each answer's writes joined into one socket send.

uvicorn writes an answer's status line and headers as soon as the application sends
``http.response.start``, then the body as a second write: two ``send`` system calls, two
TCP segments, and a client woken twice, for every answer. On loopback and on a busy VM
that kernel work is a measurable part of a request (tens of µs of server CPU per fire:
docs/performance.md). :class:`JoinedWrites` holds the writes made during one turn of
the event loop and sends them together at the end of that turn: the headers and body of
an ordinary answer leave as one segment, and nothing waits for a timer.

Order is kept (every write goes through the same buffer) and a close sends what is held
first. Only small writes are held: once a turn's writes reach :data:`HOLD_AT` bytes they
are sent at once, and a larger write is not held at all, so a streamed answer reaches the
socket as it is written and uvicorn's back-pressure (it waits while the socket's buffer is
full) still holds, even for an application that streams without yielding to the loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HOLD_AT = 64 * 1024  # bytes; a turn's writes reaching this go out at once


class JoinedWrites:
    """A transport whose writes in one loop turn are sent as one (the rest is delegated)."""

    __slots__ = ("_transport", "_loop", "_held", "_size")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        chunk = data if isinstance(data, bytes) else bytes(data)
        if len(chunk) >= HOLD_AT:  # a large write: what is held, then it, at once
            self.flush()
            self._transport.write(chunk)
            return
        if self._held is None:
            self._held = [chunk]
            self._size = len(chunk)
            self._loop.call_soon(self.flush)
            return
        self._held.append(chunk)
        self._size += len(chunk)
        if self._size >= HOLD_AT:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what this turn wrote (dropped if the connection is already gone)."""
        held, self._held, self._size = self._held, None, 0
        if not held or self._transport.is_closing():
            return
        self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held, self._size = None, 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class JoinedWritesProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`JoinedWrites` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joined: Any = JoinedWrites(transport, self.loop)
        super().connection_made(joined)
