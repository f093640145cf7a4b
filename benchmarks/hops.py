"""``python -m benchmarks.hops [SRC …]``: the hops of one fire, counted, per source tree.

A hop is a call from one opsflow module into another during one warm ``Engine.fire``
(``bump`` on the bench workflow), counted with ``sys.setprofile``:

- ``hops``: calls from one module into another;
- ``layer_hops``: calls from one layer of the house into another (cli, facade, runners,
  engine, core, store, builtins, language and plugins), not counting calls into the small
  utilities at the bottom (clock, canonical JSON, limits): what a reader follows;
- ``upward``: calls from a layer into one above it (a callback into the engine: the
  back-and-forth the house forbids);
- ``transitions_calls``: calls into the ``transitions`` package;
- ``private_reaches``: calls of a ``_private`` function from another module.

Modules of trees older than the house are placed where they live now (``engine/step.py``
in the core, ``engine/worker.py`` in the runners). Each tree (a ``src`` folder, default:
this checkout's) runs in a process of its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


_CORE = {
    "compiled", "decide", "step", "working", "metrics", "hookviews", "results", "text",
    "replay", "views", "preview", "machine", "moves", "actions", "automation", "settling",
    "context",
}  # fmt: skip
_RUNNERS = {"worker", "schedules", "outbox", "migrate", "recovery", "deadlines", "items"}
_RANK = {"cli": 0, "facade": 1, "runners": 2, "engine": 3, "core": 4, "store": 4}
_UTILITIES = {"clock", "jsontext", "suggest", "redact", "limits", "version", "errors"}


def _layer(module: str) -> str:
    """The layer of the house a module (``engine/step.py``) belongs to."""
    parts = module.removesuffix(".py").split("/")
    if parts[0] == "engine" and len(parts) > 1:
        if parts[1] in _CORE:
            return "core"
        if parts[1] in _RUNNERS:
            return "runners"
    if parts[0] in _UTILITIES:
        return "utilities"
    if parts[0] in ("templating", "template_sandbox", "hookspecs", "config", "plugins"):
        return "plugins"
    return parts[0]


def _module(code: Any) -> str | None:
    path = code.co_filename.replace(os.sep, "/")
    if "/opsflow/" not in path or "site-packages" in path:
        return None
    return path.split("/opsflow/")[-1]


def count() -> dict[str, Any]:
    """The hops of one warm fire in this process (opsflow imported from PYTHONPATH)."""
    from benchmarks.common import project
    from opsflow import Engine

    root = Path(tempfile.mkdtemp())
    project(root)
    engine = Engine.from_config(root / "opsflow.yaml", db=f"sqlite:///{root / 'hops.db'}")
    case = engine.start("bench", actor="ann").id
    for _ in range(20):
        engine.fire(case, "bump", actor="ann")
    hops: Counter[tuple[str, str]] = Counter()
    found: dict[str, Any] = {"transitions": 0, "private_reaches": 0, "functions": set()}

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event != "call":
            return
        callee = _module(frame.f_code)
        if callee is None:
            if "/transitions/" in frame.f_code.co_filename:
                found["transitions"] += 1
            return
        found["functions"].add((callee, frame.f_code.co_name))
        caller = frame.f_back
        while caller is not None and _module(caller.f_code) is None:
            caller = caller.f_back
        if caller is None:
            return
        source = _module(caller.f_code)
        if source == callee or source is None:
            return
        # A method calling another method of the same object (a class split over mixin
        # modules) stays with one component: not a hop.
        own = frame.f_code.co_varnames[:1] == ("self",) and caller.f_code.co_varnames[:1] == (
            "self",
        )
        if own and frame.f_locals.get("self") is caller.f_locals.get("self"):
            return
        hops[source, callee] += 1
        name = frame.f_code.co_name
        if name.startswith("_") and not name.startswith("__") and name != "<lambda>":
            found["private_reaches"] += 1

    sys.setprofile(profile)
    engine.fire(case, "bump", actor="ann")
    sys.setprofile(None)
    layers = Counter(
        (_layer(a), _layer(b))
        for (a, b), n in hops.items()
        for _ in range(n)
        if _layer(a) != _layer(b) and _layer(b) != "utilities"
    )
    upward = sum(n for (a, b), n in layers.items() if _RANK.get(b, 9) < _RANK.get(a, 9))
    return {
        "hops": sum(hops.values()),
        "layer_hops": sum(layers.values()),
        "upward": upward,
        "functions": len(found["functions"]),
        "transitions_calls": found["transitions"],
        "private_reaches": found["private_reaches"],
    }


def main(argv: list[str]) -> int:
    trees = argv or [str(ROOT / "src")]
    rows = []
    for tree in trees:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, str(ROOT)])}
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                "import json, benchmarks.hops as h; print(json.dumps(h.count()))",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            print(f"{tree}: failed\n{run.stderr}", file=sys.stderr)
            return 1
        rows.append((tree, json.loads(run.stdout.strip().splitlines()[-1])))
    keys = list(rows[0][1])
    print("tree".ljust(28) + "".join(k.rjust(18) for k in keys))
    for tree, figures in rows:
        print(tree[-28:].ljust(28) + "".join(str(figures[k]).rjust(18) for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
