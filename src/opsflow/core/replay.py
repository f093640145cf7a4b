"""Replaying a case's history: the state, data and open approvals its entries lead to.

What each kind of entry does (see ``engine.step`` and ``engine.migrate``): ``start``
enters the first state; ``transition``, ``timer`` and ``migration`` enter ``to_state`` in
a new visit, which drops the approvals given so far, except an internal transition's
(``detail.internal``), which stays in the visit; ``approval`` records one approval of
the current visit; every entry applies its ``data_changes`` (``to: null`` unsets a field);
``metric``, ``denied`` and ``incident`` entries change neither state nor data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsflow.jsontext import dumps

# Kinds that never enter a state, even though they name one (from == to).
STAY_KINDS = frozenset(("approval", "data", "metric", "denied", "incident", "assignment"))


@dataclass
class Replayed:
    """Where a case's history leads."""

    state: str | None = None
    visit: int = 0
    data: dict[str, Any] = field(default_factory=dict)
    approvals: set[tuple[str, str]] = field(default_factory=set)  # (event, actor)


def replay(entries: Iterable[Mapping[str, Any]]) -> Replayed:
    """Apply the entries, oldest first."""
    result = Replayed()
    for entry in entries:
        kind = entry["kind"]
        if kind not in STAY_KINDS and entry["to_state"] is not None and not _internal(entry):
            result.state = entry["to_state"]
            result.visit = 1 if kind == "start" else result.visit + 1
            result.approvals.clear()
        elif kind == "approval":
            result.approvals.add((str(entry["event"]), str(entry["actor"])))
        for name, change in (entry["data_changes"] or {}).items():
            value = change.get("to") if isinstance(change, dict) else None
            if value is None:
                result.data.pop(name, None)
            else:
                result.data[name] = value
    return result


def _internal(entry: Mapping[str, Any]) -> bool:
    detail = entry.get("detail")
    return isinstance(detail, Mapping) and detail.get("internal") is True


def differences(
    replayed: Replayed,
    case: Mapping[str, Any],
    approvals: Iterable[Mapping[str, Any]],
    finals: frozenset[str] | None,
) -> list[str]:
    """How the case row (and its approval rows) differs from what its history says."""
    found = []
    if case["state"] != replayed.state:
        found.append(f"state is '{case['state']}', the history says '{replayed.state}'")
    if _json(case["data"]) != _json(replayed.data):
        names = _changed_names(case["data"] or {}, replayed.data)
        found.append(f"data differs from the history (fields: {', '.join(names)})")
    if finals is not None and bool(case["closed"]) != (case["state"] in finals):
        found.append(f"closed is {bool(case['closed'])}, but state '{case['state']}' says not")
    if case["visit"] != replayed.visit:
        found.append(f"visit is {case['visit']}, the history says {replayed.visit}")
    given = {(a["event"], a["actor"]) for a in approvals if a["visit"] == case["visit"]}
    if given != replayed.approvals or any(a["visit"] != case["visit"] for a in approvals):
        extra = sorted(given - replayed.approvals)
        missing = sorted(replayed.approvals - given)
        found.append(f"approvals differ from the history (extra: {extra}, missing: {missing})")
    return found


def _json(data: Any) -> str:
    """The data as stored, unset (null) fields left out."""
    if not isinstance(data, dict):
        return dumps(data)
    return dumps({k: v for k, v in data.items() if v is not None})


def _changed_names(stored: Any, replayed: dict[str, Any]) -> list[str]:
    if not isinstance(stored, dict):
        return ["(not an object)"]
    names = set(stored) | set(replayed)
    return sorted(n for n in names if dumps(stored.get(n)) != dumps(replayed.get(n)))
