"""Generate :mod:`opsflow.store.tables` (Core ``Table`` objects) from the SQLModel classes.

``python -m opsflow.store.schemagen`` rewrites ``tables.py``; ``--check`` exits 1 when it
is out of date (a test runs the same check). Edit the schema in ``models.py``, never in
``tables.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import Column, MetaData, Table, UniqueConstraint

TARGET = Path(__file__).with_name("tables.py")

HEADER = '''"""The database tables as SQLAlchemy Core objects: what the engine reads and writes.

GENERATED from the SQLModel classes in :mod:`opsflow.store.models` by
``python -m opsflow.store.schemagen``; do not edit. Core tables cost a command a few
milliseconds to build, where the SQLModel classes cost ~60 ms and pull in ``sqlalchemy.orm``.
"""
'''


def _s(text: object) -> str:
    """A string literal as the formatter writes it (double quotes)."""
    return json.dumps(str(text))


def _type(column: Column[object]) -> tuple[str, str]:
    """The source of a column's type and the module to import its class from."""
    cls = type(column.type)
    module = "sqlalchemy" if cls.__module__.startswith("sqlalchemy") else cls.__module__
    return repr(column.type), f"{module}:{cls.__name__}"


def _column(column: Column[object]) -> str:
    parts = [_s(column.name), _type(column)[0]]
    if column.primary_key:
        parts.append("primary_key=True")
    else:
        parts.append(f"nullable={column.nullable!r}")
    if column.unique:
        parts.append("unique=True")
    if column.default is not None:
        parts.append(f"default={column.default.arg!r}")  # type: ignore[attr-defined]
    if column.server_default is not None:
        parts.append(f"server_default={_s(column.server_default.arg)}")  # type: ignore[attr-defined]
    return f"    Column({', '.join(parts)}),"


def _extras(table: Table) -> list[str]:
    lines = []
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        names = ", ".join(_s(c.name) for c in index.columns)
        unique = ", unique=True" if index.unique else ""
        lines.append(f"    Index({_s(index.name)}, {names}{unique}),")
    constraints = [
        c
        for c in table.constraints
        if isinstance(c, UniqueConstraint) and not getattr(c, "_column_flag", False)
    ]
    for constraint in sorted(constraints, key=lambda c: str(c.name)):
        names = ", ".join(_s(c.name) for c in constraint.columns)
        lines.append(f"    UniqueConstraint({names}, name={_s(constraint.name)}),")
    return lines


def render(metadata: MetaData, order: list[str]) -> str:
    """The source of ``tables.py`` for ``metadata``'s tables, in ``order``."""
    imports = {"sqlalchemy:Column", "sqlalchemy:MetaData", "sqlalchemy:Table"}
    body = ["", "metadata = MetaData()"]
    for name in order:
        table = metadata.tables[name]
        extras = _extras(table)  # Index(...) and UniqueConstraint(...) lines
        imports.update(_type(c)[1] for c in table.columns)
        imports.update(f"sqlalchemy:{line.strip().split('(', 1)[0]}" for line in extras)
        body += ["", f"{name} = Table(", f"    {_s(name)},", "    metadata,"]
        body += [_column(c) for c in table.columns]
        body += [*extras, ")"]
    by_module: dict[str, list[str]] = {}
    for item in imports:
        module, cls = item.split(":")
        by_module.setdefault(module, []).append(cls)
    lines = [HEADER, "from __future__ import annotations", ""]
    for module in sorted(by_module, key=lambda m: (m != "sqlalchemy", m)):
        if module != "sqlalchemy" and lines[-1].startswith("from sqlalchemy"):
            lines.append("")
        names = sorted(by_module[module])
        line = f"from {module} import {', '.join(names)}"
        if len(line) > 99:
            line = "\n".join([f"from {module} import (", *(f"    {n}," for n in names), ")"])
        lines.append(line)
    return "\n".join(lines + body) + "\n"


def generated() -> str:
    """``tables.py`` as the SQLModel classes of :mod:`opsflow.store.models` declare it."""
    from opsflow.store import models

    order = [str(model.__tablename__) for model in models.ROW_MODELS]
    return render(models.metadata, order)


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``tables.py``, or with ``--check`` report whether it is up to date."""
    args = sys.argv[1:] if argv is None else argv
    text = generated()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if "--check" in args:
        if current != text:
            print(f"{TARGET} is out of date: run python -m opsflow.store.schemagen")
            return 1
        return 0
    if current != text:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
