"""The database schema, declared once as SQLModel classes: cases, history, deadlines, outbox,
schedule ticks, API tokens, passwords and more.

These classes are the place where the schema is written and edited. They are also typed
row models for reports and scripts (``Session(engine.db.engine).exec(select(CaseRow))``).
The engine itself works on SQLAlchemy Core ``Table`` objects generated from these classes
into :mod:`opsflow.store.tables` (``python -m opsflow.store.schemagen``): building eight
SQLModel classes costs a command ~60 ms and importing ``sqlalchemy.orm`` ~150 ms more,
which a ``status`` or ``fire`` never needs. A test keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from opsflow.store.types import JSONText, UTCDateTime

metadata = SQLModel.metadata


def _when(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


def _json(nullable: bool = False) -> Any:
    return Field(sa_column=Column(JSONText(), nullable=nullable))


class DefinitionRow(SQLModel, table=True):
    """A registered workflow version and the exact text it was registered with."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("workflow", "version", name="uq_definitions_version"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    workflow: str = Field(sa_column=Column(String(100), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    path: str = Field(sa_column=Column(Text, nullable=False))
    registered_at: datetime = _when()


class CaseRow(SQLModel, table=True):
    """One case: its state, data, metrics and the bookkeeping the engine needs per fire."""

    __tablename__ = "cases"
    __table_args__ = (
        # A person's inbox: each (workflow, state) newest change first, read a page at a time
        # (opsflow.engine.inbox); also every lookup by workflow and state.
        Index("ix_cases_inbox", "workflow", "state", "updated_at", "id"),
        Index("ix_cases_state_created", "state", "created_at"),  # cases --state S, newest first
        Index("ix_cases_created", "created_at"),  # cases, newest first
        Index("ix_cases_closed_updated", "closed", "updated_at"),
        Index("ix_cases_assignee", "assignee", "closed"),  # inbox --mine, search by assignee
    )

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    workflow: str = Field(sa_column=Column(String(100), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    state: str = Field(sa_column=Column(String(100), nullable=False))
    data: dict[str, Any] = _json()
    metrics: dict[str, Any] = _json()
    # event -> actors who fired it (for not_by), rule name -> edge state
    actors: dict[str, Any] = _json()
    rules: dict[str, Any] = _json()
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = _when()
    updated_at: datetime = _when()
    entered_at: datetime = _when()
    visit: int = Field(sa_column=Column(Integer, nullable=False))
    closed: bool = Field(sa_column=Column(Boolean, nullable=False))
    row_version: int = Field(sa_column=Column(Integer, nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    last_hash: str = Field(sa_column=Column(String(64), nullable=False))
    assignee: str | None = Field(default=None, sa_column=Column(String(200)))


class HistoryRow(SQLModel, table=True):
    """One entry of a case's hash-chained history."""

    __tablename__ = "history"
    __table_args__ = (UniqueConstraint("case_id", "seq", name="uq_history_case_seq"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    case_id: str = Field(sa_column=Column(String(32), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    at: datetime = _when()
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    kind: str = Field(sa_column=Column(String(20), nullable=False))
    event: str | None = Field(default=None, sa_column=Column(String(100)))
    from_state: str | None = Field(default=None, sa_column=Column(String(100)))
    to_state: str | None = Field(default=None, sa_column=Column(String(100)))
    data_changes: dict[str, Any] = _json()
    comment: str | None = Field(default=None, sa_column=Column(Text))
    detail: dict[str, Any] = _json()
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


class ApprovalRow(SQLModel, table=True):
    """An approval given in one visit of a state; deleted when the case leaves the state."""

    __tablename__ = "approvals"

    case_id: str = Field(sa_column=Column(String(32), primary_key=True))
    visit: int = Field(sa_column=Column(Integer, primary_key=True))
    event: str = Field(sa_column=Column(String(100), primary_key=True))
    actor: str = Field(sa_column=Column(String(200), primary_key=True))
    at: datetime = _when()


class DeadlineRow(SQLModel, table=True):
    """An SLA or timer armed for one visit of a state."""

    __tablename__ = "deadlines"
    __table_args__ = (
        Index("ix_deadlines_due", "status", "due_at"),
        Index("ix_deadlines_case", "case_id", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    case_id: str = Field(sa_column=Column(String(32), nullable=False))
    state: str = Field(sa_column=Column(String(100), nullable=False))
    visit: int = Field(sa_column=Column(Integer, nullable=False))
    event: str = Field(sa_column=Column(String(100), nullable=False))
    kind: str = Field(sa_column=Column(String(10), nullable=False))
    field: str | None = Field(default=None, sa_column=Column(String(100)))
    due_at: datetime = _when()
    status: str = Field(sa_column=Column(String(12), nullable=False))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(200)))
    lease_until: datetime | None = _when(nullable=True)
    done_at: datetime | None = _when(nullable=True)
    note: str | None = Field(default=None, sa_column=Column(Text))
    # failed attempts (an unexpected error, not a refusal): retried after lease_until
    attempts: int = Field(
        default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0")
    )
    # the business calendar the due time was counted on (NULL: the wall clock)
    calendar: str | None = Field(default=None, sa_column=Column(String(100)))


class OutboxRecord(SQLModel, table=True):
    """A notification written in a step's transaction and delivered after commit."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_case", "case_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    case_id: str = Field(sa_column=Column(String(32), nullable=False))
    seq: int = Field(sa_column=Column(Integer, nullable=False))
    channel: str = Field(sa_column=Column(String(100), nullable=False))
    recipient: str = Field(sa_column=Column(Text, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(Text))
    message: str = Field(sa_column=Column(Text, nullable=False))
    event: str | None = Field(default=None, sa_column=Column(String(100)))
    dedupe_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    next_attempt_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when()
    delivered_at: datetime | None = _when(nullable=True)
    claimed_by: str | None = Field(default=None, sa_column=Column(String(200)))
    lease_until: datetime | None = _when(nullable=True)


class IdempotencyRow(SQLModel, table=True):
    """The first result of a start or fire made with ``--key``."""

    __tablename__ = "idempotency_keys"

    key: str = Field(sa_column=Column(String(200), primary_key=True))
    operation: str = Field(sa_column=Column(String(10), nullable=False))
    request_hash: str = Field(sa_column=Column(String(64), nullable=False))
    case_id: str = Field(sa_column=Column(String(32), nullable=False))
    response: dict[str, Any] = _json()
    created_at: datetime = _when()


class ScheduleTickRow(SQLModel, table=True):
    """One tick of a workflow's schedule, recorded in the transaction that starts its case."""

    __tablename__ = "schedule_ticks"
    __table_args__ = (UniqueConstraint("workflow", "tick", name="uq_schedule_ticks_tick"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    workflow: str = Field(sa_column=Column(String(100), nullable=False))
    tick: datetime = _when()
    status: str = Field(sa_column=Column(String(12), nullable=False))  # started | failed
    case_id: str | None = Field(default=None, sa_column=Column(String(32)))
    worker: str = Field(sa_column=Column(String(200), nullable=False))
    created_at: datetime = _when()
    note: str | None = Field(default=None, sa_column=Column(Text))


class IncidentRow(SQLModel, table=True):
    """Automation that failed: retried with backoff, then open until someone acts on it.

    ``kind`` says what failed: a ``timer`` or ``sla`` deadline (``deadline_id``), a
    ``schedule`` tick (``tick``), or work inside a step: an ``auto`` transition, a ``fire``
    action, a ``compute`` action or a ``rule``'s actions (``target`` names which). Status:
    ``retrying`` (the worker tries again at ``next_attempt_at``), ``open`` (out of tries:
    a person retries or resolves it), ``recovered`` (a retry succeeded), ``resolved`` (closed
    by a person with a comment), ``cancelled`` (the case left the state it was for).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_due", "status", "next_attempt_at"),
        Index("ix_incidents_case", "case_id", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    kind: str = Field(sa_column=Column(String(12), nullable=False))
    target: str = Field(sa_column=Column(Text, nullable=False))  # metric lists can be long
    workflow: str = Field(sa_column=Column(String(100), nullable=False))
    case_id: str | None = Field(default=None, sa_column=Column(String(32)))
    state: str | None = Field(default=None, sa_column=Column(String(100)))
    visit: int | None = Field(default=None, sa_column=Column(Integer))
    event: str | None = Field(default=None, sa_column=Column(String(100)))
    deadline_id: int | None = Field(default=None, sa_column=Column(Integer))
    tick: datetime | None = _when(nullable=True)
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    detail: dict[str, Any] = _json()
    error: str = Field(sa_column=Column(Text, nullable=False))
    attempts: int = Field(sa_column=Column(Integer, nullable=False))
    status: str = Field(sa_column=Column(String(12), nullable=False))
    next_attempt_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    closed_at: datetime | None = _when(nullable=True)
    closed_by: str | None = Field(default=None, sa_column=Column(String(200)))
    comment: str | None = Field(default=None, sa_column=Column(Text))
    claimed_by: str | None = Field(default=None, sa_column=Column(String(200)))


class ApiTokenRow(SQLModel, table=True):
    """An API token: its prefix to find it by and the sha256 of the whole token, never the token.

    Tokens are 256 random bits, so a fast hash is enough to keep a stolen copy of the
    table useless; passwords (``users``) need a slow one.
    """

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_owner", "owner"),)

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    prefix: str = Field(sa_column=Column(String(12), nullable=False, unique=True))
    hash: str = Field(sa_column=Column(String(64), nullable=False))
    owner: str = Field(sa_column=Column(String(200), nullable=False))
    read_only: bool = Field(sa_column=Column(Boolean, nullable=False))
    created_at: datetime = _when()
    created_by: str = Field(sa_column=Column(String(200), nullable=False))
    expires_at: datetime | None = _when(nullable=True)
    last_used_at: datetime | None = _when(nullable=True)
    revoked_at: datetime | None = _when(nullable=True)
    revoked_by: str | None = Field(default=None, sa_column=Column(String(200)))


class UserRow(SQLModel, table=True):
    """A team member's local password for the board, as an argon2id hash."""

    __tablename__ = "users"

    name: str = Field(sa_column=Column(String(200), primary_key=True))
    password_hash: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _when()


class SessionRow(SQLModel, table=True):
    """A board login: the sha256 of its cookie, its CSRF token, and when it ends."""

    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_actor", "actor"),)

    id_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    actor: str = Field(sa_column=Column(String(200), nullable=False))
    csrf: str = Field(sa_column=Column(String(64), nullable=False))
    method: str = Field(sa_column=Column(String(20), nullable=False))  # password | oidc
    created_at: datetime = _when()
    last_seen_at: datetime = _when()
    expires_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)


class LoginFailureRow(SQLModel, table=True):
    """Failed logins of one user or one address, counted to slow the next attempts."""

    __tablename__ = "login_failures"

    subject: str = Field(sa_column=Column(String(300), primary_key=True))  # user:NAME | addr:IP
    failures: int = Field(sa_column=Column(Integer, nullable=False))
    first_at: datetime = _when()
    blocked_until: datetime | None = _when(nullable=True)


class OidcLoginRow(SQLModel, table=True):
    """An OpenID Connect login under way: between the redirect to the issuer and its answer.

    Keyed by the sha256 of its ``state``; the nonce and the browser's binding cookie are kept
    as hashes too. The PKCE verifier must be sent to the issuer, so it is kept as is, for
    the few minutes the login may take, and deleted when the answer comes back.
    """

    __tablename__ = "oidc_logins"
    __table_args__ = (Index("ix_oidc_logins_expires_at", "expires_at"),)

    state_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    nonce_hash: str = Field(sa_column=Column(String(64), nullable=False))
    binding_hash: str = Field(sa_column=Column(String(64), nullable=False))
    verifier: str = Field(sa_column=Column(String(128), nullable=False))
    redirect_uri: str = Field(sa_column=Column(String(2000), nullable=False))
    next_path: str = Field(sa_column=Column(String(2000), nullable=False))
    created_at: datetime = _when()
    expires_at: datetime = _when()


class AssignTurnRow(SQLModel, table=True):
    """Whose turn it is: the last automatic ``round_robin`` assignment of a (workflow, state).

    The row is locked while a step picks the next role holder, so concurrent starts on
    several hosts take turns one after another.
    """

    __tablename__ = "assign_turns"

    workflow: str = Field(sa_column=Column(String(100), primary_key=True))
    state: str = Field(sa_column=Column(String(100), primary_key=True))
    last_assignee: str = Field(sa_column=Column(String(200), nullable=False))
    turns: int = Field(sa_column=Column(Integer, nullable=False))
    updated_at: datetime = _when()


ROW_MODELS: tuple[type[SQLModel], ...] = (
    DefinitionRow,
    CaseRow,
    HistoryRow,
    ApprovalRow,
    DeadlineRow,
    OutboxRecord,
    IdempotencyRow,
    ScheduleTickRow,
    IncidentRow,
    ApiTokenRow,
    UserRow,
    SessionRow,
    LoginFailureRow,
    OidcLoginRow,
    AssignTurnRow,
)
