"""How an ``opsflow`` process starts and ends: for most commands, the costliest part.

Start-up imports SQLAlchemy, pydantic and the workflow models: a few hundred thousand
objects that live until the process ends. With Python's cyclic garbage collector on, they
are traversed again and again while they are being created (about a tenth of start-up),
though none of them is garbage. So the process entry point pauses the collector
(:func:`start`), and once the command's set-up is done (:func:`ready`: the engine is built,
or the command needs none) the objects alive are frozen, out of every later collection,
and the collector runs again as usual.

A normal interpreter shutdown then tears every module down object by object (about 60 ms
for SQLAlchemy's and pydantic's), memory the operating system takes back at once anyway.
After the command, :func:`end` does what a shutdown must and nothing more, in Python's
order: it waits for the non-daemon threads, runs the exit handlers (``atexit``: logging,
plugins, coverage), flushes the standard streams and leaves with :func:`os._exit`, with
the exit status Python would give. What it skips is the teardown: a file that a plugin
opens and never closes is not flushed, and finalizers (``__del__``) of objects still
alive do not run. Under a tracer, profiler or monitoring tool, with warning options
(``-W``), in Python's development or inspect mode (``-X dev``, ``-i``), or off the main
thread, :func:`end` leaves the normal shutdown to run, so their reports, warnings and
prompt appear.

Only :func:`opsflow.cli.run`, the ``opsflow`` program's entry point, calls these:
``opsflow.cli.main()``, the click group and the library never change the collector or the
way the process ends, so a caller in the same process (a test, a notebook) is safe.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading
import traceback
from typing import Any

_paused = False  # the collector was paused by start() and not yet resumed by ready()
_frozen = False  # ready() froze the start-up objects


def start() -> None:
    """Pause the cyclic garbage collector for the start-up (if it is running)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def ready() -> None:
    """The set-up is done: freeze what is alive now and resume the collector (once)."""
    global _paused, _frozen
    if _paused:
        _paused = False
        gc.freeze()
        _frozen = True
        gc.enable()


def abandon() -> None:
    """The normal shutdown will run: the collector back on, nothing of ours frozen."""
    global _frozen
    ready()
    if _frozen:
        _frozen = False
        gc.unfreeze()  # the shutdown collects everything, as it would have


def _monitored() -> bool:
    """Whether a ``sys.monitoring`` tool (Python 3.12+: cProfile, coverage, pdb) is active."""
    monitoring = getattr(sys, "monitoring", None)
    if monitoring is None:
        return False
    return any(monitoring.get_tool(tool) is not None for tool in range(6))


def _fast_exit_possible() -> bool:
    return (
        sys.gettrace() is None
        and sys.getprofile() is None
        and not _monitored()
        and not sys.warnoptions  # -W: e.g. ResourceWarnings the teardown would show
        and not sys.flags.dev_mode
        and not sys.flags.inspect  # python -i: the prompt comes after the command
        and not os.environ.get("PYTHONINSPECT")
        and threading.current_thread() is threading.main_thread()
        and callable(getattr(threading, "_shutdown", None))
        and callable(getattr(atexit, "_run_exitfuncs", None))
    )


def exit_status(code: object) -> int:
    """The status for ``sys.exit(code)`` as Python computes it (before the OS keeps 8 bits).

    None is 0; an integer is converted to a C ``long`` (-1 when it does not fit) and then
    to an ``int``; anything else is printed on stderr and is 1.
    """
    if code is None:
        return 0
    if isinstance(code, int):
        value = code if -(2**63) <= code < 2**63 else -1
        return (value + 2**31) % 2**32 - 2**31
    with contextlib.suppress(Exception):
        print(code, file=sys.stderr)
    return 1


def end(code: object) -> None:
    """End the process with ``code`` as ``sys.exit(code)`` would, minus the module teardown.

    Returns, having called :func:`abandon`, when the normal shutdown must run; the caller
    then re-raises its ``SystemExit``.
    """
    if not _fast_exit_possible():
        abandon()
        return
    ready()
    status = exit_status(code)
    try:
        threading._shutdown()  # type: ignore[attr-defined]  # join non-daemon threads
    except KeyboardInterrupt as exc:  # Ctrl-C while waiting: Python reports it and goes on
        _ignored(exc, "<module 'threading'>")
    atexit._run_exitfuncs()
    if not _flushed(sys.stdout, report=True) or not _flushed(sys.stderr, report=False):
        status = 120  # what Python exits with when it cannot flush a standard stream
    os._exit(status)


def _flushed(stream: Any, *, report: bool) -> bool:
    """Flush a standard stream; False when that failed (a closed one has nothing left)."""
    if stream is None or getattr(stream, "closed", False):
        return True
    try:
        stream.flush()
    except Exception as exc:
        if report:
            _ignored(exc, "<stdout>")
        return False
    return True


def _ignored(exc: BaseException, where: str) -> None:
    """Report an exception the shutdown cannot raise, as Python does."""
    with contextlib.suppress(Exception):
        sys.stderr.write(f"Exception ignored in: {where}\n")
        traceback.print_exception(exc, file=sys.stderr)
        sys.stderr.flush()
