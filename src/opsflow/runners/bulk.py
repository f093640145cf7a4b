"""Bulk: one event fired on many cases, each case its own step and transaction.

A bulk fire is a loop of single fires: every case goes through ``CaseEngine.fire`` (its
dry run through the same preview), under the rules of a single fire (roles, four-eyes,
guards, readers, idempotency per case). One case refused or failing does not stop the
others; the result lists each case with its outcome or its error, and counts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from opsflow.core.results import FireResult
from opsflow.engine import CaseEngine, persist
from opsflow.engine.idempotency import MAX_KEY
from opsflow.errors import (
    Conflict,
    FieldError,
    Invalid,
    NotFound,
    NotPermitted,
    OpsflowError,
    Refused,
    Usage,
)
from opsflow.limits import MAX_NAME

if TYPE_CHECKING:
    from opsflow.engine.search import SearchQuery

ID_LENGTH = 32  # characters of a whole case id
MAX_CASES = 10_000  # cases one bulk fire may select; more is refused before anything is done
BulkStatus = Literal[
    "done", "not_permitted", "refused", "not_found", "invalid", "conflict", "failed"
]
# Every status, in the order the counts list them (a status no case had counts 0).
STATUSES: tuple[BulkStatus, ...] = (
    "done",
    "not_permitted",
    "refused",
    "not_found",
    "invalid",
    "conflict",
    "failed",
)
# The status of each kind of error (subclasses included: a reused key is refused); any other
# error (busy, usage, damaged, an internal error) counts as "failed". An item keeps its code.
_STATUS_OF_ERROR: tuple[tuple[type[OpsflowError], BulkStatus], ...] = (
    (NotPermitted, "not_permitted"),
    (Refused, "refused"),
    (NotFound, "not_found"),
    (Invalid, "invalid"),
    (Conflict, "conflict"),
)
Progress = Callable[[int, int], None]
log = logging.getLogger("opsflow.bulk")


@dataclass(frozen=True)
class BulkItem:
    """One case of a bulk fire: its outcome (``status`` "done") or its error."""

    case: str  # the id as given (or as the filter found it)
    status: BulkStatus
    outcome: str | None = None  # transitioned | approval_recorded | replayed | dry_run
    state: str | None = None  # the case's state after the fire (a dry run's: as it is)
    from_state: str | None = None
    approvals: tuple[int, int] | None = None  # (have, need) when an approval was recorded
    would: dict[str, Any] | None = None  # a dry run's {"to", "actions", "approvals"?}
    code: str | None = None  # the error's code, as problem+json and --json give it
    message: str | None = None
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"case": self.case, "status": self.status}
        if self.status != "done":
            out["error"] = {
                "code": self.code,
                "message": self.message,
                "reasons": list(self.reasons),
            }
            return out
        out.update(outcome=self.outcome, state=self.state, **{"from": self.from_state})
        if self.approvals is not None:
            out["approvals"] = {"have": self.approvals[0], "need": self.approvals[1]}
        if self.would is not None:
            out["would"] = self.would
        return out


@dataclass(frozen=True)
class BulkResult:
    """What a bulk fire did (or, a dry run, would do) to each case, with the counts."""

    event: str
    dry_run: bool
    items: tuple[BulkItem, ...]

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def counts(self) -> dict[str, int]:
        """Cases per status; every status is listed, with 0 when no case had it."""
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            counts[item.status] += 1
        return counts

    @property
    def all_done(self) -> bool:
        """Whether every case was done (would be done, in a dry run)."""
        return all(item.status == "done" for item in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "dry_run": self.dry_run,
            "total": self.total,
            "counts": self.counts,
            "results": [item.to_json() for item in self.items],
        }


def search_query(
    *,
    workflow: str | None = None,
    states: Sequence[str] = (),
    where: str | None = None,
    q: str | None = None,
    assignee: str | None = None,
    open: bool | None = None,
) -> SearchQuery:
    """The search a bulk filter stands for (the CLI's options, the API's ``filter``)."""
    from opsflow.engine.search import SearchQuery

    return SearchQuery(
        workflow=workflow,
        states=tuple(states),
        where=where,
        q=q,
        assignee=assignee,
        open=open,
    )


def bulk_fire(
    engine: CaseEngine,
    event: str,
    *,
    cases: Sequence[str] | None = None,
    query: SearchQuery | None = None,
    data: Mapping[str, Any] | None = None,
    text: Mapping[str, str] | None = None,
    comment: str | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    key: str | None = None,
    on_progress: Progress | None = None,
) -> BulkResult:
    """Fire ``event`` on each case of ``cases`` or of ``query``'s matches, one at a time.

    Refused with ``Usage`` before anything is done: both or neither of ``cases`` and
    ``query``, an empty list, more than :data:`MAX_CASES` cases (the message gives the
    count), a malformed event name or a key too long to derive the per-case keys from;
    ``NotPermitted`` for an actor outside the team (unless a dry run). A key gives each
    case the key ``f"{key}:{case_id}"``, so a repeat replays the cases done the first time.
    """
    name = engine.actor_name(actor)
    if not dry_run:
        name = engine.member(name)
    _check_event(event)
    if (cases is None) == (query is None):
        raise Usage("give the cases to fire on, or a filter that selects them (not both)")
    if key is not None:
        _check_key(key)
    if cases is not None:
        chosen = _given(cases)
    else:
        assert query is not None
        chosen = _matching(engine, query, name)
    resolved = _resolve(engine, chosen)
    items: list[BulkItem] = []
    if on_progress is not None:
        on_progress(0, len(resolved))
    for given, full_id in resolved:
        if isinstance(full_id, OpsflowError):
            items.append(_failed(given, full_id))
        else:
            case_key = None if key is None else f"{key}:{full_id}"
            # fired by the id as given: a case the actor may not read is "no case 'GIVEN'"
            one = partial(engine.fire, given, event, actor=name, data=data, text=text)
            items.append(_fire_one(one, given, comment=comment, key=case_key, dry_run=dry_run))
        if on_progress is not None:
            on_progress(len(items), len(resolved))
    return BulkResult(event=event, dry_run=dry_run, items=tuple(items))


def selected_count(
    engine: CaseEngine,
    *,
    cases: Sequence[str] | None = None,
    query: SearchQuery | None = None,
    actor: str | None = None,
) -> int:
    """How many cases a bulk fire of ``cases`` or ``query`` would select (to confirm it)."""
    if query is None:
        return len(dict.fromkeys(cases or ()))
    return engine.search_count(query, engine.actor_name(actor))


def _check_event(event: str) -> None:
    if not event or len(event) > MAX_NAME or not event.isprintable():
        raise Usage(f"an event name is 1 to {MAX_NAME} printable characters, got {event[:40]!r}")


def _too_many(count: int, what: str) -> Usage:
    return Usage(
        f"{what} {count:,} cases; a bulk fire takes at most {MAX_CASES:,}, so nothing was done",
        ["narrow the filter, or split the cases into several bulk fires"],
    )


def _given(cases: Iterable[str]) -> list[str]:
    """The ids of an explicit list, each once, in the order given (checked before any read)."""
    chosen = list(dict.fromkeys(cases))
    if not chosen:
        raise Usage("no cases given: name at least one case, or give a filter")
    if len(chosen) > MAX_CASES:
        raise _too_many(len(chosen), "the list names")
    bad = next((c for c in chosen if not isinstance(c, str) or not c or len(c) > MAX_NAME), None)
    if bad is not None:
        raise Usage(f"not a case id: {str(bad)[:40]!r}")
    return chosen


def _matching(engine: CaseEngine, query: SearchQuery, actor: str) -> list[str]:
    """The ids of the cases ``query`` matches that ``actor`` may read (at most MAX_CASES)."""
    ids = engine.search_ids(query, actor, cap=MAX_CASES)
    if len(ids) > MAX_CASES:
        raise _too_many(selected_count(engine, query=query, actor=actor), "the filter matches")
    return list(dict.fromkeys(ids))


def _check_key(key: str) -> None:
    """Refuse a key that would make a per-case key longer than the store keeps."""
    if len(key) + 1 + ID_LENGTH > MAX_KEY:
        raise Usage(
            f"a bulk fire's idempotency key is at most {MAX_KEY - 1 - ID_LENGTH} characters",
            ["each case's key is the key, ':' and the case's id"],
        )


def _resolve(engine: CaseEngine, chosen: Sequence[str]) -> list[tuple[str, str | OpsflowError]]:
    """Each id with its whole id, or the error resolving it raised (a prefix's).

    A prefix and the whole id of one case are one case: it is kept once, where it first
    appears. A whole id is taken as it is (no query); the fire reports a missing case.
    """
    out: list[tuple[str, str | OpsflowError]] = []
    seen: set[str] = set()
    with engine.db.read() as conn:
        for given in chosen:
            try:
                full_id = persist.resolve_case_id(conn, given)
            except OpsflowError as exc:
                out.append((given, exc))
                continue
            if full_id not in seen:
                seen.add(full_id)
                out.append((given, full_id))
    return out


def _fire_one(fire: Callable[..., FireResult], given: str, **options: Any) -> BulkItem:
    """One case's fire (its own unit of work) as an item; its error as an item too."""
    try:
        result = fire(**options)
    except OpsflowError as exc:
        return _failed(given, exc)
    except FieldError as exc:
        return _failed(given, Invalid(str(exc), [str(exc)]))
    except Exception as exc:  # one case's bug does not stop the others: logged, counted failed
        log.exception("bulk fire on case %s failed", given)
        return BulkItem(
            case=given,
            status="failed",
            code="error",
            message=f"internal error: {type(exc).__name__}",
        )
    return _done(given, result)


def _done(given: str, result: FireResult) -> BulkItem:
    return BulkItem(
        case=given,
        status="done",
        outcome=result.outcome,
        state=result.case.state,
        from_state=result.from_state,
        approvals=result.approvals,
        would=result.would,
    )


def _failed(given: str, error: OpsflowError) -> BulkItem:
    return BulkItem(
        case=given,
        status=next((s for kind, s in _STATUS_OF_ERROR if isinstance(error, kind)), "failed"),
        code=error.code,
        message=error.message,
        reasons=tuple(error.reasons),
    )


__all__ = [
    "MAX_CASES",
    "STATUSES",
    "BulkItem",
    "BulkResult",
    "bulk_fire",
    "search_query",
    "selected_count",
]
