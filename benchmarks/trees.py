"""Before/after in one run: the fire and decision figures of two opsflow source trees.

``python -m benchmarks trees --baseline OLD/src [--tree NEW/src] [--callgrind]`` starts
one worker process per tree (``benchmarks.tree_worker``, with the tree's ``src`` first on
``PYTHONPATH``; the harness itself is this checkout's, so both sides run the same
measuring code). Rounds interleave the trees (the baseline first on odd rounds) and, in
each tree, Engine.fire against its sqlite3 floor, so a noisy machine shifts all alike.

It reports each tree's ``fire-sqlite`` and ``decision`` figures, and the tree ÷ baseline
ratios of fires/s and of seconds per dry run. ``--callgrind`` adds instructions per fire
counted by valgrind's callgrind: (instructions of a run with N + 400 fires − those of a
run with N fires) ÷ 400, with one hash seed, steadier than time on a shared VM.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import Figure, Options, clean_env, workdir
from benchmarks.decision import decision_figure
from benchmarks.fire import fire_sqlite_figure

REPO = Path(__file__).resolve().parents[1]
CALLGRIND_FIRES = (100, 500)


class _Worker:
    """A ``tree_worker`` process importing opsflow from ``src``."""

    def __init__(self, src: Path, root: Path) -> None:
        env = clean_env({"PYTHONPATH": os.pathsep.join((str(src), str(REPO)))})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.tree_worker", str(root)],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        if self._line() != "ready":
            raise RuntimeError(f"the benchmark worker for {src} failed to start")

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().strip()

    def measure(self, name: str, n: int) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{name} {n}\n")
        self.proc.stdin.flush()
        return float(self._line())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _default_tree() -> Path:
    return REPO / "src"


def trees(options: Options) -> list[Figure]:
    if not options.baseline:
        return []
    tree = Path(options.tree) if options.tree else _default_tree()
    baseline = Path(options.baseline)
    n_fires = options.pick(400, 150, 10)
    n_dry = options.pick(2000, 500, 20)
    with workdir(options, "trees") as root:
        new, old = _Worker(tree, root / "tree"), _Worker(baseline, root / "baseline")
        try:
            for worker in (new, old):  # warm up
                worker.measure("fires", n_fires), worker.measure("floor", n_fires)
                worker.measure("dry_runs", n_dry), worker.measure("triggers", n_dry)
            samples = _rounds(new, old, n_fires, n_dry, options.n_rounds(11))
        finally:
            new.close()
            old.close()
    figures = _figures(samples, n_fires, tree, baseline)
    if options.callgrind:
        figures.append(_instructions(tree, baseline, options))
    return figures


_MEASURES = ("fires", "floor", "dry_runs", "triggers")


def _rounds(
    new: _Worker, old: _Worker, n_fires: int, n_dry: int, rounds: int
) -> dict[str, dict[str, list[float]]]:
    samples: dict[str, dict[str, list[float]]] = {
        side: {m: [] for m in _MEASURES} for side in ("new", "old")
    }
    for i in range(rounds):
        order = [("old", old), ("new", new)] if i % 2 else [("new", new), ("old", old)]
        for side, worker in order:
            for measure in _MEASURES:
                n = n_fires if measure in ("fires", "floor") else n_dry
                samples[side][measure].append(worker.measure(measure, n))
    return samples


def _ratios(a: list[float], b: list[float]) -> list[float]:
    return [x / y for x, y in zip(a, b, strict=True)]


def _figures(
    samples: dict[str, dict[str, list[float]]], n_fires: int, tree: Path, baseline: Path
) -> list[Figure]:
    new, old = samples["new"], samples["old"]
    figures = []
    for side, suffix in ((new, ""), (old, "@baseline")):
        fires, floor = side["fires"], side["floor"]
        figures.append(
            fire_sqlite_figure(fires, floor, _ratios(fires, floor), n_fires, "fire-sqlite" + suffix)
        )
        dry, bare = side["dry_runs"], side["triggers"]
        figures.append(decision_figure(dry, bare, _ratios(dry, bare), "decision" + suffix))
    trees = {"tree": str(tree), "baseline": str(baseline)}
    figures.append(
        Figure(
            name="fire-vs-baseline",
            what="Engine.fire on SQLite, this tree ÷ the baseline tree (fires/s)",
            a_label="tree",
            b_label="baseline",
            unit="fires/s",
            a=new["fires"],
            b=old["fires"],
            ratios=_ratios(new["fires"], old["fires"]),
            target=None,
            better=">=",
            notes=trees,
        )
    )
    figures.append(
        Figure(
            name="decision-vs-baseline",
            what="dry-run Engine.fire, this tree ÷ the baseline tree (s/event)",
            a_label="tree",
            b_label="baseline",
            unit="s/event",
            a=new["dry_runs"],
            b=old["dry_runs"],
            ratios=_ratios(new["dry_runs"], old["dry_runs"]),
            target=None,
            better="<=",
            notes=trees,
        )
    )
    return figures


def _collected(src: Path, root: Path, fires: int) -> int:
    """Instructions callgrind counts in a worker that fires ``fires`` times after warm-up."""
    # One hash seed for every run: with random ones, dict layouts (and so instruction
    # counts) differ from process to process by several per cent.
    env = clean_env({"PYTHONPATH": os.pathsep.join((str(src), str(REPO))), "PYTHONHASHSEED": "0"})
    root.mkdir(parents=True)
    worker = [sys.executable, "-m", "benchmarks.tree_worker", str(root / "warm"), "--batch", "1"]
    # First without valgrind: bytecode and the checked-definition cache are written then,
    # so the counted runs both start warm and differ only in their fires.
    subprocess.run(worker, cwd=REPO, env=env, check=True, capture_output=True)
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={root / 'callgrind.out'}",
            sys.executable,
            "-m",
            "benchmarks.tree_worker",
            str(root),
            "--batch",
            str(fires),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected\s*:\s*(\d+)", proc.stderr)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run failed: {proc.stderr[-2000:]}")
    return int(found.group(1))


def _instructions(tree: Path, baseline: Path, options: Options) -> Figure:
    if shutil.which("valgrind") is None:
        raise RuntimeError("--callgrind needs valgrind (apt-get install valgrind)")
    low, high = (1, 3) if options.dry else CALLGRIND_FIRES
    per_fire: dict[str, float] = {}
    with workdir(options, "callgrind") as root:
        for side, src in (("tree", tree), ("baseline", baseline)):
            # a fresh project for each run, so that both start alike
            counts = [_collected(src, root / f"{side}-{n}", n) for n in (low, high)]
            per_fire[side] = (counts[1] - counts[0]) / (high - low)
    a, b = [per_fire["tree"]], [per_fire["baseline"]]
    return Figure(
        name="instructions-per-fire",
        what="callgrind instructions per Engine.fire on SQLite, this tree ÷ the baseline tree",
        a_label="tree",
        b_label="baseline",
        unit="instr/fire",
        a=a,
        b=b,
        ratios=[statistics.median(a) / statistics.median(b)],
        target=None,
        better="<=",
        notes={"fires": [low, high], "tree": str(tree), "baseline": str(baseline)},
    )
