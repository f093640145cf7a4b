"""The database tables as SQLAlchemy Core objects: what the engine reads and writes.

GENERATED from the SQLModel classes in :mod:`opsflow.store.models` by
``python -m opsflow.store.schemagen``; do not edit. Core tables cost a command a few
milliseconds to build, where the SQLModel classes cost ~60 ms and pull in ``sqlalchemy.orm``.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from opsflow.store.types import JSONText, UTCDateTime

metadata = MetaData()

definitions = Table(
    "definitions",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("workflow", String(length=100), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("text", Text(), nullable=False),
    Column("hash", String(length=64), nullable=False),
    Column("path", Text(), nullable=False),
    Column("registered_at", UTCDateTime(timezone=True), nullable=False),
    UniqueConstraint("workflow", "version", name="uq_definitions_version"),
)

cases = Table(
    "cases",
    metadata,
    Column("id", String(length=32), primary_key=True),
    Column("workflow", String(length=100), nullable=False),
    Column("version", Integer(), nullable=False),
    Column("state", String(length=100), nullable=False),
    Column("data", JSONText(), nullable=False),
    Column("metrics", JSONText(), nullable=False),
    Column("actors", JSONText(), nullable=False),
    Column("rules", JSONText(), nullable=False),
    Column("created_by", String(length=200), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    Column("entered_at", UTCDateTime(timezone=True), nullable=False),
    Column("visit", Integer(), nullable=False),
    Column("closed", Boolean(), nullable=False),
    Column("row_version", Integer(), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("last_hash", String(length=64), nullable=False),
    Column("assignee", String(length=200), nullable=True),
    Index("ix_cases_assignee", "assignee", "closed"),
    Index("ix_cases_closed_updated", "closed", "updated_at"),
    Index("ix_cases_created", "created_at"),
    Index("ix_cases_inbox", "workflow", "state", "updated_at", "id"),
    Index("ix_cases_state_created", "state", "created_at"),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("case_id", String(length=32), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("at", UTCDateTime(timezone=True), nullable=False),
    Column("actor", String(length=200), nullable=False),
    Column("kind", String(length=20), nullable=False),
    Column("event", String(length=100), nullable=True),
    Column("from_state", String(length=100), nullable=True),
    Column("to_state", String(length=100), nullable=True),
    Column("data_changes", JSONText(), nullable=False),
    Column("comment", Text(), nullable=True),
    Column("detail", JSONText(), nullable=False),
    Column("prev_hash", String(length=64), nullable=False),
    Column("hash", String(length=64), nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_history_case_seq"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("case_id", String(length=32), primary_key=True),
    Column("visit", Integer(), primary_key=True),
    Column("event", String(length=100), primary_key=True),
    Column("actor", String(length=200), primary_key=True),
    Column("at", UTCDateTime(timezone=True), nullable=False),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("case_id", String(length=32), nullable=False),
    Column("state", String(length=100), nullable=False),
    Column("visit", Integer(), nullable=False),
    Column("event", String(length=100), nullable=False),
    Column("kind", String(length=10), nullable=False),
    Column("field", String(length=100), nullable=True),
    Column("due_at", UTCDateTime(timezone=True), nullable=False),
    Column("status", String(length=12), nullable=False),
    Column("claimed_by", String(length=200), nullable=True),
    Column("lease_until", UTCDateTime(timezone=True), nullable=True),
    Column("done_at", UTCDateTime(timezone=True), nullable=True),
    Column("note", Text(), nullable=True),
    Column("attempts", Integer(), nullable=False, default=0, server_default="0"),
    Column("calendar", String(length=100), nullable=True),
    Index("ix_deadlines_case", "case_id", "status"),
    Index("ix_deadlines_due", "status", "due_at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("case_id", String(length=32), nullable=False),
    Column("seq", Integer(), nullable=False),
    Column("channel", String(length=100), nullable=False),
    Column("recipient", Text(), nullable=False),
    Column("subject", Text(), nullable=True),
    Column("message", Text(), nullable=False),
    Column("event", String(length=100), nullable=True),
    Column("dedupe_key", String(length=64), nullable=False, unique=True),
    Column("status", String(length=12), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
    Column("claimed_by", String(length=200), nullable=True),
    Column("lease_until", UTCDateTime(timezone=True), nullable=True),
    Index("ix_outbox_case", "case_id"),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(length=200), primary_key=True),
    Column("operation", String(length=10), nullable=False),
    Column("request_hash", String(length=64), nullable=False),
    Column("case_id", String(length=32), nullable=False),
    Column("response", JSONText(), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
)

schedule_ticks = Table(
    "schedule_ticks",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("workflow", String(length=100), nullable=False),
    Column("tick", UTCDateTime(timezone=True), nullable=False),
    Column("status", String(length=12), nullable=False),
    Column("case_id", String(length=32), nullable=True),
    Column("worker", String(length=200), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("note", Text(), nullable=True),
    UniqueConstraint("workflow", "tick", name="uq_schedule_ticks_tick"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("kind", String(length=12), nullable=False),
    Column("target", Text(), nullable=False),
    Column("workflow", String(length=100), nullable=False),
    Column("case_id", String(length=32), nullable=True),
    Column("state", String(length=100), nullable=True),
    Column("visit", Integer(), nullable=True),
    Column("event", String(length=100), nullable=True),
    Column("deadline_id", Integer(), nullable=True),
    Column("tick", UTCDateTime(timezone=True), nullable=True),
    Column("actor", String(length=200), nullable=False),
    Column("detail", JSONText(), nullable=False),
    Column("error", Text(), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("status", String(length=12), nullable=False),
    Column("next_attempt_at", UTCDateTime(timezone=True), nullable=True),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    Column("closed_at", UTCDateTime(timezone=True), nullable=True),
    Column("closed_by", String(length=200), nullable=True),
    Column("comment", Text(), nullable=True),
    Column("claimed_by", String(length=200), nullable=True),
    Index("ix_incidents_case", "case_id", "status"),
    Index("ix_incidents_due", "status", "next_attempt_at"),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer(), primary_key=True),
    Column("prefix", String(length=12), nullable=False, unique=True),
    Column("hash", String(length=64), nullable=False),
    Column("owner", String(length=200), nullable=False),
    Column("read_only", Boolean(), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("created_by", String(length=200), nullable=False),
    Column("expires_at", UTCDateTime(timezone=True), nullable=True),
    Column("last_used_at", UTCDateTime(timezone=True), nullable=True),
    Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
    Column("revoked_by", String(length=200), nullable=True),
    Index("ix_api_tokens_owner", "owner"),
)

users = Table(
    "users",
    metadata,
    Column("name", String(length=200), primary_key=True),
    Column("password_hash", Text(), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id_hash", String(length=64), primary_key=True),
    Column("actor", String(length=200), nullable=False),
    Column("csrf", String(length=64), nullable=False),
    Column("method", String(length=20), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("last_seen_at", UTCDateTime(timezone=True), nullable=False),
    Column("expires_at", UTCDateTime(timezone=True), nullable=False),
    Column("ended_at", UTCDateTime(timezone=True), nullable=True),
    Index("ix_sessions_actor", "actor"),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("subject", String(length=300), primary_key=True),
    Column("failures", Integer(), nullable=False),
    Column("first_at", UTCDateTime(timezone=True), nullable=False),
    Column("blocked_until", UTCDateTime(timezone=True), nullable=True),
)

oidc_logins = Table(
    "oidc_logins",
    metadata,
    Column("state_hash", String(length=64), primary_key=True),
    Column("nonce_hash", String(length=64), nullable=False),
    Column("binding_hash", String(length=64), nullable=False),
    Column("verifier", String(length=128), nullable=False),
    Column("redirect_uri", String(length=2000), nullable=False),
    Column("next_path", String(length=2000), nullable=False),
    Column("created_at", UTCDateTime(timezone=True), nullable=False),
    Column("expires_at", UTCDateTime(timezone=True), nullable=False),
    Index("ix_oidc_logins_expires_at", "expires_at"),
)

assign_turns = Table(
    "assign_turns",
    metadata,
    Column("workflow", String(length=100), primary_key=True),
    Column("state", String(length=100), primary_key=True),
    Column("last_assignee", String(length=200), nullable=False),
    Column("turns", Integer(), nullable=False),
    Column("updated_at", UTCDateTime(timezone=True), nullable=False),
)
