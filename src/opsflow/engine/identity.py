"""Who is acting through the service: API tokens and local passwords.

A token is ``opsf_`` and 256 random bits (43 URL-safe characters), printed once when it is
created. The database keeps its first 12 characters (the prefix, to find and list it) and
the sha256 of the whole token: a token is random, so a fast hash already makes a copied
table useless. A password is chosen by a person and may be guessed, so it is stored with
argon2id, a slow and memory-hard hash, and checked in the same time whether or not the
person exists.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection

from opsflow.clock import later
from opsflow.engine import unit
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import Busy, Invalid, NotAuthenticated, NotFound, NotPermitted, Refused, Usage
from opsflow.store import tables
from opsflow.store.prepared import Statement, fetch

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from opsflow.engine.engine import CaseEngine

TOKEN_START = "opsf_"  # what secret scanners look for
TOKEN_PATTERN = re.compile(r"opsf_[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
PREFIX_LENGTH = 12
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token
MIN_PASSWORD = 12
MAX_PASSWORD = 1_000
REFUSED = "invalid, expired or revoked token"  # one message: no hint which

TokenStatus = Literal["active", "expired", "revoked"]


@dataclass(frozen=True)
class Identity:
    """Who a request acts as: a team member, through which token, and whether read-only."""

    actor: str
    read_only: bool
    prefix: str  # the token's, as ``token list`` shows it


@dataclass(frozen=True)
class TokenInfo:
    """An API token as ``token list`` shows it (never the token or its hash)."""

    prefix: str
    owner: str
    read_only: bool
    status: TokenStatus  # as of when it was read
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "owner": self.owner,
            "read_only": self.read_only,
            "status": self.status,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _status(row: Any, now: datetime) -> TokenStatus:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def _info(row: Any, now: datetime) -> TokenInfo:
    return TokenInfo(
        prefix=row.prefix,
        owner=row.owner,
        read_only=bool(row.read_only),
        status=_status(row, now),
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
    )


def check_member(engine: CaseEngine, name: str) -> str:
    """``name``, when it is in the team (or no team is set); NotPermitted otherwise."""
    try:
        return engine.member(name)
    except NotPermitted as exc:
        raise NotPermitted(
            exc.message,
            ["only the people listed under 'team:' in opsflow.yaml have tokens and passwords"],
        ) from None


def _by_prefix(conn: Connection, prefix: str) -> Any:
    t = tables.api_tokens
    return conn.execute(select(t).where(t.c.prefix == prefix)).first()


# Every request looks its token up: compiled once per dialect and run on the driver's
# cursor (opsflow.store.prepared), it costs what the database does, not SQLAlchemy's
# bookkeeping. Nothing is cached between requests, so a revocation holds at once.
_TOKEN_COLUMNS: tuple[str, ...] = ("id", "prefix", "hash", "owner", "read_only")
_TOKEN_COLUMNS += ("expires_at", "last_used_at", "revoked_at")
_TOKEN = Statement(
    select(*(tables.api_tokens.c[name] for name in _TOKEN_COLUMNS)).where(
        tables.api_tokens.c.prefix == bindparam("prefix")
    )
)


@dataclass(frozen=True)
class _TokenRow:
    id: int
    prefix: str
    hash: str
    owner: str
    read_only: bool
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _token_by_prefix(conn: Connection, prefix: str) -> _TokenRow | None:
    rows = fetch(conn, _TOKEN, {"prefix": prefix})
    return _TokenRow(*rows[0]) if rows else None


# -- API tokens ------------------------------------------------------------------------


def create_token(
    engine: CaseEngine,
    owner: str,
    *,
    expires: timedelta | None = None,
    read_only: bool = False,
    by: str | None = None,
) -> tuple[str, TokenInfo]:
    """A new token for ``owner`` and its listing; the token itself is never stored.

    ``owner`` must be in the team when one is set (NotPermitted); ``expires`` must be a
    positive duration (Usage).
    """
    owner = check_member(engine, owner)
    creator = engine.actor_name(by)
    if expires is not None and expires <= timedelta(0):
        raise Usage(f"a token's lifetime must be positive, got {expires}")

    def work(tx: CaseTransaction) -> tuple[str, TokenInfo]:
        token = TOKEN_START + secrets.token_urlsafe(32)  # anew on a retry (a prefix clash)
        prefix = token[:PREFIX_LENGTH]
        row = {
            "prefix": prefix,
            "hash": _digest(token),
            "owner": owner,
            "read_only": read_only,
            "created_at": tx.now,
            "created_by": creator,
            "expires_at": later(tx.now, expires) if expires is not None else None,
        }
        tx.conn.execute(insert(tables.api_tokens).values(row))
        return token, _info(_by_prefix(tx.conn, prefix), tx.now)

    return unit.transact(engine, work)


def list_tokens(engine: CaseEngine, owner: str | None = None) -> list[TokenInfo]:
    """The tokens, newest first (of ``owner`` only, when given), revoked and expired too."""
    t = tables.api_tokens
    query = select(t).order_by(t.c.created_at.desc(), t.c.id.desc())
    if owner is not None:
        query = query.where(t.c.owner == owner)
    now = engine.clock()
    with engine.db.read() as conn:
        return [_info(row, now) for row in conn.execute(query)]


def revoke_token(engine: CaseEngine, prefix: str, by: str | None = None) -> TokenInfo:
    """End the token ``prefix`` at once, on every host (NotFound; Refused when already revoked)."""
    revoker = engine.actor_name(by)
    t = tables.api_tokens

    def work(tx: CaseTransaction) -> TokenInfo:
        row = _by_prefix(tx.conn, prefix)
        if row is None:
            raise NotFound(
                f"no token with prefix {prefix!r}", ["'opsflow token list' shows the prefixes"]
            )
        if row.revoked_at is not None:
            raise Refused(f"token {prefix} was already revoked by {row.revoked_by}")
        tx.conn.execute(
            update(t).where(t.c.id == row.id).values(revoked_at=tx.now, revoked_by=revoker)
        )
        return _info(_by_prefix(tx.conn, prefix), tx.now)

    return unit.transact(engine, work)


def authenticate_token(engine: CaseEngine, token: str) -> Identity:
    """The identity a token stands for.

    NotAuthenticated for a malformed, unknown, revoked or expired token (the same message
    for each); NotPermitted when its owner is no longer in the team.
    """
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        raise NotAuthenticated(REFUSED)
    now = engine.clock()
    with engine.db.read() as conn:
        row = _token_by_prefix(conn, token[:PREFIX_LENGTH])
    stored = row.hash if row is not None else "0" * 64
    matches = hmac.compare_digest(stored.encode("ascii"), _digest(token).encode("ascii"))
    if row is None or not matches or _status(row, now) != "active":
        raise NotAuthenticated(REFUSED)
    actor = check_member(engine, row.owner)  # a token outlives a member who left: 403
    if row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY:
        _touch(engine, row.id)
    return Identity(actor=actor, read_only=bool(row.read_only), prefix=row.prefix)


def _touch(engine: CaseEngine, token_id: int) -> None:
    """Record that a token was used; at most once a minute, and never failing the request."""
    t = tables.api_tokens

    def work(tx: CaseTransaction) -> None:
        due = or_(t.c.last_used_at.is_(None), t.c.last_used_at <= tx.now - TOUCH_EVERY)
        tx.conn.execute(update(t).where(t.c.id == token_id, due).values(last_used_at=tx.now))

    with contextlib.suppress(Busy):  # the request goes on; a later one records the use
        unit.transact(engine, work)


# -- local passwords -------------------------------------------------------------------


@cache
def _hasher() -> PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106's low-memory profile)."""
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _absent_hash() -> str:
    """A hash to check against when the person has no password: the answer takes as long."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _normal(password: str) -> str:
    return unicodedata.normalize("NFC", password)  # the same password typed on any keyboard


def set_password(engine: CaseEngine, name: str, password: str) -> None:
    """Set (or replace) a team member's board password.

    NotPermitted when ``name`` is not in the team; Invalid when the password is shorter
    than 12 characters or longer than 1,000. Nothing is written on a refusal.
    """
    name = check_member(engine, name)
    if len(password) < MIN_PASSWORD:
        raise Invalid(
            f"the password is too short: {len(password)} characters, at least {MIN_PASSWORD}",
            ["a passphrase of a few words is long enough and easy to remember"],
        )
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"the password is too long: at most {MAX_PASSWORD:,} characters")
    hashed = _hasher().hash(_normal(password))  # slow: before, not inside, the transaction
    _store_hash(engine, name, hashed)


def _store_hash(engine: CaseEngine, name: str, hashed: str) -> None:
    u = tables.users

    def work(tx: CaseTransaction) -> None:
        values = {"password_hash": hashed, "updated_at": tx.now}
        found = tx.conn.execute(select(u.c.name).where(u.c.name == name)).first()
        if found is None:  # two at once: the loser's insert clashes and its retry updates
            tx.conn.execute(insert(u).values(name=name, **values))
        else:
            tx.conn.execute(update(u).where(u.c.name == name).values(values))

    unit.transact(engine, work)


def check_password(engine: CaseEngine, name: str, password: str) -> bool:
    """Whether ``password`` is ``name``'s; as slow for a person without one (or a stranger)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    u = tables.users
    stored = None
    if 0 < len(name) <= 200 and len(password) <= MAX_PASSWORD:
        with engine.db.read() as conn:
            stored = conn.execute(select(u.c.password_hash).where(u.c.name == name)).scalar()
    hasher = _hasher()
    try:
        hasher.verify(stored or _absent_hash(), _normal(password[:MAX_PASSWORD]))
    except (VerificationError, InvalidHashError):
        return False
    if stored is None:
        return False
    if hasher.check_needs_rehash(stored):  # the parameters were raised since it was set
        with contextlib.suppress(Busy):  # the login goes on; a later one upgrades it
            _store_hash(engine, name, hasher.hash(_normal(password)))
    return True
