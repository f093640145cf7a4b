"""A threaded HTTP server for tests that stays quiet when its client has gone.

``http.server`` prints a traceback to stderr when a handler fails, for example when a
client timed out and the answer meets a closed socket. That happens in a server thread,
possibly after its test ended, and lands in whatever output the next test captures.
"""

from __future__ import annotations

import logging
from http.server import ThreadingHTTPServer
from typing import Any

log = logging.getLogger("tests.http_servers")


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("a test server's handler failed for %s", client_address, exc_info=True)
