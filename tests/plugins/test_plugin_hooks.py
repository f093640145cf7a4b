"""Every hook of opsflow.hookspecs: documented, and exercised by a test plugin."""

from __future__ import annotations

import ast
import inspect
import logging
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

from opsflow import hookspecs
from opsflow.errors import ConfigError, Invalid, OpsflowError
from opsflow.hookspecs import hookimpl
from opsflow.plugins import Notification, Plugins
from opsflow.testing import register_plugin

REPO = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if hasattr(fn, "opsflow_spec")
)


def test_hooks_are_the_ones_in_the_spec() -> None:
    assert HOOKS == [
        "after_transition",
        "before_transition",
        "register_calculators",
        "register_commands",
        "register_functions",
        "register_notifiers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_is_documented(hook: str) -> None:
    """A docstring, and a section in docs/plugins.md with the signature and an example."""
    doc = getattr(hookspecs, hook).__doc__
    assert doc
    assert doc.strip()
    guide = (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")
    names = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    heading = f"### `{hook}({names})`"
    assert heading in guide, f"docs/plugins.md needs a section {heading}"
    section = guide.split(heading, 1)[1].split("\n### ", 1)[0]
    assert "@hookimpl" in section, f"the {hook} section needs an example"
    assert f"def {hook}(" in section, f"the {hook} section needs an example"


def _hook_implementations() -> dict[str, set[str]]:
    """Hook name -> the test modules that implement it with ``@hookimpl`` and have tests."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        if not any(f.name.startswith("test_") for f in functions):
            continue
        for function in functions:
            decorators = {ast.unparse(d).split("(")[0] for d in function.decorator_list}
            if decorators & {"hookimpl", "opsflow.hookimpl", "hookspecs.hookimpl"}:
                found.setdefault(function.name, set()).add(path.name)
    return found


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_has_a_test(hook: str) -> None:
    """Some test module implements the hook in a test plugin (datasette's meta-test)."""
    assert hook in _hook_implementations(), f"no test implements {hook} with @hookimpl"
    assert f"test_hook_{hook}" in globals(), f"write test_hook_{hook}"


def test_the_hook_meta_test_finds_only_real_hooks() -> None:
    misspelt = set(_hook_implementations()) - set(HOOKS)
    assert misspelt <= {"register_calculator", "register_notifier"}  # deliberate typo tests


# -- register_calculators ---------------------------------------------------------------


class WindowParams(BaseModel):
    days: int


class CalculatorPlugin:
    @hookimpl
    def register_calculators(self, register: Any) -> None:
        register("double", lambda params, ctx: params["x"] * 2)
        register("window", lambda params, ctx: params.days * 24, params_model=WindowParams)


def test_hook_register_calculators(opsflow_plugins: Plugins, make_ctx: Any) -> None:
    with register_plugin(opsflow_plugins, CalculatorPlugin(), "calc") as loaded:
        assert loaded.calculators["double"].plugin == "calc"
        assert loaded.calculators["double"].run({"x": 21}, make_ctx()) == 42
        assert loaded.calculators["window"].run({"days": "2"}, make_ctx()) == 48
        assert loaded.info("calc") is not None
        assert loaded.info("calc").calculators == ["double", "window"]  # type: ignore[union-attr]
    assert "double" not in opsflow_plugins.calculators
    assert "count" in opsflow_plugins.calculators


def test_params_model_errors_name_the_metric_and_field(
    opsflow_plugins: Plugins, make_ctx: Any
) -> None:
    with (
        register_plugin(opsflow_plugins, CalculatorPlugin(), "calc") as loaded,
        pytest.raises(Invalid) as caught,
    ):
        loaded.calculators["window"].run({"days": "many"}, make_ctx(), metric="uptime")
    assert str(caught.value).startswith("metric 'uptime' (calculator 'window'): param 'days'")


def test_a_calculator_crash_is_an_opsflow_error(opsflow_plugins: Plugins, make_ctx: Any) -> None:
    with (
        register_plugin(opsflow_plugins, CalculatorPlugin(), "calc") as loaded,
        pytest.raises(OpsflowError, match="calculator 'double' failed: KeyError"),
    ):
        loaded.calculators["double"].run({}, make_ctx())


def test_register_checks_its_arguments(opsflow_plugins: Plugins) -> None:
    class Bad:
        @hookimpl
        def register_calculators(self, register: Any) -> None:
            register("fine", lambda p, c: 1)
            register("broken", "not callable")

    opsflow_plugins.add(Bad(), "bad")
    assert "fine" not in opsflow_plugins.calculators  # a failing hook registers nothing
    assert [e.name for e in opsflow_plugins.errors] == ["bad"]
    assert "not callable" in opsflow_plugins.errors[0].error


# -- register_notifiers -----------------------------------------------------------------


SENT: list[Notification] = []


class NotifierPlugin:
    @hookimpl
    def register_notifiers(self, register: Any) -> None:
        register("memory", SENT.append)


def test_hook_register_notifiers(opsflow_plugins: Plugins) -> None:
    with register_plugin(opsflow_plugins, NotifierPlugin(), "mem") as loaded:
        note = Notification("chat", "brand", None, "hi", "c1", "submit", "k1", {})
        loaded.notifiers["memory"](note)
        assert SENT[-1] is note
        assert loaded.info("mem").notifiers == ["memory"]  # type: ignore[union-attr]


# -- register_functions -----------------------------------------------------------------


class FunctionPlugin:
    @hookimpl
    def register_functions(self, register: Any) -> None:
        register("shout", lambda text: str(text).upper())


def test_hook_register_functions(opsflow_plugins: Plugins) -> None:
    with register_plugin(opsflow_plugins, FunctionPlugin(), "fn") as loaded:
        assert loaded.functions["shout"]("hi") == "HI"
        assert loaded.info("fn").functions == ["shout"]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["len", "Bad-Name", "__import__"])
def test_function_names_are_checked(opsflow_plugins: Plugins, name: str) -> None:
    class Shadow:
        @hookimpl
        def register_functions(self, register: Any) -> None:
            register(name, lambda: 1)

    with pytest.raises(ConfigError), register_plugin(opsflow_plugins, Shadow(), "shadow"):
        pass
    assert name not in opsflow_plugins.functions


# -- register_commands ------------------------------------------------------------------


class CommandPlugin:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @cli.command()
        def hello() -> None:
            """Say hello."""
            click.echo("hello from a plugin")


def test_hook_register_commands(opsflow_plugins: Plugins) -> None:
    cli = click.Group("opsflow")
    with register_plugin(opsflow_plugins, CommandPlugin(), "cmd") as loaded:
        loaded.register_commands(cli)
        assert loaded.info("cmd").commands == ["hello"]  # type: ignore[union-attr]
    result = CliRunner().invoke(cli, ["hello"])
    assert result.output == "hello from a plugin\n"


def test_a_failing_register_commands_is_recorded(opsflow_plugins: Plugins) -> None:
    class Broken:
        @hookimpl
        def register_commands(self, cli: Any) -> None:
            raise RuntimeError("boom")

    with register_plugin(opsflow_plugins, Broken(), "broken") as loaded:
        loaded.strict = False
        loaded.register_commands(click.Group("opsflow"))
        assert [str(e) for e in loaded.errors] == [
            "plugin broken: register_commands: RuntimeError: boom"
        ]
        loaded.strict = True
        with pytest.raises(ConfigError, match="plugin broken failed"):
            loaded.register_commands(click.Group("opsflow"))


# -- before_transition / after_transition -------------------------------------------------

CASE = {"id": "c1", "workflow": "w", "state": "draft", "data": {"budget": 500}}
TRANSITION = {"event": "submit", "from": "draft", "to": "review"}
ACTOR = {"name": "ann", "roles": ["author"]}


class BudgetGuard:
    @hookimpl
    def before_transition(self, case: Any, transition: Any) -> str | None:  # a subset of args
        if transition["event"] == "submit" and case["data"]["budget"] > 100:
            return "budget over 100 needs finance sign-off"
        return None


class Allow:
    @hookimpl
    def before_transition(self, actor: Any) -> None:
        return None


def test_hook_before_transition(opsflow_plugins: Plugins) -> None:
    with (
        register_plugin(opsflow_plugins, BudgetGuard(), "guard"),
        register_plugin(opsflow_plugins, Allow(), "allow"),
    ):
        refusals = opsflow_plugins.before_transition(case=CASE, transition=TRANSITION, actor=ACTOR)
        assert refusals == ["budget over 100 needs finance sign-off"]
        other = {**TRANSITION, "event": "reject"}
        assert opsflow_plugins.before_transition(case=CASE, transition=other, actor=ACTOR) == []


def test_a_broken_guard_fails_closed(opsflow_plugins: Plugins) -> None:
    class Crashes:
        @hookimpl
        def before_transition(self, case: Any) -> str:
            raise ValueError("no database")

    class Weird:
        @hookimpl
        def before_transition(self) -> Any:
            return False

    with (
        register_plugin(opsflow_plugins, Crashes(), "crashes"),
        register_plugin(opsflow_plugins, Weird(), "weird"),
    ):
        refusals = opsflow_plugins.before_transition(case=CASE, transition=TRANSITION, actor=ACTOR)
    assert refusals == [
        "plugin crashes failed: ValueError: no database",
        "plugin weird failed: before_transition returned False",
    ]


def test_hook_after_transition(opsflow_plugins: Plugins, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[Any, ...]] = []

    class Observer:
        @hookimpl
        def after_transition(self, case: Any, transition: Any, actor: Any, entry: Any) -> None:
            seen.append((case["id"], transition["to"], actor["name"], entry["seq"]))

    class Crashes:
        @hookimpl
        def after_transition(self, entry: Any) -> None:
            raise RuntimeError("observer down")

    with (
        caplog.at_level(logging.ERROR, logger="opsflow.plugins"),
        register_plugin(opsflow_plugins, Crashes(), "crashes"),
        register_plugin(opsflow_plugins, Observer(), "observer"),
    ):
        opsflow_plugins.after_transition(
            case=CASE, transition=TRANSITION, actor=ACTOR, entry={"seq": 2}
        )
    assert seen == [("c1", "review", "ann", 2)]
    assert "plugin crashes: after_transition failed" in caplog.text
    assert "observer down" in caplog.text


def test_reserved_function_names_are_the_evaluators() -> None:
    from opsflow.language.expressions import BUILTIN_FUNCTIONS
    from opsflow.plugins import RESERVED_FUNCTIONS

    assert RESERVED_FUNCTIONS == BUILTIN_FUNCTIONS
