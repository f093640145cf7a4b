"""Board sessions: who logged in, kept server-side so that logout and expiry hold on every host.

A session id is 256 random bits, sent to the browser once in a cookie; the database keeps
only its sha256 (like a token's, a fast hash is enough for a random secret). The session's
CSRF token is derived from its id by a one-way hash: the pages may show it without
revealing the id, and only the browser that holds the cookie can compute it. The table
keeps the CSRF token's sha256 too, never the token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, delete, insert, or_, select, update

from opsflow.engine import unit
from opsflow.engine.identity import check_member
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import Busy, NotAuthenticated
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.engine.engine import CaseEngine

SESSION_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often per session
KEEP_ENDED = timedelta(days=30)  # a person's ended or expired sessions are deleted after this
REFUSED = "not logged in, or the session has ended or expired"  # one message: no hint which

LoginMethod = Literal["password", "oidc"]


@dataclass(frozen=True)
class Session:
    """A board login: who, how, until when, and the CSRF token its forms must carry.

    It reads like a token's identity (``actor``, ``read_only``, ``prefix``) so the service
    treats both alike; ``prefix`` is a short, non-secret label of the session.
    """

    actor: str
    method: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    read_only: bool = False
    prefix: str = "session"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.actor,
            "method": self.method,
            "csrf_token": self.csrf_token,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
        }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def csrf_token_of(session_id: str) -> str:
    """The CSRF token of a session: a one-way function of its id (43 URL-safe characters)."""
    raw = hashlib.sha256(b"opsflow-csrf\0" + session_id.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def csrf_matches(session_id: str, presented: str | None) -> bool:
    """Whether ``presented`` is the CSRF token of ``session_id`` (constant time)."""
    if not presented or len(presented) > 100:
        return False
    expected = csrf_token_of(session_id)
    return hmac.compare_digest(expected.encode("ascii"), presented.encode("utf-8", "replace"))


def _session(row: Any, session_id: str) -> Session:
    return Session(
        actor=row.actor,
        method=row.method,
        csrf_token=csrf_token_of(session_id),
        created_at=row.created_at,
        expires_at=row.expires_at,
        prefix=f"session:{row.id_hash[:8]}",
    )


def create_session(
    engine: CaseEngine, actor: str, method: LoginMethod, *, hours: float | None = None
) -> tuple[str, Session]:
    """A new session for ``actor`` (a team member: NotPermitted otherwise) and its id.

    It lasts ``server.session_hours`` unless ``hours`` is given. The id is returned once,
    for the cookie; the database keeps its sha256.
    """
    actor = check_member(engine, actor)
    lifetime = timedelta(hours=hours if hours is not None else engine.settings.server.session_hours)
    s = tables.sessions

    def work(tx: CaseTransaction) -> tuple[str, Session]:
        session_id = secrets.token_urlsafe(32)  # anew on a retry
        row = {
            "id_hash": _digest(session_id),
            "actor": actor,
            "csrf": _digest(csrf_token_of(session_id)),
            "method": method,
            "created_at": tx.now,
            "last_seen_at": tx.now,
            "expires_at": tx.now + lifetime,
            "ended_at": None,
        }
        # the person's long-gone sessions, found by the actor index: the table stays small
        gone = or_(s.c.ended_at < tx.now - KEEP_ENDED, s.c.expires_at < tx.now - KEEP_ENDED)
        tx.conn.execute(delete(s).where(s.c.actor == actor, gone))
        tx.conn.execute(insert(s).values(row))
        found = tx.conn.execute(select(s).where(s.c.id_hash == row["id_hash"])).one()
        return session_id, _session(found, session_id)

    return unit.transact(engine, work)


def authenticate_session(engine: CaseEngine, session_id: str) -> Session:
    """The session a cookie holds.

    NotAuthenticated for a malformed, unknown, ended or expired one (the same message for
    each); NotPermitted when its person is no longer in the team.
    """
    if not isinstance(session_id, str) or not SESSION_PATTERN.fullmatch(session_id):
        raise NotAuthenticated(REFUSED)
    s = tables.sessions
    now = engine.clock()
    with engine.db.read() as conn:
        row = conn.execute(select(s).where(s.c.id_hash == _digest(session_id))).first()
    if row is None or row.ended_at is not None or row.expires_at <= now:
        raise NotAuthenticated(REFUSED, ["log in again"])
    check_member(engine, row.actor)  # a session outlives a member who left: 403
    if row.last_seen_at <= now - TOUCH_EVERY:
        _touch(engine, row.id_hash)
    return _session(row, session_id)


def _touch(engine: CaseEngine, id_hash: str) -> None:
    """Record that a session was used; at most once a minute, and never failing the request."""
    s = tables.sessions

    def work(tx: CaseTransaction) -> None:
        due = s.c.last_seen_at <= tx.now - TOUCH_EVERY
        tx.conn.execute(update(s).where(s.c.id_hash == id_hash, due).values(last_seen_at=tx.now))

    with contextlib.suppress(Busy):  # the request goes on; a later one records the use
        unit.transact(engine, work)


def end_session(engine: CaseEngine, session_id: str) -> bool:
    """Log out: end one session at once, on every host. False when it had already ended."""
    if not isinstance(session_id, str) or not SESSION_PATTERN.fullmatch(session_id):
        return False
    s = tables.sessions

    def work(tx: CaseTransaction) -> bool:
        live = and_(s.c.id_hash == _digest(session_id), s.c.ended_at.is_(None))
        ended = tx.conn.execute(update(s).where(live).values(ended_at=tx.now))
        return bool(ended.rowcount)

    return unit.transact(engine, work)


def end_sessions_of(engine: CaseEngine, actor: str) -> int:
    """Log out everywhere: end every live session of ``actor``; how many were ended."""
    s = tables.sessions

    def work(tx: CaseTransaction) -> int:
        live = and_(s.c.actor == actor, s.c.ended_at.is_(None), s.c.expires_at > tx.now)
        ended = tx.conn.execute(update(s).where(live).values(ended_at=tx.now))
        return int(ended.rowcount)

    return unit.transact(engine, work)


__all__ = [
    "Session",
    "authenticate_session",
    "create_session",
    "csrf_matches",
    "csrf_token_of",
    "end_session",
    "end_sessions_of",
]
