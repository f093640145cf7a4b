"""A real ``opsflow serve`` for the service figures: a process on a free port, with a token.

The server runs as an operator runs it (``opsflow --db URL serve --port P [--workers N] [OPTION …]``
in the project folder, no ``OPSFLOW_*`` settings of ours); the figures talk to it over TCP
on 127.0.0.1 with a keep-alive ``httpx.Client``.
"""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import clean_env, opsflow_command

READY_WITHIN = 60.0  # seconds for `opsflow serve` to answer /readyz


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_token(engine: Any, owner: str = "ann", *, read_only: bool = False) -> str:
    """A real API token for ``owner`` (only its hash is stored, as ``token create`` does)."""
    from opsflow.engine.identity import create_token

    token, _ = create_token(engine, owner, read_only=read_only)
    return token


def psycopg_dsn(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def pg_schema(url: str, schema: str | None = None, *, keep: bool = False) -> Iterator[str]:
    """``url`` pointed at a schema of its own (a throw-away one, dropped after, by default).

    A named ``schema`` is created if missing and kept when ``keep`` (a cached database).
    """
    import psycopg
    from sqlalchemy.engine import make_url

    name = schema or f"opsflow_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(psycopg_dsn(url), autocommit=True)
    admin.execute(f"CREATE SCHEMA IF NOT EXISTS {name}")
    try:
        yield (
            make_url(url)
            .update_query_dict({"options": f"-csearch_path={name}"})
            .render_as_string(hide_password=False)
        )
    finally:
        if not keep:
            admin.execute(f"DROP SCHEMA {name} CASCADE")
        admin.close()


class Served:
    """``opsflow serve`` on ``url`` in ``root`` (the project folder), until :meth:`stop`."""

    def __init__(
        self, root: Path, url: str, *, workers: int = 1, options: tuple[str, ...] = ()
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [*opsflow_command(), "--db", url, "serve", "--port", str(self.port)]
        if workers > 1:
            command += ["--workers", str(workers)]
        command += options
        self.log = (root / f"serve-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            command, cwd=root, env=clean_env(), stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_ready(root)

    def _wait_ready(self, root: Path) -> None:
        import httpx

        deadline = time.monotonic() + READY_WITHIN
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = (root / f"serve-{self.port}.log").read_text()
                raise RuntimeError(f"opsflow serve did not become ready:\n{log[-3000:]}")
            time.sleep(0.1)

    def cpu(self) -> float:
        """CPU seconds the server process has used so far (user + system, all threads)."""
        import os

        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def client(self, token: str) -> Any:
        """A keep-alive client sending ``token``."""
        import httpx

        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
