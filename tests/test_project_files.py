"""Files a newcomer relies on: the README's workflow, the shipped templates, the schema comment."""

from __future__ import annotations

import filecmp
from pathlib import Path

from opsflow.language.loader import LoadContext, load_workflow_text

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "src" / "opsflow" / "templates"


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_template_workflows_are_the_standard_workflows() -> None:
    standard, shipped = ROOT / "workflows", TEMPLATES / "workflows"
    assert _tree(standard) == _tree(shipped)
    for name in _tree(standard):
        assert filecmp.cmp(standard / name, shipped / name, shallow=False), name


def test_every_standard_workflow_has_the_schema_comment_and_a_scenario_file() -> None:
    files = sorted((ROOT / "workflows").glob("*.yaml"))
    assert [f.stem for f in files] == [
        "campaign_lifecycle", "compliance_review", "content_approval", "performance_cycle"]
    for path in files:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../workflow.schema.json"
        assert (ROOT / "workflows" / "tests" / f"{path.stem}.test.yaml").is_file()


def test_readme_workflow_loads_cleanly() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded, diagnostics = load_workflow_text(
        block, "README.md", LoadContext(channels=frozenset({"team_chat"}))
    )
    assert diagnostics == []
    assert loaded is not None
    assert loaded.spec.workflow == "content_approval"


def test_readme_quick_start_matches_ci() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert test_command in readme
    assert test_command in ci
    assert "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/opsflow demo" in readme


def test_init_ships_the_schema_the_workflows_point_at() -> None:
    shipped = TEMPLATES / "workflow.schema.json"
    assert filecmp.cmp(ROOT / "workflow.schema.json", shipped, shallow=False)
