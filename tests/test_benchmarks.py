"""The benchmark harness still runs (tiny sizes, one round): no timing is asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_harness_runs_in_dry_mode(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "fire-sqlite",
            "cli",
            "load",
            "decision",
            "--quick",
            "--dry",
            "--output",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    names = [f["name"] for f in json.loads(out.read_text())["figures"]]
    assert names == ["fire-sqlite", "cli-status", "cli-help", "load-validate", "decision"]
    assert "ratio A/B" in proc.stdout


@pytest.mark.slow
def test_two_trees_are_compared_in_one_run(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "trees", "--dry", "--baseline", str(ROOT / "src")]
        + ["--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    names = [f["name"] for f in json.loads(out.read_text())["figures"]]
    assert names == [
        "fire-sqlite",
        "decision",
        "fire-sqlite@baseline",
        "decision@baseline",
        "fire-vs-baseline",
        "decision-vs-baseline",
    ]


@pytest.mark.slow
def test_the_service_figures_run_against_a_real_server(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    env["OPSFLOW_BENCH_CACHE"] = str(tmp_path / "cache")  # never the developer's cache
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "service", "service-search", "service-inbox"]
        + ["--dry", "--output", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    names = [f["name"] for f in json.loads(out.read_text())["figures"]]
    assert names == [
        "service-fire-sqlite",
        "service-fire-sqlite-stdlib",
        "service-search-sqlite-2000",
        "service-inbox-sqlite-2000",
    ]


@pytest.mark.slow
def test_serve_options_reach_the_benchmarked_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "service", "--dry"]
        + ["--serve-option=--no-such-option", "--output", str(tmp_path / "results.json")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    assert "opsflow serve did not become ready" in proc.stderr
    assert "No such option '--no-such-option'" in proc.stderr
