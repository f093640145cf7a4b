"""The one unit of work (engine/unit.py): every writer goes through it; it retries a case
that moved underneath, runs hooks only after the commit, and keeps what an attempt claimed."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from opsflow.core.step import Step
from opsflow.engine import persist, unit
from opsflow.engine.unit import CaseTransaction, UnitOfWork
from opsflow.errors import Conflict, StaleCase

SRC = Path(__file__).resolve().parents[2] / "src" / "opsflow"
UNIT = SRC / "engine" / "unit.py"


def _calls(path: Path) -> list[tuple[str, int]]:
    """``persist.flush(...)`` and ``<x>.db.write()`` calls in one module, with their lines."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = node.func.value, node.func.attr
        if name == "flush" and isinstance(owner, ast.Name) and owner.id == "persist":
            found.append(("persist.flush", node.lineno))
        if name == "write" and isinstance(owner, ast.Attribute) and owner.attr == "db":
            found.append(("db.write", node.lineno))
    return found


def test_only_the_unit_of_work_flushes_steps_or_opens_write_transactions() -> None:
    elsewhere = [
        f"{path.relative_to(SRC)}:{line}: {what}"
        for path in sorted(SRC.rglob("*.py"))
        if path != UNIT and "store" not in path.parts
        for what, line in _calls(path)
    ]
    assert not elsewhere, "writes outside the unit of work:\n" + "\n".join(elsewhere)
    assert {what for what, _ in _calls(UNIT)} == {"persist.flush", "db.write"}  # check alive


def test_every_writer_goes_through_the_unit_of_work(
    engine: Any, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []
    real = UnitOfWork.run

    def counted(self: UnitOfWork[Any], work: Any) -> Any:
        runs.append(getattr(getattr(work, "func", work), "__name__", "?"))
        return real(self, work)

    monkeypatch.setattr(UnitOfWork, "run", counted)
    case = engine.start("review", {"title": "t"}, actor="ann")
    engine.set(case.id, {"title": "u"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    clock.advance(days=3)
    engine.run_due()  # the review's SLA fires through the worker
    assert runs[:3] == ["start_case", "set_data", "fire_event"]
    assert "_fire_one" in runs
    assert engine.history(case.id)[-1].kind == "timer"


def test_a_case_that_moved_underneath_is_tried_again(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    tries = []
    real = persist.flush

    def stale_once(conn: Any, wf: Any, working: Any, *args: Any, **kwargs: Any) -> Any:
        tries.append(working.id)
        if len(tries) == 1:
            raise StaleCase(working.id)
        return real(conn, wf, working, *args, **kwargs)

    monkeypatch.setattr(persist, "flush", stale_once)
    result = engine.fire(case.id, "submit", actor="ann")
    assert result.case.state == "review"
    assert tries == [case.id, case.id]
    assert [e.kind for e in engine.history(case.id)] == ["start", "transition"]


def test_a_case_that_keeps_moving_is_a_conflict_and_nothing_is_written(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    monkeypatch.setattr(unit.time, "sleep", lambda _s: None)

    def always_stale(conn: Any, wf: Any, working: Any, *args: Any, **kwargs: Any) -> Any:
        raise StaleCase(working.id)

    monkeypatch.setattr(persist, "flush", always_stale)
    with pytest.raises(Conflict, match=f"gave up after {unit.RETRIES} attempts"):
        engine.fire(case.id, "submit", actor="ann")
    monkeypatch.undo()
    assert engine.get(case.id).state == "draft"


def test_hooks_run_once_after_the_commit_and_not_for_a_retried_attempt(engine: Any) -> None:
    seen: list[tuple[str, bool]] = []
    attempts: list[int] = []
    case = engine.start("review", {"title": "t"}, actor="ann")

    def work(tx: CaseTransaction) -> str:
        attempts.append(1)
        step = tx.open(case.id)
        step.fire("submit", step.actor("ann"))
        tx.flush(step)
        if len(attempts) == 1:
            raise StaleCase(case.id)  # this attempt is rolled back: no hook for it
        return step.case.state

    class Recorder:
        has_after_transition = True

        def after_transition(self, **kwargs: Any) -> None:
            seen.append((kwargs["transition"]["event"], engine.get(case.id).state == "review"))

    shop = _Shop(engine, Recorder())
    assert unit.transact(shop, work) == "review"
    assert len(attempts) == 2
    assert seen == [("submit", True)]  # once, and the change was committed when it ran


def test_claimed_says_what_the_failed_attempt_claimed(engine: Any) -> None:
    tries = UnitOfWork[None](engine)

    def claim_then_fail(tx: CaseTransaction) -> None:
        tx.claimed = "deadline 7"
        raise RuntimeError("calculator down")

    with pytest.raises(RuntimeError):
        tries.run(claim_then_fail)
    assert tries.claimed == "deadline 7"
    assert UnitOfWork[None](engine).claimed is None


def test_a_hook_error_after_the_commit_is_handed_over_when_asked(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")
    errors: list[tuple[Step, Exception]] = []

    class Broken:
        has_after_transition = True

        def after_transition(self, **kwargs: Any) -> None:
            raise ValueError("hook bug")

    def work(tx: CaseTransaction) -> None:
        step = tx.open(case.id)
        step.fire("submit", step.actor("ann"))
        tx.flush(step)

    unit.transact(_Shop(engine, Broken()), work, lambda step, exc: errors.append((step, exc)))
    assert [str(exc) for _, exc in errors] == ["hook bug"]
    assert engine.get(case.id).state == "review"  # committed all the same


def test_a_read_only_transaction_cannot_flush(engine: Any) -> None:
    case = engine.start("review", {"title": "t"}, actor="ann")

    def sneak(tx: CaseTransaction) -> None:
        tx.flush(tx.open(case.id))

    with pytest.raises(AssertionError, match="read-only"):
        unit.read(engine, sneak)


class _Shop:
    """The engine with other plugins for the hooks (the steps keep the engine's)."""

    def __init__(self, engine: Any, hooks: Any) -> None:
        self._engine = engine
        self._hooks = hooks

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    @property
    def plugins(self) -> Any:
        return _Plugins(self._engine.plugins, self._hooks)


class _Plugins:
    def __init__(self, real: Any, hooks: Any) -> None:
        self._real = real
        self.has_after_transition = True
        self.after_transition = hooks.after_transition

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_a_keyed_repeat_replays_without_compiling_the_cases_version(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first result of a key is returned even when the case's version no longer loads."""
    from opsflow.engine.definitions import Definitions
    from opsflow.errors import ConfigError

    case = engine.start("review", {"title": "t"}, actor="ann")
    first = engine.fire(case.id, "submit", actor="ann", key="k-1")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise ConfigError("calculator plugin gone")

    monkeypatch.setattr(Definitions, "pinned", broken)
    again = engine.fire(case.id, "submit", actor="ann", key="k-1")
    assert (first.outcome, again.outcome) == ("transitioned", "replayed")
    with pytest.raises(ConfigError):  # a new fire still needs it
        engine.fire(case.id, "cancel", actor="ed")


def test_threads_sharing_an_engine_build_each_part_once(
    make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from opsflow.engine import engine as engine_module

    built: list[str] = []
    real = engine_module.Database

    def counted(url: str) -> Any:
        built.append(url)
        return real(url)

    monkeypatch.setattr(engine_module, "Database", counted)
    shared = make_engine()
    start = threading.Barrier(8)
    seen: list[Any] = []

    def first_use() -> None:
        start.wait()
        seen.append((shared.db, shared.plugins, shared.definitions))

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len({tuple(map(id, parts)) for parts in seen}) == 1
