"""How the ``opsflow`` process starts and ends (cli.process): collector pause, fast exit."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
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
    env = {
        "OBSERVED": str(out),
        "OPSFLOW_PLUGINS_DIR": str(project.root / "plugins"),
        "PYTHONUNBUFFERED": "",  # stdout keeps what is written until it is flushed
    }
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
from opsflow.cli import run
run()
"""


FLAGS = {"plain": [], "profiled": [], "inspect": ["-i"], "warnings": ["-W", "default"]}


@pytest.mark.parametrize("mode", list(FLAGS))
def test_a_profiler_python_i_or_w_gets_the_normal_shutdown(project: Project, mode: str) -> None:
    """Under a profiler the process ends normally (its report is written at exit),
    ``python -i`` still gets its prompt and ``-W`` the teardown's warnings."""
    from opsflow_process import clean_env

    result = subprocess.run(
        [sys.executable, *FLAGS[mode], "-c", FAST_OR_NOT, mode],
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
        process._paused = process._frozen = False
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
    "code", [None, 0, 5, 75, 255, 256, -1, -256, 2**31, 2**63, -(2**63) - 1, True, "msg"]
)
def test_exit_status_is_what_python_exits_with(
    code: object, capsys: pytest.CaptureFixture[str]
) -> None:
    python = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.exit({code!r})"], capture_output=True, text=True
    )
    assert process.exit_status(code) & 0xFF == python.returncode & 0xFF
    assert capsys.readouterr().err == python.stderr


def test_main_runs_in_this_process_without_ending_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main()`` (unlike the program's ``run()``) raises SystemExit and leaves GC alone."""
    from opsflow.cli import main

    monkeypatch.setattr(sys, "argv", ["opsflow", "--version"])
    enabled, frozen = gc.isenabled(), gc.get_freeze_count()
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0
    assert (gc.isenabled(), gc.get_freeze_count()) == (enabled, frozen)


def test_a_monitoring_tool_counts_as_a_profiler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.12+ profilers and coverage use sys.monitoring, not sys.setprofile."""

    class Monitoring:
        def __init__(self, tools: dict[int, str]) -> None:
            self.tools = tools

        def get_tool(self, tool: int) -> str | None:
            return self.tools.get(tool)

    monkeypatch.setattr(sys, "monitoring", Monitoring({}), raising=False)
    assert not process._monitored()
    monkeypatch.setattr(sys, "monitoring", Monitoring({2: "cProfile"}), raising=False)
    assert process._monitored()
    assert not process._fast_exit_possible()


UNFLUSHED = """
import sys
from opsflow import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command()
    def buffered():
        sys.stdout.write("left in the buffer")  # written out when the process ends
"""


def _reader_gone(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run ``args`` with a stdout pipe whose reader has already left.

    The read end is closed before the child starts: closing it after, a loaded machine
    could let the child write and exit first, and the write would succeed.
    """
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        child = subprocess.Popen(args, cwd=cwd, env=env, stdout=write_end, stderr=subprocess.PIPE)
    finally:
        os.close(write_end)
    _out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(args, child.returncode, None, err.decode())


def test_output_that_cannot_be_flushed_exits_120_as_python_does(project: Project) -> None:
    from opsflow_process import clean_env

    plugins = project.root / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "buffered.py").write_text(UNFLUSHED, encoding="utf-8")
    env = clean_env({"OPSFLOW_PLUGINS_DIR": str(plugins)})
    env.pop("PYTHONUNBUFFERED", None)  # stdout keeps what is written until it is flushed
    python = _reader_gone(
        [sys.executable, "-c", "import sys; sys.stdout.write('left in the buffer')"],
        project.root,
        env,
    )
    ours = _reader_gone([sys.executable, "-m", "opsflow", "buffered"], project.root, env)
    assert python.returncode == 120, python.stderr
    assert ours.returncode == 120, ours.stderr
    for result in (python, ours):
        assert "Exception ignored in" in result.stderr
        assert "BrokenPipeError" in result.stderr


SLOW_THREAD = """
import atexit, os, threading, time
from pathlib import Path

import click
from opsflow import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command()
    def linger():
        threading.Thread(target=time.sleep, args=(30,)).start()
        atexit.register(lambda: Path(os.environ["OBSERVED"]).write_text("atexit ran"))
        Path(os.environ["OBSERVED"]).write_text("waiting")
"""


def test_ctrl_c_while_waiting_for_threads_is_reported_and_exit_goes_on(
    project: Project, observed: Path
) -> None:
    """As Python: the interrupt is reported as ignored, exit handlers run, status kept."""
    from opsflow_process import clean_env

    (project.root / "plugins" / "observer.py").write_text(SLOW_THREAD, encoding="utf-8")
    env = clean_env(
        {"OBSERVED": str(observed), "OPSFLOW_PLUGINS_DIR": str(project.root / "plugins")}
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "opsflow", "linger"],
        cwd=project.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not observed.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the command has returned: the process waits for the thread
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "Exception ignored in: <module 'threading'>" in err
    assert "KeyboardInterrupt" in err
    assert observed.read_text() == "atexit ran"


ENGINE_ARGS = {
    "start": ["--as", "rita", "start", "expense", "--set", "title=T", "--set", "amount=1"],
    "fire": ["--as", "rita", "fire", "{case}", "submit"],
    "set": ["--as", "rita", "set", "{case}", "title=U"],
    "status": ["status", "{case}"],
    "cases": ["cases"],
    "inbox": ["--as", "rita", "inbox"],
    "history": ["history", "{case}"],
    "compute": ["compute", "{case}"],
    "worker": ["worker", "--once"],
    "incidents": ["incidents"],
    "bulk": ["--as", "rita", "bulk", "fire", "submit", "{case}", "--yes"],
    "assign": ["--as", "rita", "assign", "{case}", "rita"],
    "unassign": ["--as", "rita", "unassign", "{case}"],
    "claim": ["--as", "rita", "claim", "{case}"],
}


@pytest.mark.usefixtures("collector_state")
@pytest.mark.parametrize("name", sorted(ENGINE_COMMANDS))
def test_every_engine_command_resumes_the_collector(name: str, run: Any, start_case: Any) -> None:
    """A command the collector waits on must build the engine (or GC stays off all along)."""
    case_id = start_case("rita", "spent=10")
    process._paused = True  # as run() leaves it: paused until the set-up is done
    result = run(*(a.format(case=case_id) for a in ENGINE_ARGS[name]))
    assert result.exit_code == 0, result.output
    assert not process._paused


def test_engine_commands_exist() -> None:
    """Every name the collector waits on for the engine is a real command, with a test."""
    assert set(cli.commands) >= ENGINE_COMMANDS
    assert set(ENGINE_ARGS) == ENGINE_COMMANDS
