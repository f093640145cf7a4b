"""The public surface: ``opsflow.__all__`` is complete, and the library needs no click."""

from __future__ import annotations

import subprocess
import sys

import opsflow


def test_all_names_resolve() -> None:
    for name in opsflow.__all__:
        assert getattr(opsflow, name) is not None, name


def test_public_classes_are_in_all() -> None:
    public = {n for n in dir(opsflow) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(opsflow.__all__)


def test_errors_carry_exit_codes() -> None:
    codes = {
        cls.__name__: cls.exit_code
        for cls in (
            opsflow.NotPermitted,
            opsflow.Refused,
            opsflow.NotFound,
            opsflow.Conflict,
            opsflow.Invalid,
            opsflow.Busy,
            opsflow.Usage,
        )
    }
    assert codes == {
        "NotPermitted": 3,
        "Refused": 4,
        "NotFound": 5,
        "Conflict": 6,
        "Invalid": 65,
        "Busy": 75,
        "Usage": 2,
    }


def test_library_imports_without_click() -> None:
    code = (
        "import sys, opsflow\n"
        "from opsflow import Engine\n"
        "assert 'click' not in sys.modules, 'click imported by the library'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
