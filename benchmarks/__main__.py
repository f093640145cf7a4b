"""``python -m benchmarks [FIGURE …] [--quick] [--scale] [--dry]``: the table of issue 5."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Figure, Options

Runner = Callable[[Options], list[Figure]]


def _runners() -> dict[str, Runner]:
    from benchmarks import (
        calendar,
        cli,
        decision,
        fire,
        kpi,
        load,
        scale,
        service,
        service_scale,
        trees,
    )

    return {
        "fire-sqlite": fire.fire_sqlite,
        "fire-postgres": fire.fire_postgres,
        "cli": cli.cli_latency,
        "scale": scale.scale,
        "kpi": kpi.kpi,
        "load": load.load_and_validate,
        "decision": decision.decision,
        "calendar": calendar.calendar,
        "calendar-arming": calendar.calendar_arming,
        "trees": trees.trees,
        "service": service.service_fire,
        "service-search": service_scale.service_search,
        "service-inbox": service_scale.service_inbox,
    }


def _format(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:.2f}"
    if value >= 0.01:
        return f"{value:.4f}"
    return f"{value:.3g}"  # e.g. seconds per event: 5.51e-05


def table(figures: list[Figure]) -> str:
    """The figures as a plain-text table."""
    rows = [("figure", "A (median)", "B (median)", "ratio A/B", "target", "result")]
    for f in figures:
        data = f.to_json()
        target = "-" if f.target is None else f"{f.better} {f.target:g}"
        result = {True: "pass", False: "FAIL", None: "report"}[f.passed]
        rows.append(
            (
                f.name,
                f"{_format(data['median_a'])} {f.unit}",
                f"{_format(data['median_b'])} {f.unit}" if f.b else "-",
                f"{f.ratio:.3f}",
                target,
                result,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    runners = _runners()
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help=f"of: {', '.join(runners)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--dry", action="store_true", help="tiny sizes, one round (smoke test)")
    parser.add_argument("--scale", action="store_true", help="also 1,000,000 cases (minutes)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per figure")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        default=os.environ.get("OPSFLOW_BENCH_POSTGRES_URL")
        or os.environ.get("OPSFLOW_TEST_POSTGRES_URL")
        or None,
        help="PostgreSQL for the fire-postgres figures [env: OPSFLOW_BENCH_POSTGRES_URL, "
        "OPSFLOW_TEST_POSTGRES_URL]",
    )
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results.json", metavar="FILE"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="trees: the src folder of the opsflow to compare with, e.g. a git worktree's "
        "(git worktree add /tmp/base COMMIT; --baseline /tmp/base/src)",
    )
    parser.add_argument(
        "--tree", metavar="SRC", help="trees: the src folder compared (default: this checkout's)"
    )
    parser.add_argument(
        "--callgrind", action="store_true", help="trees: also instructions per fire (valgrind)"
    )
    parser.add_argument(
        "--serve-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="service figures: one more `opsflow serve` option "
        "(e.g. --serve-option=--no-access-log)",
    )
    args = parser.parse_args(argv)
    unknown = [f for f in args.figures if f not in runners]
    if unknown:
        parser.error(f"unknown figure(s): {', '.join(unknown)} (known: {', '.join(runners)})")
    options = Options(
        quick=args.quick,
        dry=args.dry,
        scale=args.scale,
        rounds=args.rounds,
        postgres_url=args.postgres,
        keep=args.keep,
        baseline=args.baseline,
        tree=args.tree,
        callgrind=args.callgrind,
        serve_options=tuple(args.serve_option),
    )
    figures: list[Figure] = []
    began = time.perf_counter()
    for name in args.figures or list(runners):
        print(f"… {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        found = runners[name](options)
        if not found:
            print(f"  {name}: skipped (see --help)", file=sys.stderr)
        for f in found:
            print(f"  {f.name}: ratio {f.ratio:.3f}", file=sys.stderr, flush=True)
        print(f"  ({time.perf_counter() - started:.1f}s)", file=sys.stderr)
        figures.extend(found)
    print(table(figures))
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "mode": "dry" if args.dry else "quick" if args.quick else "full",
        "seconds": round(time.perf_counter() - began, 1),
        "figures": [f.to_json() for f in figures],
    }
    args.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)
    failed = [f.name for f in figures if f.passed is False]
    return 1 if failed and not args.dry else 0


if __name__ == "__main__":
    sys.exit(main())
