"""A fake SMS gateway: an HTTP server on 127.0.0.1 (a random port) that records requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FakeGateway:
    """What the gateway received, and the HTTP statuses it will answer next (then 200)."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses (each echoes the request's headers)."""
        self.failures.extend(statuses)


def _handler(gateway: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            gateway.requests.append(
                {"path": self.path, "headers": dict(self.headers.items()), "body": body}
            )
            if gateway.failures:
                status = gateway.failures.pop(0)
                # A careless gateway that echoes the credentials in its error page.
                answer = f"overloaded; you sent {self.headers.get('Authorization')}".encode()
            else:
                status = 200
                answer = json.dumps({"id": f"msg-{len(gateway.requests)}"}).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            return

    return Handler


@pytest.fixture
def gateway() -> Iterator[FakeGateway]:
    """A running fake gateway; ``gateway.url`` is its messages endpoint."""
    fake = FakeGateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
