"""In-memory decision: a dry-run fire (nothing written) ÷ a bare ``transitions`` trigger on a
shared Machine, per event (reported; target ≤ 10×)."""

from __future__ import annotations

import time

from benchmarks.common import Figure, Options, interleave, project, workdir


def decision(options: Options) -> list[Figure]:
    from transitions import Machine

    from opsflow import Engine

    n = options.pick(2000, 500, 20)
    with workdir(options, "decision") as root:
        project(root)
        engine = Engine.from_config(root / "opsflow.yaml", db="sqlite://")
        case = engine.start("bench", actor="ann").id

        class Model:
            pass

        model = Model()
        Machine(
            model=model,
            states=["open", "waiting", "done"],
            transitions=[
                {"trigger": "bump", "source": "open", "dest": "open"},
                {"trigger": "wait", "source": "open", "dest": "waiting"},
                {"trigger": "finish", "source": ["open", "waiting"], "dest": "done"},
            ],
            initial="open",
        )

        def a() -> float:
            start = time.perf_counter()
            for _ in range(n):
                engine.fire(case, "bump", actor="ann", dry_run=True)
            return (time.perf_counter() - start) / n

        def b() -> float:
            trigger = model.bump  # type: ignore[attr-defined]
            start = time.perf_counter()
            for _ in range(n):
                trigger()
            return (time.perf_counter() - start) / n

        a(), b()
        xs, ys, ratios = interleave(a, b, options.n_rounds(9), rate=False)
        engine.close()
    return [
        Figure(
            name="decision",
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
    ]
