"""Audit digests: the last entry of every case's history, summed up by one root hash.

Kept outside the database (write-once storage, a ticket, a log), a digest lets ``audit
verify --against`` see what the hash chains alone cannot: a history cut back to an earlier
entry (with the case row set back to match), a history rewritten from some entry on, or a
case deleted with all its history. CloudTrail's digest files work the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from opsflow.clock import iso
from opsflow.core.results import AuditProblem
from opsflow.errors import ConfigError
from opsflow.store import tables
from opsflow.store.types import dumps

FORMAT = "opsflow-audit-digest/1"


def root_of(cases: Mapping[str, Mapping[str, Any]]) -> str:
    """The root hash of a digest's cases: sha256 of their canonical JSON."""
    return hashlib.sha256(dumps(cases).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Digest:
    """Each case's last history entry (seq and hash) at the time the digest was taken."""

    taken_at: str
    cases: dict[str, dict[str, Any]]  # case id -> {"seq": N, "hash": H}

    @property
    def root(self) -> str:
        return root_of(self.cases)

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "taken_at": self.taken_at, "cases": self.cases, "root": self.root}

    @classmethod
    def take(cls, conn: Connection, now: datetime) -> Digest:
        """The digest of the database as ``conn`` sees it now."""
        c = tables.cases.c
        rows = conn.execute(select(c.id, c.seq, c.last_hash).order_by(c.id)).all()
        return cls(iso(now), {r.id: {"seq": r.seq, "hash": r.last_hash} for r in rows})

    @classmethod
    def parse(cls, text: str, source: str) -> Digest:
        """A digest read back from its JSON; ConfigError if it is not one or was edited."""
        try:
            document = json.loads(text)
            cases = {
                str(k): {"seq": int(v["seq"]), "hash": str(v["hash"])}
                for k, v in document["cases"].items()
            }
            root, taken_at = str(document["root"]), str(document.get("taken_at", ""))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ConfigError(f"{source} is not an opsflow audit digest ({exc})") from exc
        digest = cls(taken_at, cases)
        if digest.root != root:
            raise ConfigError(
                f"{source}: the root does not match the cases listed: the digest was edited"
            )
        return digest

    def check(self, case_id: str, rows: list[dict[str, Any]]) -> AuditProblem | None:
        """A problem if the case's (intact) history is shorter than, or differs from, the digest."""
        kept = self.cases.get(case_id)
        if kept is None:
            return None  # started after the digest
        seq = kept["seq"]
        if len(rows) < seq:
            return AuditProblem(
                case_id,
                len(rows) + 1,
                f"history truncated: the digest of {self.taken_at} has {seq} entries, "
                f"the database {len(rows)}",
            )
        if seq and rows[seq - 1]["hash"] != kept["hash"]:
            return AuditProblem(
                case_id,
                seq,
                f"history rewritten: entry {seq} differs from the digest of {self.taken_at}",
            )
        return None

    def deleted(self, known: Iterable[str]) -> list[AuditProblem]:
        """A problem for each case of the digest the database no longer has."""
        have = set(known)
        return [
            AuditProblem(case_id, kept["seq"], f"case deleted since the digest of {self.taken_at}")
            for case_id, kept in sorted(self.cases.items())
            if case_id not in have
        ]
