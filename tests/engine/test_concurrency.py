"""Concurrent steps on one case: serialised, nothing lost, exactly one winner (SPEC §6)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from opsflow.errors import OpsflowError, Refused


def _run_threads(target: Any, count: int) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        barrier.wait()
        try:
            target(index)
        except BaseException as exc:  # collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_concurrent_writers_lose_nothing(make_engine: Any) -> None:
    team = {"ann": ["author"], **{f"w{i}": [] for i in range(4)}}
    engines = [make_engine(team=team) for _ in range(4)]
    case = engines[0].start("review", {"title": "race", "score": 0}, actor="ann")
    per_writer = 15

    def writer(index: int) -> None:
        for n in range(per_writer):
            engines[index].set(case.id, {"score": index * per_writer + n}, actor=f"w{index}")

    assert _run_threads(writer, 4) == []
    entries = engines[0].history(case.id)
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    data_entries = [e for e in entries if e.kind == "data"]
    assert len(data_entries) == 4 * per_writer
    assert {e.actor for e in data_entries} == {"w0", "w1", "w2", "w3"}
    assert engines[0].audit_verify()[1] == []
    assert engines[0].get(case.id).row_version == 1 + 4 * per_writer


@pytest.mark.parametrize("attempt", range(3))
def test_racing_events_have_exactly_one_winner(make_engine: Any, attempt: int) -> None:
    engines = [make_engine() for _ in range(2)]
    case = engines[0].start("review", {"title": f"race {attempt}"}, actor="ann")
    results: list[str] = []

    def fire(index: int) -> None:
        try:
            engines[index].fire(case.id, "submit", actor="ann")
            results.append("won")
        except Refused:
            results.append("refused")

    errors = _run_threads(fire, 2)
    assert errors == []
    assert sorted(results) == ["refused", "won"]
    transitions = [e for e in engines[0].history(case.id) if e.kind == "transition"]
    assert len(transitions) == 1


def test_errors_are_opsflow_errors(make_engine: Any) -> None:
    engine = make_engine()
    with pytest.raises(OpsflowError):
        engine.fire("0" * 32, "submit", actor="ann")
