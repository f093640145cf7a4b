"""Logging in to the board with a password, and slowing down whoever keeps guessing.

Failed logins are counted per user name and per client address in ``login_failures``, so
the count holds across hosts. Past a few failures within a window, the next attempts are
refused for a while (429 with Retry-After), the wait doubling with each further failure:
an address is allowed more failures than one name, since an office may share one address.
While blocked, the password is not even checked, so the right one is refused too; a
success clears the name's count (not the address's: logging in to one's own account must
not buy more guesses at another's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select, update

from opsflow.engine import unit
from opsflow.engine.identity import check_password
from opsflow.engine.sessions import Session, create_session
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import NotAuthenticated, NotPermitted, RateLimited
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.engine.engine import CaseEngine

WINDOW = timedelta(minutes=15)  # failures further apart than this start a new count
FIRST_WAIT = timedelta(seconds=30)  # the wait after the limit is reached; doubles after
LONGEST_WAIT = timedelta(hours=1)
FORGET = timedelta(days=1)  # rows untouched this long are deleted
WRONG = "wrong user name or password"  # one message: no hint which


@dataclass(frozen=True)
class Limit:
    """How many failures of one kind of subject are let through within :data:`WINDOW`."""

    kind: str  # the subject's prefix in login_failures
    failures: int


PER_USER = Limit("user", 5)
PER_ADDRESS = Limit("addr", 20)


def subjects(name: str, address: str | None) -> list[tuple[str, Limit]]:
    """The ``login_failures`` rows one attempt counts against."""
    found = [(f"{PER_USER.kind}:{name[:250]}", PER_USER)]
    if address:
        found.append((f"{PER_ADDRESS.kind}:{address[:250]}", PER_ADDRESS))
    return found


def wait_after(failures: int, limit: Limit) -> timedelta | None:
    """How long the next attempt is refused after ``failures`` (None: not at all)."""
    if failures < limit.failures:
        return None
    doublings = min(failures - limit.failures, 20)
    return min(FIRST_WAIT * 2**doublings, LONGEST_WAIT)


def check_throttle(engine: CaseEngine, name: str, address: str | None) -> None:
    """RateLimited when the name or the address is blocked now, with the seconds left."""
    f = tables.login_failures
    keys = [subject for subject, _limit in subjects(name, address)]
    now = engine.clock()
    with engine.db.read() as conn:
        rows = conn.execute(select(f).where(f.c.subject.in_(keys))).all()
    until = max(
        (r.blocked_until for r in rows if r.blocked_until and r.blocked_until > now), default=None
    )
    if until is not None:
        seconds = math.ceil((until - now).total_seconds())
        raise RateLimited(
            f"too many failed logins: try again in {seconds} seconds",
            seconds,
            ["each further failure doubles the wait; ask an admin to reset your password"],
        )


def record_failure(engine: CaseEngine, name: str, address: str | None) -> None:
    """Count one failed login against the name and the address, blocking past the limit."""
    f = tables.login_failures

    def work(tx: CaseTransaction) -> None:
        for subject, limit in subjects(name, address):
            query = select(f).where(f.c.subject == subject)
            if tx.shop.db.row_locks:
                query = query.with_for_update()  # two hosts counting at once add up
            row = tx.conn.execute(query).first()
            if row is None:
                tx.conn.execute(
                    insert(f).values(subject=subject, **_counted(1, tx.now, tx.now, limit))
                )
                continue
            if _stale(row, tx.now):
                values = _counted(1, tx.now, tx.now, limit)
            else:
                values = _counted(row.failures + 1, row.first_at, tx.now, limit)
            tx.conn.execute(update(f).where(f.c.subject == subject).values(values))
        old = tx.now - FORGET  # strangers' names must not pile up
        forgotten = or_(f.c.blocked_until.is_(None), f.c.blocked_until < old)
        tx.conn.execute(delete(f).where(f.c.first_at < old, forgotten))

    unit.transact(engine, work)


def _stale(row: Any, now: datetime) -> bool:
    """Whether a count is old enough to start again: its window and any wait are over."""
    since = max(row.first_at, row.blocked_until or row.first_at)
    return bool(since <= now - WINDOW)


def _counted(failures: int, first_at: datetime, now: datetime, limit: Limit) -> dict[str, Any]:
    wait = wait_after(failures, limit)
    return {
        "failures": failures,
        "first_at": first_at,
        "blocked_until": now + wait if wait is not None else None,
    }


def clear_failures(engine: CaseEngine, name: str) -> None:
    """Forget the failed logins of a name (after a success)."""
    f = tables.login_failures
    subject = subjects(name, None)[0][0]

    def work(tx: CaseTransaction) -> None:
        tx.conn.execute(delete(f).where(f.c.subject == subject))

    unit.transact(engine, work)


def password_login(
    engine: CaseEngine, name: str, password: str, address: str | None = None
) -> tuple[str, Session]:
    """Log ``name`` in with a password: a new session and its id (for the cookie).

    NotPermitted when password login is turned off, or the person is not in the team;
    RateLimited while the name or the address is blocked; NotAuthenticated for a wrong
    password, an unknown name and a name without a password alike (in about the same time).
    """
    if not engine.settings.server.password_login:
        raise NotPermitted(
            "password login is turned off", ["log in with the organisation's single sign-on"]
        )
    check_throttle(engine, name, address)
    if not check_password(engine, name, password):
        record_failure(engine, name, address)
        raise NotAuthenticated(WRONG)
    clear_failures(engine, name)
    return create_session(engine, name, "password")  # NotPermitted when not in the team


__all__ = [
    "PER_ADDRESS",
    "PER_USER",
    "check_throttle",
    "clear_failures",
    "password_login",
    "record_failure",
    "wait_after",
]
