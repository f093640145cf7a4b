"""Titles per locale through the real CLI: validate, workflows, show, status, graph."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

Run = Callable[..., Result]
Project = Any

LAUNCH = """\
workflow: launch
version: 1
title: {zh-CN: 新品发布, en: Product launch}
description: {zh-CN: 从草稿到上线, en: From draft to live}
roles: [requester, manager]
fields:
  name: {type: string, title: {zh-CN: 名称, en: Name}}
states:
  draft: {initial: true, title: {zh-CN: 草稿, en: Draft}}
  live: {final: true, title: {zh: 已上线, en-GB: Live}}
transitions:
  - {event: launch, from: draft, to: live, roles: [manager], title: {zh-CN: 上线, en: Launch}}
"""


@pytest.fixture
def launch(project: Project) -> Path:
    path = project.root / "workflows" / "launch.yaml"
    path.write_text(LAUNCH, encoding="utf-8")
    return path


def _in_english(project: Project) -> None:
    config = project.root / "opsflow.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "server: {locale: en}\n", "utf-8")


def test_validate_takes_titles_per_locale(run: Run, launch: Path) -> None:
    result = run("validate", str(launch))
    assert result.exit_code == 0, result.output
    assert "no problems" in result.stderr


def test_workflows_show_the_title_in_the_project_locale(
    run: Run, project: Project, launch: Path
) -> None:
    listed = json.loads(run("workflows", "--json").stdout)
    [found] = [w for w in listed if w["id"] == "launch"]
    assert found["title"] == {"zh-CN": "新品发布", "en": "Product launch"}  # as written
    assert "新品发布" in run("workflows").stdout  # server.locale's default: zh-CN
    _in_english(project)
    human = run("workflows").stdout
    assert "Product launch" in human
    assert "新品发布" not in human


def test_show_and_graph_use_the_project_locale(run: Run, project: Project, launch: Path) -> None:
    shown = run("show", "launch")
    assert shown.exit_code == 0, shown.output
    for text in ("新品发布", "从草稿到上线", "草稿", "已上线"):
        assert text in shown.stdout
    assert "{" not in shown.stdout.split("Transitions")[0]  # no map printed as such
    doc = json.loads(run("show", "launch", "--json").stdout)
    assert doc["states"]["live"]["title"] == {"zh": "已上线", "en-GB": "Live"}
    lines = run("graph", "launch").stdout.splitlines()
    assert "title: 新品发布" in lines
    assert '    state "草稿" as draft' in lines
    _in_english(project)
    shown = run("show", "launch").stdout
    for text in ("Product launch", "From draft to live", "Draft", "Live"):
        assert text in shown
    lines = run("graph", "launch").stdout.splitlines()
    assert "title: Product launch" in lines
    assert '    state "Live" as live' in lines  # en finds en-GB
    dot = run("graph", "launch", "--format", "dot").stdout
    assert 'draft [label="Draft"' in dot


def test_status_names_the_workflow_in_the_project_locale(
    run: Run, project: Project, launch: Path
) -> None:
    case_id = run("--as", "rita", "start", "launch", "--set", "name=春季").stdout.strip()
    assert "launch v1 (新品发布)" in run("status", case_id).stdout
    _in_english(project)
    assert "launch v1 (Product launch)" in run("status", case_id).stdout


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("title: {}", "'title': an empty map: give the text in at least one locale"),
        (
            "title: {english: Launch}",
            "'title': 'english' is not a locale tag: use a language code with an optional "
            "region, like zh-CN, en or en-GB",
        ),
        ("title: {zh-CN: 42}", "'title': the zh-CN value must be text, not a number"),
        ("title: {en: [a, b]}", "'title': the en value must be text, not a list"),
        ('title: {en: ""}', "'title': the en text is empty"),
        ('title: ""', "'title': empty text: write the text, or leave the key out"),
        ("title: {en: A, EN: B}", "'title': the locale en is given twice (tags ignore case)"),
        ("title: [发布]", "'title': expected text or a map of locale to text"),
    ],
)
def test_validate_refuses_a_bad_title_and_writes_nothing(
    run: Run, project: Project, line: str, message: str
) -> None:
    bad = project.root / "launch.yaml"  # beside the workflows folder, not in it
    bad.write_text(LAUNCH.replace(LAUNCH.splitlines()[2], line), encoding="utf-8")
    before = _snapshot(project.root)
    result = run("validate", str(bad))
    assert result.exit_code == 65
    [error] = result.stdout.splitlines()
    assert error.startswith(f"{bad}:3:8: error: {message}"), error
    assert "1 error(s), 0 warning(s)" in result.stderr
    doc = json.loads(run("validate", str(bad), "--json").stdout)
    assert doc["ok"] is False
    assert [d["message"] for d in doc["diagnostics"]] == [error.split(": error: ", 1)[1]]
    assert _snapshot(project.root) == before  # no database, no file written or changed


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
