"""Persistence: tables, the database handle, the hash chain. Knows nothing of YAML or click."""

from opsflow.redact import redact_url
from opsflow.store.database import Database

__all__ = ["Database", "redact_url"]
