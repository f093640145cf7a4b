"""Loading plugins: built-ins, entry points, the allow-list, local modules, failures."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from opsflow.errors import ConfigError
from opsflow.plugins import DEFAULT_PLUGINS, Plugins, default_plugins, load_plugins

NO_AUTOLOAD = {"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"}

GOOD = """
from opsflow.hookspecs import hookimpl

@hookimpl
def register_calculators(register):
    register("{calc}", lambda params, ctx: 7)
"""


def write(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code), encoding="utf-8")
    return path


MakeDist = Callable[..., str]


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """Install a fake distribution with an ``opsflow`` entry point on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    modules: list[str] = []

    def make(dist: str, entry: str, code: str, version: str = "1.2.3") -> str:
        module = f"opsflow_test_{entry}_{uuid.uuid4().hex[:8]}"
        modules.append(module)
        write(site / f"{module}.py", code)
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(f"[opsflow]\n{entry} = {module}\n", encoding="utf-8")
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def names(plugins: Plugins) -> list[str]:
    return [info.name for info in plugins.infos]


def test_built_ins_load_through_the_hooks() -> None:
    plugins = load_plugins(env=NO_AUTOLOAD)
    assert names(plugins) == list(DEFAULT_PLUGINS)
    assert {"count", "sum", "ratio"} <= set(plugins.calculators)
    assert {"console", "file"} <= set(plugins.notifiers)
    assert all(info.kind == "builtin" for info in plugins.infos)
    assert plugins.calculators["count"].plugin == "opsflow.builtins.calculators"
    assert plugins.errors == []


def test_each_load_gets_its_own_plugin_manager(tmp_path: Path) -> None:
    write(tmp_path / "one" / "extra.py", GOOD.format(calc="extra"))
    with_local = load_plugins(plugins_dir=tmp_path / "one", env=NO_AUTOLOAD)
    without = load_plugins(env=NO_AUTOLOAD)
    assert with_local.pm is not without.pm
    assert "extra" in with_local.calculators
    assert "extra" not in without.calculators


def test_default_plugins_is_loaded_once() -> None:
    assert default_plugins() is default_plugins()


def test_entry_point_plugins_load_with_their_version(make_dist: MakeDist) -> None:
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"), version="2.0.1")
    plugins = load_plugins(env={})
    info = plugins.info("acme")
    assert info is not None
    assert (info.kind, info.version, info.calculators) == ("installed", "2.0.1", ["acme_score"])
    assert info.hooks == ["register_calculators"]
    assert plugins.calculators["acme_score"].plugin == "acme"


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_disable_autoload_keeps_only_the_built_ins(make_dist: MakeDist, value: str) -> None:
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"))
    plugins = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": value})
    assert names(plugins) == list(DEFAULT_PLUGINS)
    assert "acme_score" not in plugins.calculators


def test_autoload_is_on_for_zero(make_dist: MakeDist) -> None:
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"))
    assert "acme" in names(load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "0"}))


def test_allow_list_names_entry_points_or_distributions(make_dist: MakeDist) -> None:
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"))
    make_dist("opsflow-beta", "beta", GOOD.format(calc="beta_score"))
    make_dist("opsflow_gamma", "gamma", GOOD.format(calc="gamma_score"))
    loaded = load_plugins(env={}, allow=["beta", "opsflow.gamma"])
    assert {"beta", "gamma"} <= set(names(loaded))
    assert "acme" not in names(loaded)
    assert names(load_plugins(env={}, allow=[])) == list(DEFAULT_PLUGINS)


def test_a_plugin_failing_to_import_is_recorded(make_dist: MakeDist) -> None:
    make_dist("opsflow-broken", "broken", "raise RuntimeError('missing API key')\n")
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"))
    plugins = load_plugins(env={})
    [error] = [e for e in plugins.errors if e.name == "broken"]
    assert error.error == "import failed: RuntimeError: missing API key"
    assert "acme_score" in plugins.calculators  # the others still load
    assert "broken" not in names(plugins)


def test_strict_raises_naming_the_plugin(make_dist: MakeDist) -> None:
    make_dist("opsflow-broken", "broken", "import no_such_module_here\n")
    with pytest.raises(ConfigError, match=r"^plugin broken: import failed: ModuleNotFoundError"):
        load_plugins(env={}, strict=True)


def test_a_misspelt_hook_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path / "typo.py",
        """
        from opsflow.hookspecs import hookimpl

        @hookimpl
        def register_calculator(register):
            register("never", lambda params, ctx: 0)
        """,
    )
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    [error] = plugins.errors
    assert error.name == "typo"
    assert "unknown hook" in error.error
    assert "register_calculator" in error.error
    assert "typo" not in names(plugins)
    with pytest.raises(ConfigError, match="plugin typo: unknown hook"):
        load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD, strict=True)


def test_a_hook_with_unknown_arguments_is_refused(tmp_path: Path) -> None:
    write(
        tmp_path / "badargs.py",
        """
        from opsflow.hookspecs import hookimpl

        @hookimpl
        def before_transition(case, user):
            return None
        """,
    )
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    [error] = plugins.errors
    assert error.name == "badargs"
    assert "user" in error.error


def test_local_plugins_load_from_the_plugins_dir(tmp_path: Path) -> None:
    write(tmp_path / "helpers.py", "FACTOR = 3\n")
    write(
        tmp_path / "scores.py",
        """
        from opsflow.hookspecs import hookimpl
        from opsflow_local_plugins.helpers import FACTOR

        @hookimpl
        def register_calculators(register):
            register("tripled", lambda params, ctx: params["x"] * FACTOR)

        @hookimpl
        def register_functions(register):
            register("triple", lambda x: x * FACTOR)
        """,
    )
    write(tmp_path / "broken.py", "1 / 0\n")
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    assert names(plugins) == [*DEFAULT_PLUGINS, "helpers", "scores"]
    info = plugins.info("scores")
    assert info is not None
    assert (info.kind, info.calculators, info.functions) == ("local", ["tripled"], ["triple"])
    assert sys.modules["opsflow_local_plugins.scores"].__file__ == str(tmp_path / "scores.py")
    assert plugins.functions["triple"](2) == 6
    [error] = plugins.errors
    assert error.name == "broken"
    assert "ZeroDivisionError" in error.error
    assert "opsflow_local_plugins.broken" not in sys.modules


def test_a_missing_plugins_dir_is_recorded(tmp_path: Path) -> None:
    plugins = load_plugins(plugins_dir=tmp_path / "nope", env=NO_AUTOLOAD)
    assert [e.error for e in plugins.errors] == ["plugins folder not found"]


def test_a_built_in_name_cannot_be_taken(tmp_path: Path) -> None:
    write(tmp_path / "mine.py", GOOD.format(calc="count"))
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    assert plugins.calculators["count"].plugin == "opsflow.builtins.calculators"
    assert [str(e) for e in plugins.errors] == [
        "plugin mine: calculator 'count' is already registered by plugin"
        " opsflow.builtins.calculators; ignored"
    ]
    with pytest.raises(ConfigError, match="calculator 'count' is already registered"):
        load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD, strict=True)


def test_two_plugins_with_one_name_the_first_keeps_it(tmp_path: Path) -> None:
    write(tmp_path / "a_first.py", GOOD.format(calc="score"))
    write(tmp_path / "b_second.py", GOOD.format(calc="score"))
    write(
        tmp_path / "c_notify.py",
        """
        from opsflow.hookspecs import hookimpl

        @hookimpl
        def register_notifiers(register):
            register("console", print)
        """,
    )
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    assert plugins.calculators["score"].plugin == "a_first"
    assert [str(e) for e in plugins.errors] == [
        "plugin b_second: calculator 'score' is already registered by plugin a_first; ignored",
        "plugin c_notify: notifier 'console' is already registered by plugin"
        " opsflow.builtins.notifiers; ignored",
    ]


def test_a_raising_register_hook_is_recorded(tmp_path: Path) -> None:
    write(
        tmp_path / "raiser.py",
        """
        from opsflow.hookspecs import hookimpl

        @hookimpl
        def register_calculators(register):
            register("half_done", lambda params, ctx: 1)
            raise KeyError("config missing")
        """,
    )
    plugins = load_plugins(plugins_dir=tmp_path, env=NO_AUTOLOAD)
    assert "half_done" not in plugins.calculators
    assert [str(e) for e in plugins.errors] == [
        "plugin raiser: register_calculators: KeyError: 'config missing'"
    ]


def test_an_entry_point_and_a_local_plugin_with_one_name(
    make_dist: MakeDist, tmp_path: Path
) -> None:
    make_dist("opsflow-acme", "acme", GOOD.format(calc="acme_score"))
    write(tmp_path / "local" / "acme.py", GOOD.format(calc="local_score"))
    plugins = load_plugins(plugins_dir=tmp_path / "local", env={})
    assert "acme_score" in plugins.calculators
    assert "local_score" not in plugins.calculators
    assert any(e.name == "acme" and "already registered" in e.error for e in plugins.errors)


def test_register_plugin_refuses_a_broken_plugin(opsflow_plugins: Plugins) -> None:
    class Typo:
        from opsflow.hookspecs import hookimpl

        @hookimpl
        def register_notifier(self, register: object) -> None:
            """Misspelt on purpose."""

    from opsflow.testing import register_plugin

    with (
        pytest.raises(ConfigError, match="plugin typo: unknown hook"),
        register_plugin(opsflow_plugins, Typo(), "typo"),
    ):
        pass
    assert opsflow_plugins.pm.get_plugin("typo") is None


def test_kpi_calculators_are_registered_before_their_modules_load() -> None:
    """The KPI calculators' names are listed statically; their modules load on first use."""
    import importlib
    import importlib.metadata

    import opsflow
    from opsflow.builtins.calculators import KPI_MODULES

    for module, names in KPI_MODULES.items():
        assert tuple(importlib.import_module(module).CALCULATORS) == names
    plugins = load_plugins(env=NO_AUTOLOAD)
    for names in KPI_MODULES.values():
        for name in names:
            calculator = plugins.calculators[name]
            assert calculator.plugin == "opsflow.builtins.calculators"
            assert hasattr(calculator.params_model, "model_validate")
    assert opsflow.__version__ == importlib.metadata.version("opsflow")
