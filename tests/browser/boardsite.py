"""A served board for browser tests: a project, people with passwords, a real ``opsflow serve``.

:func:`serve_board` writes a project (the engine tests' ``review`` workflow and team, as
tests/service/served.py does), adds ``extra_config`` to its opsflow.yaml (e.g. ``server:``
with an OIDC issuer), creates the schema, gives every person of the team the board password
:data:`PASSWORD` and one real API token each, then starts ``python -m opsflow serve`` on a
free port of 127.0.0.1 and waits until it is ready. It needs no pytest: the screenshot
script (``screens.py``) uses it too.

:meth:`BoardSite.engine` is an Engine of this process on the served database, to make cases
the way an operator's CLI would (``site.engine().start(...)``) before a browser looks at them.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
for _folder in (TESTS, TESTS / "service"):  # local_services, served, oidc_issuer, ...
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from served import Served, write_project  # noqa: E402

from local_services import free_port  # noqa: E402
from project_cli import TEAM  # noqa: E402

PASSWORD = "board-测试-passw0rd"  # every person's board password (non-ASCII on purpose)
PEOPLE = tuple(name for name in TEAM if name != "tester")
TOKEN_OWNERS = PEOPLE  # one real API token per person: site.api(name, ...)


class BoardSite(Served):
    """A running ``opsflow serve`` of a board project, its people and an engine beside it."""

    def __init__(self, root: Path, db_url: str, tokens: dict[str, str], port: int) -> None:
        self._port = port
        self._engine: Any = None
        super().__init__(root, db_url, tokens)

    @property  # type: ignore[override]
    def port(self) -> int:
        return self._port

    @port.setter
    def port(self, _value: int) -> None:  # Served picks a free port: ours was picked first
        pass

    def url(self, path: str = "/") -> str:
        return f"{self.base}{path}"

    def engine(self) -> Any:
        """An Engine of this process on the served database (made once, closed by stop())."""
        if self._engine is None:
            from opsflow.facade import Engine

            self._engine = Engine.from_config(self.root / "opsflow.yaml", db=self.db_url)
        return self._engine

    def api(self, who: str, method: str, path: str, **kw: Any) -> Any:
        """An API request with ``who``'s real token (an httpx.Response)."""
        return self.request(method, path, who=who, **kw)

    def stop(self) -> int:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        return super().stop()


def write_board_project(root: Path, port: int, extra_config: dict[str, Any] | None) -> Path:
    """The served project: review workflow, the tests' team, admins, and ``extra_config``."""
    write_project(root)
    config = root / "opsflow.yaml"
    extra = dict(extra_config or {})
    server = dict(extra.pop("server", {}) or {})
    server.setdefault("base_url", f"http://127.0.0.1:{port}")
    extra["server"] = server
    with config.open("a", encoding="utf-8") as out:
        out.write(yaml.safe_dump(extra, allow_unicode=True, sort_keys=False))
    return config


@cache
def password_hash() -> str:
    """:data:`PASSWORD` hashed as ``opsflow user NAME --password`` hashes it (argon2id, once)."""
    from opsflow.engine import identity

    return identity._hasher().hash(identity._normal(PASSWORD))


def prepare(db_url: str, root: Path) -> dict[str, str]:
    """Schema, every person's :data:`PASSWORD`, a real token per person; the tokens."""
    from opsflow.engine import identity
    from opsflow.facade import Engine

    engine = Engine.from_config(root / "opsflow.yaml", db=db_url)
    try:
        engine.db.ensure_schema()
        for name in PEOPLE:  # set_password's hash, made once: an argon2 hash takes ~0.5 s
            identity._store_hash(engine, name, password_hash())
        return {name: identity.create_token(engine, name)[0] for name in TOKEN_OWNERS}
    finally:
        engine.close()


def serve_board(db_url: str, root: Path, extra_config: dict[str, Any] | None = None) -> BoardSite:
    """A board project in ``root`` on ``db_url``, served by a real ``opsflow serve``."""
    port = free_port()
    write_board_project(root, port, extra_config)
    return BoardSite(root, db_url, prepare(db_url, root), port)
