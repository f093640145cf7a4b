"""Who may read which cases: a workflow's ``readers:``, admins, and the people who acted.

A workflow without ``readers:`` is readable by everyone. With ``readers: [role, ...]`` its
cases are readable only by holders of those roles, admins (``admins:``), ``system``
(opsflow's own automation) and the people who acted on the case: its creator, its
assignee, and anyone with an entry in its history other than a refused attempt (a
``denied`` entry: trying and being refused is not acting). A case a person may not read
answers exactly as a case that does not exist (:class:`~opsflow.errors.NotFound`).

Which ``readers:`` count: those of the workflow's **newest registered version** (the
definition the database holds), for every case of the workflow whatever version it is
pinned to. So every host and every command agrees (the database decides, not a host's
workflows folder), and tightening ``readers:`` in a new version hides the older versions'
cases too once that version is registered (its first case, or ``opsflow migrate``).

Cost: which version is each workflow's newest is read once per engine (one small query
on ``definitions``) and kept for :data:`FRESH_SECONDS`; a case pinned to a version newer
than what was read, or a version this process registers, refreshes it at once (another
host learns of a new version within FRESH_SECONDS). The ``readers:`` of a version's text are read
once per process, and not at all when the case's own compiled version is the newest. So
a warm check of a workflow without readers costs no query, and one of a restricted
workflow at most one indexed lookup in the case's history (``uq_history_case_seq``).
Admins and ``system`` never cost anything.

Admins (``admins:``) also gate the operators' actions: :func:`require_admin`.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.engine import Connection

from opsflow.core.decide import SYSTEM
from opsflow.errors import NotFound, NotPermitted
from opsflow.language.loader import LoadContext, load_workflow_text
from opsflow.store import Database, tables

FRESH_SECONDS = 10.0  # how long the newest versions' readers are trusted without a query


class Reader(Protocol):
    """What access needs from the engine around it."""

    @property
    def db(self) -> Database: ...

    @property
    def definitions(self) -> Any: ...  # opsflow.engine.definitions.Definitions

    settings: Any

    def roles_of(self, name: str) -> frozenset[str]: ...

    def is_admin(self, name: str) -> bool: ...


class CaseLike(Protocol):
    """A case row or a working case: what deciding its readability reads."""

    @property
    def id(self) -> str: ...

    @property
    def workflow(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def created_by(self) -> str: ...


@dataclass(frozen=True)
class Restrictions:
    """Each registered workflow's newest version and the hash of its text."""

    newest: Mapping[str, int]
    hashes: Mapping[str, str]
    read_at: float
    registrations: int = 0  # Definitions.registrations when read


_KNOWN: weakref.WeakKeyDictionary[Any, Restrictions] = weakref.WeakKeyDictionary()
_BY_HASH: dict[str, frozenset[str] | None] = {}  # a version's text hash -> its readers
_LOCK = threading.Lock()


def restrictions(
    engine: Reader, conn: Connection | None = None, *, fresh: bool = False
) -> Restrictions:
    """The newest registered versions, read again when older than FRESH_SECONDS."""
    definitions = engine.definitions
    known = _KNOWN.get(definitions)
    seen = getattr(definitions, "registrations", 0)
    if (
        known is not None
        and not fresh
        and known.registrations == seen  # this process registered nothing since
        and time.monotonic() - known.read_at < FRESH_SECONDS
    ):
        return known
    if conn is None:
        with engine.db.read() as own:
            found = _newest(own)
    else:
        found = _newest(conn)
    found = replace(found, registrations=seen)
    with _LOCK:
        _KNOWN[definitions] = found
    return found


def _newest(conn: Connection) -> Restrictions:
    d = tables.definitions
    newest = select(d.c.workflow, func.max(d.c.version).label("version")).group_by(d.c.workflow)
    latest = newest.subquery()
    rows = conn.execute(
        select(d.c.workflow, d.c.version, d.c.hash).join(
            latest, and_(d.c.workflow == latest.c.workflow, d.c.version == latest.c.version)
        )
    ).all()
    return Restrictions(
        newest={r.workflow: r.version for r in rows},
        hashes={r.workflow: r.hash for r in rows},
        read_at=time.monotonic(),
    )


def _learn(engine: Reader, conn: Connection | None, hashes: list[str]) -> None:
    """Read the ``readers:`` of the stored texts with these hashes (once per process)."""
    missing = sorted({h for h in hashes if h not in _BY_HASH})
    if not missing:
        return
    d = tables.definitions
    query = select(d.c.hash, d.c.text, d.c.path).where(d.c.hash.in_(missing))
    if conn is None:
        with engine.db.read() as own:
            rows = own.execute(query).all()
    else:
        rows = conn.execute(query).all()
    ctx = engine.definitions.ctx
    for row in rows:
        _BY_HASH[row.hash] = _readers_of_text(row.text, row.path, ctx)


def restricted(engine: Reader, conn: Connection | None = None) -> dict[str, frozenset[str]]:
    """Each workflow whose newest version declares ``readers:``, with those roles."""
    known = restrictions(engine, conn)
    _learn(engine, conn, list(known.hashes.values()))
    found: dict[str, frozenset[str]] = {}
    for workflow, digest in known.hashes.items():
        readers = _BY_HASH.get(digest, frozenset())
        if readers is not None:
            found[workflow] = readers
    return found


def readers_of(
    engine: Reader, conn: Connection, workflow: str, version: int, pinned: Any = None
) -> frozenset[str] | None:
    """The readers of ``workflow``'s newest version (None: everyone) for a case pinned to
    ``version``; ``pinned``, the case's compiled version when at hand, saves a read."""
    known = restrictions(engine, conn)
    if workflow not in known.newest or version > known.newest[workflow]:
        known = restrictions(engine, conn, fresh=True)  # registered since they were read
    digest = known.hashes.get(workflow)
    if digest is None:
        return frozenset()  # not registered: closed
    if digest not in _BY_HASH and pinned is not None and pinned.hash == digest:
        _BY_HASH[digest] = pinned.readers
    _learn(engine, conn, [digest])
    return _BY_HASH.get(digest, frozenset())


def _readers_of_text(text: str, path: str, ctx: LoadContext) -> frozenset[str] | None:
    """The ``readers:`` of a stored version; a text that no longer loads is read as YAML.

    Anything unclear (not a list of names) is closed: only admins and people who acted.
    """
    loaded, _problems = load_workflow_text(text, path, ctx, trusted=True)
    if loaded is not None:
        readers = loaded.spec.readers
        return None if readers is None else frozenset(readers)
    try:
        import yaml

        raw = yaml.safe_load(text)
    except Exception:
        return frozenset()
    value = raw.get("readers") if isinstance(raw, dict) else []
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return frozenset()


def _actor(engine: Reader, actor: str | None) -> str:
    """``actor``, else the configured one (the CLI's local account or ``--as``)."""
    return actor or engine.settings.actor or ""


def sees_everything(engine: Reader, actor: str) -> bool:
    """``system`` and admins read every case."""
    return actor == SYSTEM or engine.is_admin(actor)


def readable_clause(
    engine: Reader, actor: str | None, conn: Connection | None = None
) -> ColumnElement[bool] | None:
    """A WHERE clause over ``tables.cases`` keeping the cases ``actor`` may read.

    None when every case is readable (no workflow declares readers, or the actor is an
    admin, ``system``, or holds a reader role of every restricted workflow). ``actor``
    None is the configured actor, as for every engine method.
    """
    name = _actor(engine, actor)
    if name and sees_everything(engine, name):
        return None
    hiding = restricted(engine, conn)
    if not hiding:
        return None
    roles = engine.roles_of(name) if name else frozenset()
    hidden = sorted(w for w, readers in hiding.items() if not readers & roles)
    if not hidden:
        return None
    cases, history = tables.cases, tables.history
    acted = exists().where(
        history.c.case_id == cases.c.id, history.c.actor == name, history.c.kind != "denied"
    )
    return or_(
        cases.c.workflow.not_in(hidden),
        cases.c.created_by == name,
        cases.c.assignee == name,
        acted,
    )


def restricts(engine: Reader, conn: Connection | None, actor: str | None) -> bool:
    """Whether some case may be hidden from ``actor`` (no: admins, ``system``, no readers)."""
    name = _actor(engine, actor)
    if name and sees_everything(engine, name):
        return False
    return bool(restricted(engine, conn))


def may_read(
    engine: Reader, conn: Connection, actor: str | None, case: CaseLike, pinned: Any = None
) -> bool:
    """Whether ``actor`` may read ``case`` (see the module's rules); ``pinned``: the case's
    compiled version, when at hand."""
    name = _actor(engine, actor)
    if name and sees_everything(engine, name):
        return True
    readers = readers_of(engine, conn, case.workflow, case.version, pinned)
    if readers is None:
        return True
    if name and readers & engine.roles_of(name):
        return True
    if not name:
        return False
    if case.created_by == name or getattr(case, "assignee", None) == name:
        return True
    history = tables.history
    acted = conn.execute(
        select(history.c.seq)
        .where(history.c.case_id == case.id, history.c.actor == name, history.c.kind != "denied")
        .limit(1)
    ).first()
    return acted is not None


def check_readable(
    engine: Reader,
    conn: Connection,
    actor: str | None,
    case: CaseLike,
    *,
    asked: str | None = None,
    pinned: Any = None,
) -> None:
    """NotFound, exactly as for a case that does not exist, when ``actor`` may not read it.

    ``asked`` is the id as the person gave it (a prefix), which the message repeats.
    """
    if not may_read(engine, conn, actor, case, pinned):
        # The message of a missing case: the prefix as given, or the whole id as stored.
        shown = asked if asked is not None and len(asked.strip()) < len(case.id) else case.id
        raise NotFound(f"no case '{shown}'")


# -- admins ------------------------------------------------------------------------------


def require_admin(engine: Reader, actor: str | None, doing: str, *, local: bool = False) -> None:
    """NotPermitted unless ``actor`` is listed under ``admins:``.

    ``local``: a door that trusts the local account (the CLI) checks only when the project
    names both a team and admins; a project without ``admins:`` keeps working as before.
    """
    settings = engine.settings
    if local and not (settings.team and settings.admins):
        return
    name = _actor(engine, actor)
    if not engine.is_admin(name):
        raise NotPermitted(
            f"only admins may {doing}",
            ["the admins are listed under 'admins:' in opsflow.yaml"],
        )


def token_owner(engine: Reader, prefix: str) -> str | None:
    """Whose token ``prefix`` is (None: no such token)."""
    t = tables.api_tokens
    with engine.db.read() as conn:
        found = conn.execute(select(t.c.owner).where(t.c.prefix == prefix)).scalar()
    return None if found is None else str(found)


def require_token_manager(
    engine: Reader, actor: str | None, owner: str | None, *, local: bool = False
) -> None:
    """A person manages their own tokens; another person's only as an admin."""
    if owner is not None and owner != _actor(engine, actor):
        require_admin(engine, actor, "manage another person's tokens", local=local)


__all__ = [
    "FRESH_SECONDS",
    "Restrictions",
    "check_readable",
    "may_read",
    "readable_clause",
    "readers_of",
    "require_admin",
    "require_token_manager",
    "restricted",
    "restrictions",
    "restricts",
    "sees_everything",
    "token_owner",
]
