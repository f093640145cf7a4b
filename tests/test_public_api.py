"""The public surface: ``opsflow.__all__`` is complete, and the library needs no click."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import subprocess
import sys
import typing

import opsflow
from opsflow import errors
from opsflow.facade import Engine

# Errors a public method raises that its docstring does not name.
RAISES = {
    "start": ("PluginRefusal",),
    "fire": ("PluginRefusal",),
    "set": ("PluginRefusal",),
}


def test_all_names_resolve() -> None:
    for name in opsflow.__all__:
        assert getattr(opsflow, name) is not None, name


def test_public_classes_are_in_all() -> None:
    public = {n for n in dir(opsflow) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(opsflow.__all__)


def _opsflow_types(hint: object, found: set[type]) -> None:
    """The opsflow classes ``hint`` names, and those their dataclass fields name."""
    for argument in typing.get_args(hint):
        _opsflow_types(argument, found)
    target = typing.get_origin(hint) or hint
    if not isinstance(target, type) or not target.__module__.startswith("opsflow."):
        return
    if target not in found:
        found.add(target)
        if dataclasses.is_dataclass(target):
            for field_hint in typing.get_type_hints(target).values():
                _opsflow_types(field_hint, found)


def _is_method(value: object) -> bool:
    return inspect.isfunction(value) or inspect.ismethod(value)


def _public_methods() -> list[tuple[str, typing.Any]]:
    """The Engine's public methods, and the getters of its public (cached) properties."""
    found = [
        (name, method)
        for name, method in inspect.getmembers(Engine, _is_method)
        if not name.startswith("_")
    ]
    for name, value in inspect.getmembers(Engine):
        if not name.startswith("_") and isinstance(value, functools.cached_property | property):
            getter = value.func if isinstance(value, functools.cached_property) else value.fget
            found.append((name, getter))
    return found


def test_all_exports_what_the_engine_returns() -> None:
    # Types the signatures import only for type checking resolve through opsflow itself,
    # so a missing one fails here too.
    exported = {name: getattr(opsflow, name) for name in opsflow.__all__}
    found: set[type] = set()
    for name, method in _public_methods():
        try:
            hints = typing.get_type_hints(method, localns=exported)
        except NameError as exc:
            raise AssertionError(f"Engine.{name}: {exc} (missing from opsflow.__all__?)") from exc
        _opsflow_types(hints.get("return"), found)
    assert found, "no types found: the derivation is broken"
    missing = sorted(c.__name__ for c in found if exported.get(c.__name__) is not c)
    assert not missing, f"returned by Engine methods but not in opsflow.__all__: {missing}"


def test_all_exports_what_the_engine_raises() -> None:
    error_names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, errors.OpsflowError)
    }
    raised: set[str] = set()
    for name, method in _public_methods():
        words = set(re.findall(r"\w+", inspect.getdoc(method) or ""))
        raised |= (words & error_names) | set(RAISES.get(name, ()))
    assert {"MigrationRefused", "NotFound", "PluginRefusal"} <= raised
    missing = sorted(n for n in raised if getattr(opsflow, n, None) is not getattr(errors, n))
    assert not missing, f"raised by Engine methods but not in opsflow.__all__: {missing}"
    assert raised <= set(opsflow.__all__)


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
