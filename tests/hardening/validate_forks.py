"""Run ``opsflow validate FILE`` in a forked process per file; print a JSON report.

Used by test_invalid_corpus_cli.py: Python and opsflow are imported once, then every
file gets a real child process of its own (exit code, stdout, stderr), so what is timed
is the validate call itself, not the interpreter's start-up or opsflow's imports
(warmed once before the first fork). POSIX only (os.fork).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout, suppress

from opsflow.cli import cli


def validate_in_child(path: str) -> dict[str, object]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # the child: the CLI as a process would run it
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            code = 70
            try:
                cli.main(args=["validate", path], prog_name="opsflow")
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        return {
            "path": path,
            "exit": os.waitstatus_to_exitcode(status),
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
            "seconds": elapsed,
        }


def warm_up(path: str) -> None:
    """Import what validate imports (opsflow imports lazily) before the first fork."""
    with (
        open(os.devnull, "w") as sink,
        redirect_stdout(sink),
        redirect_stderr(sink),
        suppress(SystemExit),
    ):
        cli.main(args=["validate", path], prog_name="opsflow")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        warm_up(sys.argv[1])
    print(json.dumps([validate_in_child(p) for p in sys.argv[1:]]))
