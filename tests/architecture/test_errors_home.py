"""Every exception opsflow defines lives in ``opsflow.errors`` (one hierarchy, one mapping to
exit codes and HTTP statuses)."""

from __future__ import annotations

import ast
from pathlib import Path

import opsflow.errors

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "opsflow"
ERROR_NAMES = {
    name
    for name, value in vars(opsflow.errors).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}
# A subclass of PyYAML's error, raised and caught inside the YAML reader: moving it to
# opsflow.errors would make the errors module import yaml (and the store with it).
ALLOWED = {"language/yamlio.py": {"YamlLimitError"}}


def _base_name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def test_no_module_but_errors_defines_an_exception() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative == "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {_base_name(base) for base in node.bases}
            exceptional = bases & ERROR_NAMES or any(
                name.endswith(("Error", "Exception")) for name in bases
            )
            if exceptional and node.name not in ALLOWED.get(relative, set()):
                found.append(f"{relative}:{node.lineno}: class {node.name}")
    assert not found, "exceptions outside opsflow.errors:\n" + "\n".join(found)


def test_the_check_sees_a_subclass_of_an_opsflow_error() -> None:
    assert "NotAuthenticated" in ERROR_NAMES
    tree = ast.parse("class TokenMissing(NotAuthenticated):\n    pass\n")
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    assert {_base_name(b) for b in node.bases} & ERROR_NAMES
