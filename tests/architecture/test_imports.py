"""The house (STYLE.md "The house", issue 13), checked on the source itself.

- no import cycle among opsflow's modules, counting imports inside functions and under
  ``TYPE_CHECKING``;
- no module uses another module's ``_private`` names;
- the import-linter contracts in pyproject.toml hold, and every top-level module of opsflow
  has its place in the layers contract.
"""

from __future__ import annotations

import ast
import logging
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "opsflow"
PYPROJECT = ROOT / "pyproject.toml"


@cache
def graph() -> grimp.ImportGraph:
    """opsflow's import graph: every import, at module level or not, TYPE_CHECKING too."""
    return grimp.build_graph("opsflow", exclude_type_checking_imports=False, cache_dir=None)


def strongly_connected(g: grimp.ImportGraph) -> list[list[str]]:
    """The groups of modules that import one another, directly or not (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so that a deep graph cannot reach the recursion limit.
        work: list[tuple[str, Iterator[str]]] = []

        def enter(module: str) -> None:
            index[module] = low[module] = len(index)
            stack.append(module)
            on_stack.add(module)
            work.append((module, iter(sorted(g.find_modules_directly_imported_by(module)))))

        enter(start)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    enter(child)
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))

    for module in sorted(g.modules):
        if module not in index:
            visit(module)
    return sorted(groups)


def describe_cycle(g: grimp.ImportGraph, group: list[str]) -> str:
    members = set(group)
    lines = [f"cycle among {len(group)} modules: {', '.join(group)}"]
    for importer in group:
        for imported in sorted(g.find_modules_directly_imported_by(importer) & members):
            for detail in g.get_import_details(importer=importer, imported=imported):
                lines.append(
                    f"  {module_path(importer)}:{detail['line_number']}: {detail['line_contents']}"
                )
    return "\n".join(lines)


def module_path(module: str) -> str:
    relative = Path(*module.split("."))
    path = SRC / relative.with_suffix(".py")
    if not path.exists():
        path = SRC / relative / "__init__.py"
    return str(path.relative_to(ROOT))


def test_no_import_cycles() -> None:
    g = graph()
    cycles = strongly_connected(g)
    assert not cycles, "\n\n".join(describe_cycle(g, group) for group in cycles)


# --- private names ------------------------------------------------------------------------


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def sources() -> Sources:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        found[module_name(path)] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name of the module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    base = package_of(module, path).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def defined_private_names(tree: ast.Module) -> set[str]:
    """Every private name a module defines: functions, classes, attributes, assignments."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)  # dataclass(...)/namedtuple fields set by keyword
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.add(node.value)  # __slots__, getattr/setattr by name
    return {name for name in names if is_private(name)}


Sources = dict[str, tuple[Path, ast.Module]]


def imported_modules(module: str, path: Path, tree: ast.Module, known: Sources) -> dict[str, str]:
    """Local name -> opsflow module, for every opsflow module this module imports as a name."""
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "opsflow":
                    continue
                if alias.asname:
                    bound[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            origin = resolve(module, path, node)
            if origin.split(".")[0] != "opsflow":
                continue
            for alias in node.names:
                target = f"{origin}.{alias.name}"
                if target in known:
                    bound[alias.asname or alias.name] = target
    return bound


def private_reaches(known: Sources) -> list[str]:
    """Every place where a module uses a ``_private`` name of another module."""
    defined = {module: defined_private_names(tree) for module, (_, tree) in known.items()}
    everywhere: dict[str, set[str]] = {}
    for module, names in defined.items():
        for name in names:
            everywhere.setdefault(name, set()).add(module)
    found: list[tuple[str, int, str]] = []
    for module, (path, tree) in known.items():
        where = str(path.relative_to(ROOT))
        own_package = package_of(module, path)
        modules = imported_modules(module, path, tree, known)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                origin = resolve(module, path, node)
                if origin.split(".")[0] != "opsflow" or origin == module:
                    continue
                for alias in node.names:
                    if not is_private(alias.name):
                        continue
                    if f"{origin}.{alias.name}" in known and origin == own_package:
                        continue  # a private module, imported inside its own package
                    found.append((where, node.lineno, f"imports {origin}.{alias.name}"))
            elif isinstance(node, ast.Attribute) and is_private(node.attr):
                owner = node.value
                if isinstance(owner, ast.Name) and owner.id in modules:
                    target = modules[owner.id]
                    if target != module and not (
                        f"{target}.{node.attr}" in known and package_of(target, path) == own_package
                    ):
                        shown = f"{target}.{node.attr} ({owner.id}.{node.attr})"
                        found.append((where, node.lineno, f"uses {shown}"))
                    continue
                if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                    continue
                if node.attr in defined[module]:
                    continue  # this module's own private (another instance of its class)
                owners = everywhere.get(node.attr, set()) - {module}
                if owners:
                    shown = f"{ast.unparse(node)}, private to {', '.join(sorted(owners))}"
                    found.append((where, node.lineno, f"uses {shown}"))
    return [f"{where}:{line}: {what}" for where, line, what in sorted(found)]


def test_no_module_uses_another_modules_private_names() -> None:
    found = private_reaches(sources())
    assert not found, f"{len(found)} private reach(es):\n" + "\n".join(found)


def test_the_private_name_check_sees_each_kind_of_reach() -> None:
    """The check itself, on made-up modules: each kind of reach is found; self._x is not."""
    texts = {
        "opsflow.core.step": "def _entry(): pass\nclass Step:\n    _seq = 0\n",
        "opsflow.engine.engine": (
            "class Engine:\n    def _retrying(self): self._tries = 1\n"
            "    def same(self, other): return other._tries\n"
        ),
        "opsflow.language._compiler": "def compile_tree(): pass\n",
        "opsflow.language.expressions": "from opsflow.language._compiler import compile_tree\n",
        "opsflow.runners.worker": (
            "from opsflow.core.step import _entry\n"
            "from opsflow.core import step\n"
            "def run(engine, one):\n"
            "    step._seq\n"
            "    engine._retrying()\n"
            "    one._tries\n"
            "    engine.public()\n"
        ),
    }
    known = {
        name: (SRC / Path(*name.split(".")).with_suffix(".py"), ast.parse(text))
        for name, text in texts.items()
    }
    assert [line.partition(": ")[2] for line in private_reaches(known)] == [
        "imports opsflow.core.step._entry",
        "uses opsflow.core.step._seq (step._seq)",
        "uses engine._retrying, private to opsflow.engine.engine",
        "uses one._tries, private to opsflow.engine.engine",
    ]


# --- import-linter ------------------------------------------------------------------------


@cache
def importlinter_config() -> dict:
    with open(PYPROJECT, "rb") as handle:
        return tomllib.load(handle)["tool"]["importlinter"]


def contract_ids() -> list[str]:
    return [contract["id"] for contract in importlinter_config()["contracts"]]


@pytest.mark.parametrize("contract", contract_ids())
def test_import_linter_contract_is_kept(contract: str, capsys: pytest.CaptureFixture[str]) -> None:
    from importlinter.cli import lint_imports

    # import-linter's CLI configures logging with dictConfig, which disables every logger
    # that exists (opsflow's among them) for the rest of this process: put them back.
    loggers = [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    disabled = [(logger, logger.disabled) for logger in loggers]
    try:
        code = lint_imports(
            config_filename=str(PYPROJECT),
            limit_to_contracts=(contract,),
            no_cache=True,
            no_logo=True,
        )
    finally:
        for logger, was in disabled:
            logger.disabled = was
    shown = capsys.readouterr().out
    assert code == 0, shown


def test_every_top_level_module_has_a_place_in_the_house() -> None:
    """A new module under opsflow/ must be placed in the layers contract (or it escapes it)."""
    (house,) = [c for c in importlinter_config()["contracts"] if c["type"] == "layers"]
    placed: set[str] = set()
    for layer in house["layers"]:
        for part in layer.replace("|", ":").split(":"):
            placed.add(part.strip().strip("()"))
    top = {m for m in graph().find_children("opsflow")}
    missing = sorted(top - placed)
    assert not missing, f"not in the layers contract of pyproject.toml: {missing}"


if __name__ == "__main__":  # a quick report: python tests/architecture/test_imports.py
    print("\n\n".join(describe_cycle(graph(), group) for group in strongly_connected(graph())))
    print("\n".join(private_reaches(sources())))
    sys.exit(0)
