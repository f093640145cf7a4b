"""Files a newcomer relies on: the README's workflow, the shipped templates, the schema comment."""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path

import pytest

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
        "campaign_lifecycle",
        "compliance_review",
        "content_approval",
        "performance_cycle",
    ]
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
    demo = "python3 -m venv .venv && .venv/bin/pip install '.[server]' && .venv/bin/opsflow demo"
    assert demo in readme  # the first command installs the service too


def test_init_ships_the_schema_the_workflows_point_at() -> None:
    shipped = TEMPLATES / "workflow.schema.json"
    assert filecmp.cmp(ROOT / "workflow.schema.json", shipped, shallow=False)


# -- the docs stand alone ----------------------------------------------------------------

DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return {_anchor(h) for h in _HEADING.findall(text)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_docs_cite_nothing_outside_the_repository(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "SPEC" not in text
    assert "/work/" not in text


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_relative_link_in_the_docs_resolves(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.is_relative_to(ROOT), f"{path.name}: {target} leaves the repository"
        assert resolved.exists(), f"{path.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in _anchors(resolved), f"{path.name}: no heading for {target}"


def test_every_builtin_notifier_is_documented() -> None:
    from opsflow.plugins import load_plugins

    loaded = load_plugins(env={"OPSFLOW_DISABLE_PLUGIN_AUTOLOAD": "1"})
    builtin = sorted(
        name for info in loaded.infos if info.kind == "builtin" for name in info.notifiers
    )
    assert {"console", "file", "email", "webhook", "slack", "feishu", "dingtalk", "wecom"} <= set(
        builtin
    )
    guide = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    sections = dict(
        re.findall(r"^### `(\w+)`\n(.*?)(?=^#{2,3} )", guide + "\n## end", re.DOTALL | re.M)
    )
    for name in builtin:
        assert name in sections, f"notifier {name} has no section in docs/configuration.md"
        assert "| setting |" in sections[name] or "No settings" in sections[name], name


def test_browser_waits_pass_functions_not_bare_expressions() -> None:
    # Playwright evaluates a bare expression with eval() on every poll, which the
    # board's Content-Security-Policy forbids once a poll runs outside the first call;
    # a function is evaluated once and kept. A bare expression fails only when the
    # condition is not already true, that is, on a slow machine.
    bare = re.compile(r"wait_for_function\(\s*(?:#[^\n]*\n\s*)?[\"'](?!\(\)\s*=>)")
    offenders = [
        f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
        for path in sorted((ROOT / "tests").rglob("*.py"))
        for text in [path.read_text(encoding="utf-8")]
        for m in bare.finditer(text)
    ]
    assert offenders == []


def test_the_incident_example_validates_and_its_scenarios_pass(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from opsflow.cli import cli

    examples = ROOT / "docs" / "examples"
    base = ["--config", str(ROOT / "opsflow.yaml"), "--workflows", str(examples)]
    base += ["--db", f"sqlite:///{tmp_path / 'x.db'}"]
    checked = CliRunner().invoke(cli, [*base, "validate", "--json"])
    assert checked.exit_code == 0, checked.output
    found = json.loads(checked.stdout)
    errors = [d for d in found["diagnostics"] if d["severity"] == "error"]
    assert errors == []
    tested = CliRunner().invoke(
        cli, [*base, "test", str(examples / "tests" / "incident_response.test.yaml")]
    )
    assert tested.exit_code == 0, tested.output
    assert tested.stdout.strip().endswith("3 passed, 0 failed")
