"""Every bad workflow through ``opsflow validate FILE`` in a process of its own (SPEC §2.9, §6).

Exit 65, every expected ``LINE:COL: severity: message`` printed as ``PATH:LINE:COL: ...``,
no traceback, and the validate call well under a second. One interpreter imports opsflow
and forks a child per file (validate_forks.py): each file still gets a real process and
exit code, but the shared machine does not pay Python's start-up a hundred times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hardening_helpers import FIXTURES

INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
FORKS = Path(__file__).with_name("validate_forks.py")
PER_FILE_SECONDS = 2.0
# What the fixture test's LoadContext declares, as a project would configure it.
CONFIG = (
    "channels:\n  team_chat: {notifier: console}\n  email: {notifier: console}\n"
    "sources:\n  app_events: {path: events.csv}\n"  # what "# context: project" fixtures expect
    "team:\n  ann: [author]\n  ed: [editor]\n"
)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a process per file")


def _expected(path: Path) -> list[str]:
    prefix = "# expect: "
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line[len(prefix) :] for line in lines if line.startswith(prefix)]


def _generated(folder: Path) -> dict[Path, list[str]]:
    """Bad files too big or too odd to commit: made here, with what they must report."""
    folder.mkdir()
    files: dict[Path, list[str]] = {}
    big = folder / "oversized.yaml"
    big.write_text("workflow: oversized\nversion: 1\n" + ("# " + "x" * 1000 + "\n") * 1100)
    files[big] = ["1:1: error: the file is 1103331 bytes; workflow files are limited to 1 MiB"]
    wide = folder / "wide_flow.yaml"
    wide.write_text("workflow: wide_flow\nversion: 1\nx: [" + "1, " * 120_000 + "1]\n")
    files[wide] = ["error: the document expands to more than 100000 nodes"]
    deep = folder / "deep_flow.yaml"
    deep.write_text("workflow: deep_flow\nversion: 1\nx: " + "[" * 5000 + "]" * 5000 + "\n")
    files[deep] = ["error: the document is nested more than 64 levels deep"]
    latin = folder / "latin1.yaml"
    latin.write_bytes("workflow: latin1\nversion: 1\ntitle: café\n".encode("latin-1"))
    files[latin] = ["error: "]
    nul = folder / "nul_bytes.yaml"
    nul.write_bytes(b"workflow: nul_bytes\nversion: 1\ntitle: a\x00b\n")
    files[nul] = ["error: invalid YAML"]
    return files


def _validate_all(paths: list[Path], cwd: Path) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPSFLOW_")}
    env["OPSFLOW_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [sys.executable, str(FORKS), *map(str, paths)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    reports: list[dict[str, Any]] = json.loads(done.stdout)
    return reports


def _problems(report: dict[str, Any], expected: list[str]) -> list[str]:
    name = Path(report["path"]).name
    output = report["stdout"] + report["stderr"]
    found = []
    if report["exit"] != 65:
        found.append(f"{name}: exit {report['exit']}, not 65:\n{output}")
    if "Traceback" in output or "internal error" in output:
        found.append(f"{name}: a traceback or an internal error:\n{output}")
    for line in expected:
        wanted = f"{report['path']}:{line}" if line[0].isdigit() else line
        if wanted not in output:
            found.append(f"{name}: missing {wanted!r} in:\n{output}")
    if report["seconds"] >= PER_FILE_SECONDS:
        found.append(f"{name}: validate took {report['seconds']:.2f} s")
    return found


def test_the_corpus_is_large() -> None:
    assert len(INVALID) >= 40


def test_validate_reports_every_problem_with_exit_65(tmp_path: Path) -> None:
    configured = tmp_path / "project"
    configured.mkdir()
    (configured / "opsflow.yaml").write_text(CONFIG)
    bare = tmp_path / "bare"
    bare.mkdir()
    expected = {p: _expected(p) for p in INVALID} | _generated(tmp_path / "generated")
    no_channels = [p for p in expected if "# context: no-channels" in _head(p)]
    reports = _validate_all([p for p in expected if p not in no_channels], configured)
    reports += _validate_all(no_channels, bare)
    assert len(reports) == len(expected)
    problems = [p for r in reports for p in _problems(r, expected[Path(r["path"])])]
    assert problems == []


def _head(path: Path) -> str:
    with path.open("rb") as f:
        return f.read(4096).decode("utf-8", "replace")
