"""Many processes on the same cases (SPEC §6 "no lost updates"), on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from faults_helpers import FaultProject, clean_env, history_of, wait_all

# One process running several CLI invocations (real exit codes, one interpreter start-up).
SETS = """
import sys
from opsflow.cli import cli
url, n, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for i in range(6):
    case_id, comment = cases[i % len(cases)], f"p{n}-{i}"
    args = ["--db", url, "--as", "ann", "set", case_id, f"count={n * 100 + i}"]
    args += ["--comment", comment]
    try:
        code = cli.main(args, prog_name="opsflow", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    print(f"RESULT {case_id} {comment} {code or 0}", flush=True)
"""

# One process firing one event when the gate file appears, so that the racers really overlap.
RACER = """
import os, sys, time
from opsflow.cli import cli
url, actor, case_id, event, gate = sys.argv[1:6]
print("READY", flush=True)
while not os.path.exists(gate):
    time.sleep(0.001)
try:
    code = cli.main(["--db", url, "--as", actor, "fire", case_id, event],
                    prog_name="opsflow", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
print(f"\\nRESULT {code or 0}", flush=True)
"""


def spawn(project: FaultProject, script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=project.root,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )


def test_many_processes_firing_on_the_same_cases(fault_project: FaultProject) -> None:
    """3 processes x 6 sets over 2 cases: every acknowledged set is in the history once."""
    cases = fault_project.start(2)
    procs = [spawn(fault_project, SETS, fault_project.url, str(n), *cases) for n in range(3)]
    acked: dict[str, list[str]] = {c: [] for c in cases}
    codes: Counter[str] = Counter()
    for code, out, err in wait_all(procs):
        assert code == 0, err
        assert "Traceback" not in err
        for line in out.splitlines():
            if not line.startswith("RESULT "):
                continue  # what `opsflow set` itself prints
            _, case_id, comment, result = line.split()
            codes[result] += 1
            assert result in ("0", "6", "75"), err  # a loser is told to retry, never half-done
            if result == "0":
                acked[case_id].append(comment)
    assert codes["0"] >= 15, codes  # losing happens, but rarely
    for case_id in cases:
        entries = history_of(fault_project, case_id)
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))  # contiguous
        comments = [e.comment for e in entries if e.kind == "data"]
        assert sorted(comments) == sorted(acked[case_id])  # nothing lost, nothing twice
    engine = fault_project.engine()
    try:
        assert engine.audit_verify() == (2, [])
    finally:
        engine.close()


def test_conflicting_events_race_and_exactly_one_wins(
    fault_project: FaultProject, tmp_path: Path
) -> None:
    """accept and decline fired at the same moment: one wins, the other is refused (4) or 6."""
    cases = fault_project.start(2)
    gate = tmp_path / "gate"
    racers = [
        (
            case_id,
            event,
            spawn(fault_project, RACER, fault_project.url, actor, case_id, event, str(gate)),
        )
        for case_id in cases
        for actor, event in (("jo", "accept"), ("jay", "decline"))
    ]
    for _, _, proc in racers:  # every interpreter is up and waiting
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
    gate.touch()
    results = wait_all([p for _, _, p in racers])
    by_case: dict[str, dict[str, int]] = {c: {} for c in cases}
    for (case_id, event, _), (code, out, err) in zip(racers, results, strict=True):
        assert code == 0, err
        assert "Traceback" not in err
        by_case[case_id][event] = int(out.splitlines()[-1].split()[-1])
    engine = fault_project.engine()
    try:
        for case_id, outcome in by_case.items():
            assert sorted(outcome.values()) in ([0, 4], [0, 6]), outcome
            winner = next(e for e, code in outcome.items() if code == 0)
            case = engine.get(case_id)
            assert case.state == {"accept": "accepted", "decline": "declined"}[winner]
            moves = [e for e in engine.history(case_id) if e.kind == "transition"]
            assert [m.event for m in moves] == [winner]  # the loser wrote nothing
        assert engine.audit_verify()[1] == []
    finally:
        engine.close()
