"""Titles per locale through /v1/workflows: given as written, so the board can choose (both
backends)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.language.text import localized

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "valid" / "localized_titles.yaml"
ANN = {"Authorization": "Bearer ann"}
TITLE = {"zh-CN": "内容审批", "en": "Content approval"}


@pytest.fixture(autouse=True)
def _localized_workflow(workflows_dir: Path) -> None:
    shutil.copy(FIXTURE, workflows_dir / "localized_titles.yaml")


def test_the_list_and_the_workflow_give_titles_as_written(
    service: tuple[TestClient, Any],
) -> None:
    client, _engine = service
    listed = client.get("/v1/workflows", headers=ANN).json()
    assert {w["id"]: w["title"] for w in listed} == {
        "localized_titles": TITLE,
        "review": "审核 Review",
    }
    answer = client.get("/v1/workflows/localized_titles", headers=ANN)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["title"] == TITLE
    assert found["description"] == {"zh-CN": "从草稿到发布。", "en": "From draft to publication."}
    states = {s["name"]: s for s in found["states"]}
    assert states["review"]["title"] == {"zh": "审阅中", "en-GB": "In review"}
    assert states["review"]["description"] == "编辑审阅 Editorial review"
    assert states["published"]["title"] == {"zh-Hans-CN": "已发布", "en": "Published"}
    fields = {f["name"]: f for f in found["fields"]}
    assert fields["headline"]["title"] == {"zh-CN": "标题", "en": "Headline"}
    assert fields["headline"]["description"] == {"en": "Shown on the card"}
    assert fields["budget"]["title"] == "预算 Budget"
    events = {t["event"]: t for t in found["transitions"]}
    assert localized(events["publish"]["description"], "zh-CN") == "四眼原则：提交人不能发布"
    assert found["metrics"] == [
        {"name": "share", "calculator": "ratio", "description": {"zh-CN": "占比", "en": "Share"}}
    ]


def test_a_case_of_it_runs_and_its_diagram_speaks_the_server_locale(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    started = client.post(
        "/v1/cases",
        json={"workflow": "localized_titles", "data": {"headline": "春季新品"}},
        headers=ANN,
    )
    assert started.status_code == 201, started.text
    case_id = started.json()["id"]
    fired = client.post(f"/v1/cases/{case_id}/events/submit", json={}, headers=ANN)
    assert fired.status_code == 200, fired.text
    assert engine.status(case_id).title == TITLE  # the workflow's title, as written
    graph = client.get(f"/v1/workflows/localized_titles/graph?case={case_id}", headers=ANN)
    assert graph.status_code == 200, graph.text
    lines = graph.text.splitlines()
    assert "title: 内容审批" in lines  # server.locale: zh-CN by default
    assert '    state "审阅中" as review' in lines  # zh-CN finds zh
    assert "    class review current" in lines
    english = engine.graph("localized_titles", "dot", case_id, locale="en-GB").text
    assert 'review [label="In review"' in english
    assert 'published [label="Published"' in english  # en-GB finds en
