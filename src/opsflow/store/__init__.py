"""Persistence: tables, the database handle, the hash chain. Knows nothing of YAML or click."""

from opsflow.store.database import Database, redact_url

__all__ = ["Database", "redact_url"]
