"""The example plugin packages in ``plugins/`` are packaged and written as outsiders' would be.

These checks are fast and need no installation; ``test_outside_plugin.py`` installs the
packages with pip and drives them through the CLI.
"""

from __future__ import annotations

import ast
import importlib
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import opsflow
from opsflow.plugins import Plugins
from opsflow.testing import register_plugin

REPO = Path(__file__).resolve().parents[2]
PACKAGES = sorted(p for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file())
TYPE_HINT_MODULES = {"opsflow.plugins"}  # CalculatorContext, Notification: hints only


def test_there_are_a_calculator_and_a_notifier_example() -> None:
    assert [p.name for p in PACKAGES] == ["opsflow-customer-value", "opsflow-sms-gateway"]


def pyproject(package: Path) -> dict[str, Any]:
    with (package / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)


def entry_points(package: Path) -> dict[str, str]:
    return dict(pyproject(package)["project"]["entry-points"]["opsflow"])


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_each_package_is_a_complete_project(package: Path) -> None:
    meta = pyproject(package)
    project = meta["project"]
    assert project["name"] == package.name
    assert meta["build-system"]["build-backend"]
    assert any(dep.split(">")[0].strip() == "opsflow" for dep in project["dependencies"])
    assert project["readme"] == "README.md"
    assert (package / "README.md").read_text(encoding="utf-8").startswith(f"# {package.name}")
    assert sorted((package / "tests").glob("test_*.py"))
    [(name, module)] = entry_points(package).items()
    assert name == module.removeprefix("opsflow_")
    assert (package / "src" / module / "__init__.py").is_file()
    assert (package / "src" / module / "py.typed").is_file()
    assert package.name in (REPO / "docs" / "plugins.md").read_text(encoding="utf-8")


def _opsflow_imports(tree: ast.AST) -> Iterator[tuple[str, list[str], bool]]:
    """(module, names, under TYPE_CHECKING) for every import of opsflow in ``tree``."""
    hinted: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            hinted.update(id(inner) for inner in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "opsflow" or alias.name.startswith("opsflow."):
                    yield alias.name, [], id(node) in hinted
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "opsflow":
            yield str(node.module), [a.name for a in node.names], id(node) in hinted


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_each_package_uses_only_the_public_plugin_contract(package: Path) -> None:
    problems = []
    for path in sorted((package / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module, names, hint_only in _opsflow_imports(tree):
            where = f"{path.relative_to(package)}: {module}"
            if module == "opsflow":
                private = [n for n in names if n not in opsflow.__all__]
                if private or not names:
                    problems.append(f"{where} imports {private or 'the module'}")
            elif module not in TYPE_HINT_MODULES or not hint_only:
                problems.append(f"{where} is not public (only for type hints under TYPE_CHECKING)")
    assert problems == []


@pytest.fixture
def package_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every example package's ``src`` on sys.path (as if installed), for one test."""
    for package in PACKAGES:
        monkeypatch.syspath_prepend(str(package / "src"))
    yield
    for name in [m for m in sys.modules if m.startswith(("opsflow_customer", "opsflow_sms"))]:
        del sys.modules[name]


EXPECTED = {
    "customer_value": {
        "hooks": ["register_calculators", "register_functions"],
        "calculators": ["clv", "cac_payback"],
        "functions": ["pct_change"],
    },
    "sms_gateway": {
        "hooks": ["before_transition", "register_commands", "register_notifiers"],
        "notifiers": ["sms"],
    },
}


@pytest.mark.usefixtures("package_path")
@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_each_package_registers_cleanly(opsflow_plugins: Plugins, package: Path) -> None:
    [(name, module_name)] = entry_points(package).items()
    module = importlib.import_module(module_name)
    with register_plugin(opsflow_plugins, module, name) as loaded:  # strict: any problem fails
        info = loaded.info(name)
        assert info is not None
        shown = {k: v for k, v in info.to_json().items() if v and k in EXPECTED[name]}
        assert shown == EXPECTED[name]
        assert loaded.errors == []
