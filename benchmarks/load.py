"""Load and validate a 200-state, 600-transition workflow (target: under 1 second), and the
memory one cached compiled definition holds (reported)."""

from __future__ import annotations

import time
import tracemalloc

from benchmarks.common import Figure, Options


def big_workflow(states: int = 200, transitions: int = 600) -> str:
    """A valid workflow with ``states`` states and ``transitions`` transitions."""
    lines = [
        "workflow: big",
        "version: 1",
        "title: Big",
        "roles: [clerk, lead]",
        "fields:",
        "  amount: {type: number, min: 0}",
        "  note: {type: string}",
        "  count: {type: integer, default: 0}",
        "states:",
        "  s0: {initial: true}",
    ]
    lines += [f"  s{i}: {{title: State {i}}}" for i in range(1, states - 1)]
    lines.append(f"  s{states - 1}: {{final: true}}")
    lines.append("transitions:")
    for k in range(transitions):
        source = k % (states - 1)
        target = (source + 1 + k // (states - 1)) % states
        target = target if target != 0 else states - 1
        lines.append(
            f"  - {{event: e{k}, from: s{source}, to: s{target}, roles: [clerk, lead],"
            f" when: 'amount >= {k % 7} or count > 1',"
            f" do: [{{set: {{count: 'count + 1'}}}}]}}"
        )
    return "\n".join(lines) + "\n"


def load_and_validate(options: Options) -> list[Figure]:
    from opsflow.core.compiled import compile_workflow
    from opsflow.language.loader import LoadContext, load_workflow_text

    text = big_workflow()
    ctx = LoadContext()

    def once() -> float:
        start = time.perf_counter()
        loaded, diagnostics = load_workflow_text(text, "big.yaml", ctx)
        errors = [d for d in diagnostics if d.severity == "error"]
        if loaded is None or errors:
            raise RuntimeError(f"the generated workflow does not load: {errors[:3]}")
        compile_workflow(loaded, ctx.functions)
        return time.perf_counter() - start

    once()
    samples = [once() for _ in range(options.n_rounds(7))]
    loaded, _ = load_workflow_text(text, "big.yaml", ctx)
    assert loaded is not None
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    compiled = compile_workflow(loaded, ctx.functions)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(s.size_diff for s in after.compare_to(before, "filename"))
    del compiled
    return [
        Figure(
            name="load-validate",
            what="load, validate and compile a 200-state, 600-transition workflow ÷ 1 s",
            a_label="load+validate+compile",
            b_label="budget",
            unit="s",
            a=samples,
            b=[1.0] * len(samples),
            ratios=samples,
            target=1.0,
            better="<=",
            notes={"compiled_definition_bytes": held, "yaml_bytes": len(text.encode())},
        )
    ]
