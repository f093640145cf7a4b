"""One side of ``trees``: the fire and decision measures of whichever opsflow is importable.

``python -m benchmarks.tree_worker ROOT`` sets up its projects under ROOT, then answers
one line per request on stdin (``fires N``, ``floor N``, ``dry_runs N``, ``triggers N``)
with the measure on stdout, until ``quit``. ``--batch N`` instead fires ``bump`` 20 times
to warm up, then N times, and exits: the program callgrind counts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks.common import project
from benchmarks.decision import Decisions
from benchmarks.fire import SqliteFires

WARM_UP = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tree_worker")
    parser.add_argument("root", type=Path)
    parser.add_argument("--batch", type=int, metavar="N", help="fire N times and exit")
    args = parser.parse_args(argv)
    fires = SqliteFires(project(args.root / "fire"))
    if args.batch is not None:
        fires.fires(WARM_UP)
        fires.fires(args.batch)
        fires.close()
        return 0
    decisions = Decisions(project(args.root / "decision"))
    measures = {
        "fires": fires.fires,
        "floor": fires.floor,
        "dry_runs": decisions.dry_runs,
        "triggers": decisions.triggers,
    }
    print("ready", flush=True)
    for line in sys.stdin:
        name, _, count = line.strip().partition(" ")
        if name == "quit":
            break
        print(repr(measures[name](int(count))), flush=True)
    fires.close()
    decisions.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
