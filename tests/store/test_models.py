"""The schema's two forms: SQLModel classes (where it is written) and the generated Core tables."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import MetaData
from sqlmodel import Session, select

from opsflow.store import models, schemagen, tables


def _shape(metadata: MetaData) -> dict[str, Any]:
    """Everything the database sees of a metadata: columns, keys, defaults, indexes."""
    shape: dict[str, Any] = {}
    for name, table in metadata.tables.items():
        shape[name] = {
            "columns": [
                (
                    c.name,
                    repr(c.type),
                    c.nullable,
                    c.primary_key,
                    bool(c.unique),
                    getattr(c.default, "arg", None),
                    getattr(c.server_default, "arg", None),
                )
                for c in table.columns
            ],
            "indexes": sorted(
                (str(i.name), tuple(c.name for c in i.columns), bool(i.unique))
                for i in table.indexes
            ),
            "constraints": sorted(
                (type(c).__name__, str(c.name), tuple(col.name for col in c.columns))
                for c in table.constraints
                if type(c).__name__ == "UniqueConstraint"
            ),
        }
    return shape


def test_generated_tables_are_up_to_date() -> None:
    assert schemagen.TARGET.read_text(encoding="utf-8") == schemagen.generated(), (
        "src/opsflow/store/tables.py is stale: run python -m opsflow.store.schemagen"
    )
    assert schemagen.main(["--check"]) == 0


def test_core_tables_and_sqlmodel_classes_declare_the_same_schema() -> None:
    assert _shape(tables.metadata) == _shape(models.metadata)
    assert [m.__tablename__ for m in models.ROW_MODELS] == list(tables.metadata.tables)  # type: ignore[attr-defined]
    cases = _shape(tables.metadata)["cases"]
    assert ("ix_cases_state_created", ("state", "created_at"), False) in cases["indexes"]


def test_check_reports_a_stale_file(tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    stale = tmp_path / "tables.py"
    stale.write_text(schemagen.generated().replace("String(length=100)", "String(length=99)"))
    monkeypatch.setattr(schemagen, "TARGET", stale)
    assert schemagen.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out
    assert schemagen.main([]) == 0
    assert stale.read_text() == schemagen.generated()
    assert schemagen.main(["--check"]) == 0


def test_row_models_read_what_the_engine_wrote(make_engine: Callable[..., Any]) -> None:
    engine = make_engine()
    case = engine.start("review", actor="ann", data={"title": "Spring sale"})
    engine.fire(case.id, "submit", actor="ann")
    with Session(engine.db.engine) as session:
        row = session.exec(select(models.CaseRow).where(models.CaseRow.id == case.id)).one()
        assert (row.state, row.data["title"], row.seq) == ("review", "Spring sale", 2)
        assert row.created_at.tzinfo is not None
        entries = session.exec(
            select(models.HistoryRow)
            .where(models.HistoryRow.case_id == case.id)
            .order_by(models.HistoryRow.seq)  # type: ignore[arg-type]
        ).all()
        assert [(e.kind, e.event, e.to_state) for e in entries] == [
            ("start", None, "draft"),
            ("transition", "submit", "review"),
        ]
        deadline = session.exec(
            select(models.DeadlineRow).where(models.DeadlineRow.case_id == case.id)
        ).one()
        assert (deadline.event, deadline.status) == ("escalate", "pending")


def test_commands_that_read_or_write_a_case_never_build_the_orm() -> None:
    code = (
        "import sys\n"
        "import opsflow.engine, opsflow.cli.cases, opsflow.runners.worker\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlmodel', 'sqlalchemy.orm'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
