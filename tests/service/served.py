"""A real ``opsflow serve`` process for tests: a project, a database, real tokens, a port.

``serve_project(db_url, root)`` writes a project (the engine tests' workflows and team),
creates the schema and one real API token per name in :data:`TOKENS`, starts
``python -m opsflow serve`` on a free port, waits until ``/readyz`` answers 200 and returns
a :class:`Served`; ``Served.stop()`` ends it. The ``served`` fixture (tests/service/conftest.py)
does this once per module and backend.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from local_services import free_port
from opsflow_process import clean_env
from project_cli import TEAM

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
READY_WITHIN = 60.0  # seconds; a loaded CI machine starts Python slowly
# who → (owner, read-only): the tokens every served project has
TOKENS = {
    "ann": ("ann", False),
    "ann:ro": ("ann", True),
    "ed": ("ed", False),
    "pat": ("pat", False),  # an admin (admins: [pat])
}
ADMINS = ["pat"]
PASSWORDS = {"ed": "ed-长密码-1234-abcd"}  # board logins: set with opsflow's own password hashing


def write_project(root: Path, workflows: list[Path] | None = None) -> Path:
    """``root`` as a project folder: workflows/ and an opsflow.yaml with the tests' team."""
    target = root / "workflows"
    target.mkdir(parents=True, exist_ok=True)
    for path in workflows or [FIXTURES / "engine" / "review.yaml"]:
        shutil.copy(path, target / path.name)
    team = "".join(f"  {name}: {json.dumps(roles)}\n" for name, roles in TEAM.items())
    (root / "opsflow.yaml").write_text(
        f"workflows: workflows/\nteam:\n{team}admins: {json.dumps(ADMINS)}\n", encoding="utf-8"
    )
    return root


def make_tokens(db_url: str, root: Path) -> dict[str, str]:
    """The schema created, one real token per entry of :data:`TOKENS`, the PASSWORDS set."""
    from opsflow.engine.identity import create_token, set_password
    from opsflow.facade import Engine

    engine = Engine.from_config(root / "opsflow.yaml", db=db_url)
    try:
        engine.db.ensure_schema()
        for name, password in PASSWORDS.items():
            set_password(engine, name, password)
        return {
            who: create_token(engine, owner, read_only=read_only)[0]
            for who, (owner, read_only) in TOKENS.items()
        }
    finally:
        engine.close()


class Served:
    """A running ``opsflow serve``: its address, tokens, and a keep-alive client per name."""

    def __init__(
        self,
        root: Path,
        db_url: str,
        tokens: dict[str, str],
        *,
        workers: int = 1,
        wait: bool = True,
        options: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self.db_url = db_url
        self.tokens = tokens
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = root / f"serve-{self.port}.log"
        args = ["--db", db_url, "serve", "--port", str(self.port), "--workers", str(workers)]
        args += options  # more of serve's options
        with self.log_path.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "opsflow", *args],
                cwd=root,
                env=clean_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._clients: dict[str | None, httpx.Client] = {}
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until ``/readyz`` answers 200 (AssertionError with the log if it never does)."""
        deadline = time.monotonic() + READY_WITHIN
        while True:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"opsflow serve did not become ready:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]

    def client(self, who: str | None = "ann") -> httpx.Client:
        """A keep-alive client sending ``who``'s token (none for ``None``); one per name."""
        if who not in self._clients:
            headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
            self._clients[who] = httpx.Client(base_url=self.base, headers=headers, timeout=30)
        return self._clients[who]

    def request(self, method: str, path: str, who: str | None = "ann", **kw: Any) -> httpx.Response:
        return self.client(who).request(method, path, **kw)

    def start_case(self, workflow: str = "review", data: dict[str, Any] | None = None) -> str:
        answer = self.request("POST", "/v1/cases", json={"workflow": workflow, "data": data or {}})
        assert answer.status_code == 201, answer.text
        case_id: str = answer.json()["id"]
        return case_id

    def stop(self) -> int:
        """End the server (SIGTERM, as an operator's service manager does); its exit status."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def serve_project(
    db_url: str, root: Path, *, workers: int = 1, options: tuple[str, ...] = ()
) -> Served:
    """A project in ``root`` on ``db_url``, served by a real ``opsflow serve [options]``."""
    write_project(root)
    return Served(root, db_url, make_tokens(db_url, root), workers=workers, options=options)
