"""The history hash chain: ``hash = sha256(previous hash + canonical entry)``."""

from __future__ import annotations

import hashlib
from typing import Any

from opsflow.jsontext import dumps

GENESIS = ""


def canonical_entry(case_id: str, entry: dict[str, Any]) -> str:
    """The canonical text of an entry: sorted keys, no spaces, UTF-8 kept."""
    return dumps({"case": case_id, **entry})


def chain_hash(prev_hash: str, case_id: str, entry: dict[str, Any]) -> str:
    """The hash of one entry given the previous entry's hash ('' for the first)."""
    return hashlib.sha256((prev_hash + canonical_entry(case_id, entry)).encode("utf-8")).hexdigest()
