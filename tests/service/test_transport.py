"""Each answer leaves in one socket write (service/transport.py), in order, and nothing is lost.

The unit tests drive :class:`JoinedWrites` on a real event loop with a recording transport;
the last test serves real requests with uvicorn on TCP and counts the writes that reach the
socket's transport per answer (two with uvicorn's own protocol, one with ours).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from uvicorn.importer import import_from_string
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from opsflow.cli.serve import PROTOCOL
from opsflow.service.transport import HOLD_AT, JoinedWrites, JoinedWritesProtocol


class Recording:
    """A transport that records what reaches it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.calls: list[str] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def write_eof(self) -> None:
        self.calls.append("write_eof")

    def close(self) -> None:
        self.calls.append("close")
        self.closing = True

    def abort(self) -> None:
        self.calls.append("abort")
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name == "sockname" else default


def run_alone(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run(main())`` on a thread of its own: the suite's browser tests leave an
    event loop running on the main thread (Playwright's), where ``asyncio.run`` refuses."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the event loop did not finish"
    if failed:
        raise failed[0]


def turn(body: Any) -> Recording:
    """``body(joined)`` run in one loop turn, then the loop run until its callbacks are done."""
    recording = Recording()

    async def main() -> None:
        joined = JoinedWrites(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        body(joined)
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    run_alone(main)
    return recording


def test_the_writes_of_one_turn_leave_as_one_in_order() -> None:
    got = turn(lambda t: (t.write(b"HTTP/1.1 200 OK\r\n\r\n"), t.write(b"{}"), t.write(b"!")))
    assert got.writes == [b"HTTP/1.1 200 OK\r\n\r\n{}!"]


def test_a_single_write_leaves_unchanged() -> None:
    assert turn(lambda t: t.write(bytearray(b"abc"))).writes == [b"abc"]


def test_nothing_is_written_before_the_turn_ends() -> None:
    recording = Recording()
    seen: list[list[bytes]] = []

    async def main() -> None:
        joined = JoinedWrites(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"head")
        seen.append(list(recording.writes))
        await asyncio.sleep(0)
        joined.write(b"next turn")
        await asyncio.sleep(0)

    run_alone(main)
    assert seen == [[]]
    assert recording.writes == [b"head", b"next turn"]  # a streamed answer still flows


def test_small_writes_reaching_the_limit_go_out_at_once_in_the_turn() -> None:
    recording = Recording()
    seen: list[list[int]] = []
    part = b"x" * (HOLD_AT // 2)

    async def main() -> None:
        joined = JoinedWrites(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"head")
        joined.write(part)
        seen.append([len(w) for w in recording.writes])  # still held
        joined.write(part)
        seen.append([len(w) for w in recording.writes])  # past the limit: sent
        joined.write(b"tail")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    run_alone(main)
    assert seen == [[], [4 + HOLD_AT]]
    assert recording.writes == [b"head" + part + part, b"tail"]


def test_a_large_write_goes_out_at_once_after_what_is_held() -> None:
    big = b"y" * HOLD_AT
    recording = Recording()
    seen: list[list[bytes]] = []

    async def main() -> None:
        joined = JoinedWrites(recording, asyncio.get_running_loop())  # type: ignore[arg-type]
        joined.write(b"HTTP/1.1 200 OK\r\n\r\n")
        joined.write(memoryview(big))
        seen.append(list(recording.writes))
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    run_alone(main)
    assert seen == [[b"HTTP/1.1 200 OK\r\n\r\n", big]]
    assert recording.writes == seen[0]  # nothing left for the end of the turn


def test_writelines_goes_through_the_same_buffer() -> None:
    got = turn(lambda t: (t.write(b"a"), t.writelines([b"b", b"c"]), t.write(b"d")))
    assert got.writes == [b"abcd"]


def test_close_sends_what_is_held_first() -> None:
    got = turn(lambda t: (t.write(b"last answer"), t.close()))
    assert got.writes == [b"last answer"]
    assert got.calls == ["close"]


def test_write_eof_sends_what_is_held_first() -> None:
    got = turn(lambda t: (t.write(b"x"), t.write_eof()))
    assert got.writes == [b"x"]
    assert got.calls == ["write_eof"]


def test_abort_drops_what_is_held() -> None:
    got = turn(lambda t: (t.write(b"never sent"), t.abort()))
    assert got.writes == []
    assert got.calls == ["abort"]


def test_a_connection_gone_before_the_turn_ends_is_not_written_to() -> None:
    def lost(t: JoinedWrites) -> None:
        t.write(b"for a client that left")
        t._transport.closing = True  # type: ignore[attr-defined]  # the peer went away

    assert turn(lost).writes == []


def test_everything_else_is_the_transports() -> None:
    got = turn(lambda t: t.write(t.get_extra_info("sockname")[0].encode()))
    assert got.writes == [b"127.0.0.1"]


def test_serve_names_the_protocol_uvicorn_imports() -> None:
    assert import_from_string(PROTOCOL) is JoinedWritesProtocol
    assert issubclass(JoinedWritesProtocol, HttpToolsProtocol)


# -- over TCP --------------------------------------------------------------------------------

COUNTED: list[int] = []  # writes per connection's transport, in connection order


class Counting:
    """The socket's transport, counting the writes that reach it."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.index = len(COUNTED)
        COUNTED.append(0)

    def write(self, data: bytes) -> None:
        COUNTED[self.index] += 1
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class CountedJoined(JoinedWritesProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counting(transport))  # type: ignore[arg-type]


class CountedPlain(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(Counting(transport))  # type: ignore[arg-type]


STREAMED = 32 * 1024 * 1024  # bytes, in chunks that never give the loop a turn


async def answer(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI answer, as Starlette's Response and the fast path send it (``/stream``:
    a large body streamed by an application that never yields to the loop on its own)."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        size = int(scope["query_string"].decode().partition("=")[2])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(STREAMED // size):
            await send({"type": "http.response.body", "body": b"z" * size, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b'{"ok": true}'})


@contextmanager
def serving(protocol: type[asyncio.Protocol]) -> Iterator[tuple[str, uvicorn.Server]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        answer, host="127.0.0.1", port=port, http=protocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped before it started"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize(("protocol", "writes"), [(CountedJoined, 1), (CountedPlain, 2)])
def test_over_tcp_each_answer_reaches_the_socket_in_one_write(
    protocol: type[asyncio.Protocol], writes: int
) -> None:
    COUNTED.clear()
    with serving(protocol) as (base, _), httpx.Client(base_url=base) as client:
        answers = [client.get("/") for _ in range(5)]  # one keep-alive connection
        assert [a.status_code for a in answers] == [200] * 5
        assert all(a.json() == {"ok": True} and a.headers["x-a"] == "1" for a in answers)
        closing = client.get("/", headers={"Connection": "close"})
        assert closing.json() == {"ok": True}  # held bytes are sent before the close
    assert sum(COUNTED) == 6 * writes


@pytest.mark.parametrize("chunk", [16 * 1024, 256 * 1024])
def test_a_streamed_answer_to_a_slow_reader_waits_for_the_socket(chunk: int) -> None:
    """uvicorn's back-pressure holds: a client that does not read gets ~one socket buffer,
    not the whole body held in memory (small chunks are joined, then sent past the limit)."""
    with serving(JoinedWritesProtocol) as (base, server):
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as reader:
            reader.sendall(f"GET /stream?chunk={chunk} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            time.sleep(0.5)  # not reading
            (connection,) = server.server_state.connections
            transport: Any = connection.transport
            assert isinstance(transport, JoinedWrites)
            assert transport._size < HOLD_AT  # what the turn holds
            assert transport.get_write_buffer_size() < 2 * 1024 * 1024  # the socket's queue
            reader.settimeout(30)
            received = bytearray()
            while not received.endswith(b"0\r\n\r\n"):
                data = reader.recv(1 << 20)
                assert data, "the connection closed before the end of the body"
                received += data
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body.count(b"z") == STREAMED
