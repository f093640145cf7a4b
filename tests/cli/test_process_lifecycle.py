"""How the ``opsflow`` process starts and ends (cli.process): collector pause, fast exit."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsflow.cli import ENGINE_COMMANDS, cli, process

Project = Any

OBSERVER = """
import atexit, gc, json, os, threading, time
from pathlib import Path

import click
from opsflow import hookimpl

OUT = Path(os.environ["OBSERVED"])


def record(name, value):
    seen = json.loads(OUT.read_text()) if OUT.exists() else {}
    seen[name] = value
    OUT.write_text(json.dumps(seen))


def collector():
    return {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count() > 0}


def late():  # a non-daemon thread a plugin left running: shutdown waits for it
    time.sleep(0.3)
    record("thread", "finished")


atexit.register(record, "atexit", "ran")


@hookimpl
def after_transition(case, transition, actor, entry):
    record("fire", collector())


@hookimpl
def register_commands(cli):
    @cli.command()
    def observe():
        record("command", collector())
        threading.Thread(target=late).start()
        click.echo("x" * 200_000)
"""


@pytest.fixture
def observed(project: Project) -> Path:
    """A plugins folder with the observer plugin, and the file it records into."""
    plugins = project.root / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "observer.py").write_text(OBSERVER, encoding="utf-8")
    return project.root / "observed.json"


def _run(opsflow: Any, project: Project, out: Path, *args: str) -> Any:
    env = {"OBSERVED": str(out), "OPSFLOW_PLUGINS_DIR": str(project.root / "plugins")}
    return opsflow(*args, cwd=project.root, env=env)


def test_an_engine_command_runs_with_the_collector_on_and_start_up_frozen(
    project: Project, opsflow: Any, observed: Path
) -> None:
    started = _run(opsflow, project, observed, "--as", "rita", "start", "expense",
                   "--set", "title=T", "--set", "amount=1")  # fmt: skip
    assert started.returncode == 0, started.stderr
    fired = _run(opsflow, project, observed, "--as", "rita", "fire", started.stdout.strip(),
                 "submit")  # fmt: skip
    assert (fired.returncode, fired.stdout) == (0, "review\n"), fired.stderr
    assert json.loads(observed.read_text())["fire"] == {"enabled": True, "frozen": True}


def test_exit_waits_for_threads_runs_exit_handlers_and_flushes_output(
    project: Project, opsflow: Any, observed: Path
) -> None:
    result = _run(opsflow, project, observed, "observe")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "x" * 200_000 + "\n"  # more than a pipe holds: flushed in full
    seen = json.loads(observed.read_text())
    assert seen["command"] == {"enabled": True, "frozen": True}
    assert seen["thread"] == "finished"
    assert seen["atexit"] == "ran"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("nosuchcommand",), 2),
        (("status", "abcdefabcdef"), 5),
        (("--version",), 0),
    ],
)
def test_exit_codes_survive_the_fast_exit(
    project: Project, opsflow: Any, args: tuple[str, ...], code: int
) -> None:
    result = opsflow(*args, cwd=project.root)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr


FAST_OR_NOT = """
import os, sys
real = os._exit
def spy(status):
    print("fast exit", status, file=sys.stderr, flush=True)
    real(status)
os._exit = spy
if sys.argv[1] == "profiled":
    sys.setprofile(lambda *a: None)
sys.argv = ["opsflow", "status", "abcdefabcdef"]
from opsflow.cli import main
main()
"""


@pytest.mark.parametrize("mode", ["plain", "profiled", "inspect"])
def test_a_profiler_or_python_i_gets_the_normal_shutdown(project: Project, mode: str) -> None:
    """Under a profiler the process ends normally (its report is written at exit), and
    ``python -i`` still gets its prompt after the command."""
    import subprocess

    from opsflow_process import clean_env

    result = subprocess.run(
        [sys.executable, *(["-i"] if mode == "inspect" else []), "-c", FAST_OR_NOT, mode],
        cwd=project.root,
        env=clean_env(),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ("fast exit 5" in result.stderr) is (mode == "plain")
    if mode == "inspect":  # the prompt read an empty stdin and ended the process
        assert result.returncode == 0, result.stderr
        assert "SystemExit: 5" in result.stderr
    else:
        assert result.returncode == 5, result.stderr


# -- the functions themselves, in this process -----------------------------------------


@pytest.fixture
def collector_state() -> Iterator[None]:
    """Whatever a test does to the collector is undone."""
    was = gc.isenabled()
    try:
        yield
    finally:
        process._paused = False
        gc.unfreeze()
        if was:
            gc.enable()
        else:
            gc.disable()


@pytest.mark.usefixtures("collector_state")
def test_start_pauses_and_ready_freezes_and_resumes_once() -> None:
    gc.enable()
    process.start()
    assert not gc.isenabled()
    process.ready()
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0
    gc.unfreeze()
    process.ready()  # a second call changes nothing
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector_state")
def test_ready_leaves_a_collector_it_did_not_pause_alone() -> None:
    gc.disable()
    process.start()  # already off: not ours to resume
    process.ready()
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.usefixtures("collector_state")
def test_end_returns_where_the_normal_shutdown_must_run() -> None:
    """Under pytest's tracer-free run a profiler stands in: end() must not exit the process."""
    gc.enable()
    process.start()
    sys.setprofile(lambda *a: None)
    try:
        process.end(0)
    finally:
        sys.setprofile(None)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize(
    ("code", "status"), [(None, 0), (0, 0), (5, 5), (75, 75), (256, 0), (True, 1), ("msg", 1)]
)
def test_exit_status_is_what_python_would_exit_with(
    code: object, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert process.exit_status(code) == status
    assert capsys.readouterr().err == ("msg\n" if code == "msg" else "")


def test_engine_commands_exist() -> None:
    """Every name the collector waits on for the engine is a real command."""
    assert set(cli.commands) >= ENGINE_COMMANDS
