"""In-memory decision: a dry-run fire (nothing written) ÷ a bare ``transitions`` trigger on a
shared Machine, per event (reported; target ≤ 10×)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, Options, interleave, project, workdir


class Decisions:
    """A dry-run ``Engine.fire`` on in-memory SQLite, and a bare ``transitions`` trigger."""

    def __init__(self, root: Path) -> None:
        from transitions import Machine

        from opsflow import Engine

        self.engine = Engine.from_config(root / "opsflow.yaml", db="sqlite://")
        self.case = self.engine.start("bench", actor="ann").id

        class Model:
            pass

        self.model: Any = Model()
        Machine(
            model=self.model,
            states=["open", "waiting", "done"],
            transitions=[
                {"trigger": "bump", "source": "open", "dest": "open"},
                {"trigger": "wait", "source": "open", "dest": "waiting"},
                {"trigger": "finish", "source": ["open", "waiting"], "dest": "done"},
            ],
            initial="open",
        )

    def dry_runs(self, n: int) -> float:
        """``n`` dry-run fires of ``bump``: seconds per event."""
        engine, case = self.engine, self.case
        start = time.perf_counter()
        for _ in range(n):
            engine.fire(case, "bump", actor="ann", dry_run=True)
        return (time.perf_counter() - start) / n

    def triggers(self, n: int) -> float:
        """``n`` bare Machine triggers: seconds per event."""
        trigger = self.model.bump
        start = time.perf_counter()
        for _ in range(n):
            trigger()
        return (time.perf_counter() - start) / n

    def close(self) -> None:
        self.engine.close()


def decision(options: Options) -> list[Figure]:
    n = options.pick(2000, 500, 20)
    with workdir(options, "decision") as root:
        project(root)
        sides = Decisions(root)
        sides.dry_runs(n), sides.triggers(n)
        xs, ys, ratios = interleave(
            lambda: sides.dry_runs(n), lambda: sides.triggers(n), options.n_rounds(9), rate=False
        )
        sides.close()
    return [decision_figure(xs, ys, ratios)]


def decision_figure(
    xs: list[float], ys: list[float], ratios: list[float], name: str = "decision"
) -> Figure:
    return Figure(
        name=name,
        what="dry-run Engine.fire (in-memory SQLite) ÷ bare transitions trigger, per event",
        a_label="Engine.fire(dry_run)",
        b_label="Machine trigger",
        unit="s/event",
        a=xs,
        b=ys,
        ratios=ratios,
        target=10.0,
        better="<=",
    )
