"""`opsflow serve` as a real process, answered over real HTTP."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from opsflow_process import clean_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_answers_health_readiness_and_refuses_without_a_token(
    db_url: str, workflows_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    args = ["--db", db_url, "--workflows", str(workflows_dir), "serve", "--port", str(port)]
    child = subprocess.Popen(
        [sys.executable, "-m", "opsflow", *args],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert child.poll() is None, child.stdout.read() if child.stdout else ""
                assert time.monotonic() < deadline, "opsflow serve did not start"
                time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        refused = httpx.get(f"{base}/v1/me")
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert "server" not in refused.headers  # no software banner
    finally:
        child.terminate()
        child.wait(timeout=15)
