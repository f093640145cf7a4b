"""How an ``opsflow`` process starts and ends: for most commands, the costliest part.

Start-up imports SQLAlchemy, pydantic and the workflow models: a few hundred thousand
objects that live until the process ends. With Python's cyclic garbage collector on, they
are traversed again and again while they are being created (about a tenth of start-up),
though none of them is garbage. So the console entry point pauses the collector
(:func:`start`), and once the command's set-up is done (:func:`ready`: the engine is built,
or the command needs none) the objects alive are frozen, out of every later collection,
and the collector runs again as usual.

A normal interpreter shutdown then tears every module down object by object (about 60 ms
for SQLAlchemy's and pydantic's), memory the operating system takes back at once anyway.
After the command, :func:`end` does what a shutdown must and nothing more: it waits for
the non-daemon threads, runs the exit handlers (``atexit``: logging, plugins, coverage),
flushes the standard streams and leaves with :func:`os._exit`. A file that a plugin
opens and never closes is not flushed by a teardown that does not happen: close files.
Under a tracer or profiler, in Python's development or inspect mode (``-X dev``, ``-i``),
or off the main thread, :func:`end` leaves the normal shutdown to run, so their reports,
warnings and prompt appear.

Only ``opsflow.cli.main`` calls these; the library and in-process callers of the click
group (tests, CliRunner) never change the collector or the way the process ends.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import os
import sys
import threading

_paused = False  # the collector was paused by start() and not yet resumed by ready()


def start() -> None:
    """Pause the cyclic garbage collector for the start-up (if it is running)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def ready() -> None:
    """The set-up is done: freeze what is alive now and resume the collector (once)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def _fast_exit_possible() -> bool:
    return (
        sys.gettrace() is None
        and sys.getprofile() is None
        and not sys.flags.dev_mode
        and not sys.flags.inspect  # python -i: the prompt comes after the command
        and not os.environ.get("PYTHONINSPECT")
        and threading.current_thread() is threading.main_thread()
        and callable(getattr(threading, "_shutdown", None))
        and callable(getattr(atexit, "_run_exitfuncs", None))
    )


def exit_status(code: object) -> int:
    """The process's exit status for ``sys.exit(code)``, as Python computes it."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(code, file=sys.stderr)
    return 1


def end(code: object) -> None:
    """End the process with ``code`` as ``sys.exit(code)`` would, minus the module teardown.

    Returns (without doing anything but unfreezing) when the normal shutdown must run;
    the caller then re-raises its ``SystemExit``.
    """
    ready()
    if not _fast_exit_possible():
        gc.unfreeze()  # the normal shutdown collects everything, as it would have
        return
    status = exit_status(code)
    threading._shutdown()  # type: ignore[attr-defined]  # what shutdown does first: join threads
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except ValueError:  # closed: nothing left to write
            pass
        except OSError:
            if stream is sys.stdout:
                status = 120  # what Python exits with when it cannot flush stdout
    os._exit(status)
