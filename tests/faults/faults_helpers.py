"""Helpers of the fault tests: a project on one backend, run by real ``opsflow`` processes."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select

from opsflow.store import tables as t
from opsflow_process import clean_env

WORKFLOW = """\
workflow: ticket
version: 1
title: 工单 Ticket
roles: [agent, judge]
fields:
  title: {type: string, required: true}
  note: {type: text}
  count: {type: integer, min: 0}
states:
  open: {initial: true}
  accepted: {final: true}
  declined: {final: true}
transitions:
  - {event: accept, from: open, to: accepted, roles: [judge]}
  - {event: decline, from: open, to: declined, roles: [judge]}
"""

CONFIG = """\
workflows: workflows/
team:
  ann: [agent]
  jo: [judge]
  jay: [judge]
"""

TABLES = {
    "cases": t.cases,
    "history": t.history,
    "deadlines": t.deadlines,
    "approvals": t.approvals,
    "outbox": t.outbox,
    "definitions": t.definitions,
}


@dataclass
class FaultProject:
    """A project folder and its database URL; ``cli`` runs opsflow as a real process."""

    root: Path
    url: str

    def cli(
        self,
        *args: str,
        db: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
        **popen: Any,
    ) -> subprocess.CompletedProcess[str]:
        """``python -m opsflow --db URL ARGS`` in the project folder."""
        return subprocess.run(
            [sys.executable, "-m", "opsflow", "--db", db or self.url, *args],
            cwd=self.root,
            env=clean_env(env),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            **popen,
        )

    def engine(self, db: str | None = None) -> Any:
        """An in-process engine on the project (setup and checks are faster without a process)."""
        from opsflow.facade import Engine

        return Engine.from_config(self.root / "opsflow.yaml", db=db or self.url)

    def start(self, count: int, title: str = "T") -> list[str]:
        """Start ``count`` tickets; their ids."""
        engine = self.engine()
        try:
            return [engine.start("ticket", {"title": title}, actor="ann").id for _ in range(count)]
        finally:
            engine.close()

    def still_works(self, case_id: str) -> None:
        """With the fault gone, a fire commits and every history chain verifies."""
        engine = self.engine()
        try:
            assert engine.fire(case_id, "accept", actor="jo").case.state == "accepted"
            assert engine.audit_verify()[1] == []
        finally:
            engine.close()

    def snapshot(self) -> dict[str, list[tuple[str, ...]]]:
        """Every row of every opsflow table, to show that a failed command wrote nothing."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return {
                    name: sorted(tuple(str(v) for v in row) for row in conn.execute(select(table)))
                    for name, table in TABLES.items()
                }
        finally:
            engine.dispose()


def one_line_error(stderr: str, *fragments: str) -> None:
    """stderr is exactly one ``error: …`` line holding every fragment, and no traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    assert "internal error" not in stderr, stderr
    for fragment in fragments:
        assert fragment in lines[0], stderr


def history_of(project: FaultProject, case_id: str) -> list[Any]:
    """The case's history rows, in order."""
    engine = create_engine(project.url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(t.history)
                    .where(t.history.c.case_id == case_id)
                    .order_by(t.history.c.seq)
                )
            )
    finally:
        engine.dispose()


def wait_all(
    procs: Sequence[subprocess.Popen[str]], timeout: float = 90
) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of each process, in order."""
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append((proc.returncode, out, err))
    return results
