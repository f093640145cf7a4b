"""The demo's last part: one real call to the HTTP API, on a free port of 127.0.0.1.

The service runs in a thread for the one request, on the demo's own engine, and stops.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opsflow.facade import Engine

START_TIMEOUT = 15.0  # seconds for uvicorn to listen
SHOWN_KEYS = ("id", "workflow", "state", "closed")


def available() -> bool:
    """Whether the ``opsflow[server]`` extra is installed."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return False
    return True


def demo_token(engine: Engine, owner: str) -> str:
    """A read-only token for ``owner``, valid for 30 days."""
    from opsflow.engine.identity import create_token

    token, _info = create_token(engine, owner, expires=timedelta(days=30), read_only=True, by=owner)
    return token


def demo_password(engine: Engine, name: str) -> str:
    """Set a new random board password for ``name`` (as ``opsflow user NAME --password``)."""
    from opsflow.engine.identity import set_password

    password = secrets.token_urlsafe(12)  # 16 characters, 96 random bits
    set_password(engine, name, password)
    return password


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def ask_once(engine: Engine, path: str, token: str) -> tuple[int, str]:
    """GET ``path`` from the API served on a free local port; (status, a short answer)."""
    import uvicorn

    from opsflow.service import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(engine), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="opsflow-demo-serve", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise OSError("the service did not start")
            time.sleep(0.05)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (local)
                status, body = answer.status, answer.read()
        except urllib.error.HTTPError as refused:
            status, body = refused.code, refused.read()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return status, _short(body)


def _short(body: bytes) -> str:
    """The answer's key fields as JSON (the whole case would fill the screen)."""
    try:
        found: Any = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(found, dict):
        found = {k: found[k] for k in SHOWN_KEYS if k in found} | {"…": "…"}
    return json.dumps(found, ensure_ascii=False)
