"""What every figure shares: results, interleaved timing, subprocess timing, projects."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# A workflow whose `bump` is a self-transition that sets a field: the unit of "one fire".
BENCH_WORKFLOW = """\
workflow: bench
version: 1
title: Benchmark
roles: [clerk]
fields:
  counter: {type: integer, default: 0}
  title: {type: string}
states:
  open:
    initial: true
  waiting:
    sla: {within: 1h, fire: ping}
  done: {final: true}
transitions:
  - event: bump
    from: open
    to: open
    do:
      - set: {counter: "counter + 1"}
  - event: wait
    from: open
    to: waiting
  - event: ping
    from: waiting
    to: waiting
    do:
      - set: {counter: "counter + 1"}
  - event: finish
    from: [open, waiting]
    to: done
"""


@dataclass
class Options:
    """How the harness was asked to run."""

    quick: bool = False
    dry: bool = False  # tiny sizes, one round: proves the harness works, measures nothing
    scale: bool = False  # also the 1,000,000-case database
    rounds: int | None = None
    postgres_url: str | None = None
    keep: bool = False
    baseline: str | None = None  # an opsflow ``src`` to compare with (the ``trees`` figure)
    tree: str | None = None  # the ``src`` compared with it (this checkout's by default)
    callgrind: bool = False  # ``trees`` also counts instructions per fire
    serve_options: tuple[str, ...] = ()  # more ``opsflow serve`` options for the service figures

    def pick(self, full: int, quick: int, dry: int) -> int:
        """A size for this mode."""
        return dry if self.dry else quick if self.quick else full

    def n_rounds(self, full: int = 9) -> int:
        if self.rounds:
            return self.rounds
        return 1 if self.dry else 5 if self.quick else full


@dataclass
class Figure:
    """One line of the table: the median of per-round ratios A ÷ B against a target."""

    name: str
    what: str
    a_label: str
    b_label: str
    unit: str  # of a and b ("fires/s", "s", …)
    a: list[float]
    b: list[float]
    ratios: list[float]
    target: float | None
    better: str  # ">=" (the ratio must be at least the target) or "<="
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else float("nan")

    @property
    def passed(self) -> bool | None:
        if self.target is None or not self.ratios:
            return None
        return self.ratio >= self.target if self.better == ">=" else self.ratio <= self.target

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(
            ratio=self.ratio,
            median_a=statistics.median(self.a) if self.a else None,
            median_b=statistics.median(self.b) if self.b else None,
            passed=self.passed,
        )
        return out


def interleave(
    a: Callable[[], float], b: Callable[[], float], rounds: int, *, rate: bool
) -> tuple[list[float], list[float], list[float]]:
    """Run A, B, A, B, … (B first on odd rounds); each round's ratio A ÷ B.

    ``rate``: the measures are rates (higher is better) — the ratio is still A ÷ B.
    """
    del rate
    xs: list[float] = []
    ys: list[float] = []
    for i in range(rounds):
        if i % 2:
            y = b()
            x = a()
        else:
            x = a()
            y = b()
        xs.append(x)
        ys.append(y)
    return xs, ys, [x / y for x, y in zip(xs, ys, strict=True)]


def bin_dir() -> Path:
    """The folder of this interpreter's scripts (the ``opsflow`` command beside python)."""
    return Path(sys.executable).parent


def opsflow_command() -> list[str]:
    script = bin_dir() / "opsflow"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "opsflow"]


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a timed process: no OPSFLOW_* settings, bytecode written.

    ``PYTHONDONTWRITEBYTECODE`` is dropped so the warm-up run leaves opsflow's ``.pyc``
    files as an installed package has them; with it set, an editable checkout recompiles
    every opsflow module on each run while the baseline's site-packages are precompiled.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OPSFLOW_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(extra or {})
    return env


def wall(
    cmd: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> float:
    """Seconds one run of ``cmd`` takes, output discarded."""
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd), cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    elapsed = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()}")
    return elapsed


def best_of(fn: Callable[[], float], n: int) -> float:
    """The median of ``n`` runs of ``fn`` (one sample of a round)."""
    return statistics.median(fn() for _ in range(max(1, n)))


@contextmanager
def workdir(options: Options, name: str) -> Iterator[Path]:
    """A temporary folder for one figure (kept with --keep)."""
    path = Path(tempfile.mkdtemp(prefix=f"opsflow-bench-{name}-"))
    try:
        yield path
    finally:
        if not options.keep:
            shutil.rmtree(path, ignore_errors=True)


def project(root: Path, workflow: str = BENCH_WORKFLOW, config: str = "") -> Path:
    """A project folder: workflows/bench.yaml and an opsflow.yaml."""
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    (root / "workflows" / "bench.yaml").write_text(workflow, encoding="utf-8")
    (root / "opsflow.yaml").write_text(
        "workflows: workflows/\nteam:\n  ann: [clerk]\n" + config, encoding="utf-8"
    )
    return root
