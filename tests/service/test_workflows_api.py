"""/v1/workflows: the list, one workflow for forms and boards, and its diagram (both backends)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from project_cli import run_cli

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


@pytest.fixture(autouse=True)
def _more_workflows(workflows_dir: Path) -> None:
    """Beside ``review``: ``other`` (the same states) and ``hr`` (readable by legal only)."""
    text = (workflows_dir / "review.yaml").read_text(encoding="utf-8")
    other = text.replace("workflow: review", "workflow: other").replace("审核 Review", "其他 Other")
    (workflows_dir / "other.yaml").write_text(other, encoding="utf-8")
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")


def problem(answer: Any, status: int) -> dict[str, Any]:
    """The problem+json body of an error answer, checked for its shape."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "reasons"}
    assert body["status"] == status
    assert "Traceback" not in answer.text
    return body


def start(client: TestClient, workflow: str = "review", who: str = "ann") -> str:
    answer = client.post(
        "/v1/cases", json={"workflow": workflow, "data": {"title": "春季 sale"}}, headers=as_(who)
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


# -- the list ------------------------------------------------------------------------------


def test_the_list_is_opsflow_workflows_json_without_server_paths(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    start(client)
    answer = client.get("/v1/workflows", headers=as_("ed"))
    assert answer.status_code == 200
    listed = answer.json()
    assert [w["id"] for w in listed] == ["hr", "other", "review"]
    review = listed[2]
    assert review == {
        "id": "review",
        "version": 1,
        "title": "审核 Review",
        "states": ["draft", "review", "legal", "scheduled", "published", "held", "done"]
        + ["rejected"],
        "open_cases": 1,
    }
    expected = [w.to_json() for w in engine.workflows()]
    assert listed == [{k: v for k, v in w.items() if k != "path"} for w in expected]


def test_the_list_needs_authentication(client: TestClient) -> None:
    problem(client.get("/v1/workflows"), 401)


# -- one workflow --------------------------------------------------------------------------


def test_one_workflow_has_what_a_form_and_a_board_need(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    answer = client.get("/v1/workflows/review", headers=as_("ann"))
    assert answer.status_code == 200
    wf = answer.json()
    assert set(wf) == {
        "id", "version", "title", "description", "initial", "roles", "roles_used", "readers",
        "fields", "states", "transitions", "metrics", "open_cases",
    }  # fmt: skip
    assert (wf["id"], wf["version"], wf["title"], wf["initial"]) == (
        "review",
        1,
        "审核 Review",
        "draft",
    )
    assert wf["roles"] == ["author", "editor", "legal", "brand", "publisher", "director"]
    assert wf["roles_used"] == ["author", "brand", "director", "editor", "legal", "publisher"]
    assert wf["readers"] is None
    fields = {f["name"]: f for f in wf["fields"]}
    assert list(fields) == list(engine.workflow_spec("review").fields)
    assert fields["title"] == {
        "name": "title", "type": "string", "title": None, "description": None,
        "required": True, "default": None, "min": None, "max": None, "max_length": 50,
        "pattern": None, "values": None,
    }  # fmt: skip
    assert (fields["kind"]["type"], fields["kind"]["values"]) == ("enum", ["article", "ad"])
    assert fields["kind"]["default"] == "article"
    assert (fields["score"]["min"], fields["score"]["max"]) == (0, 100)
    assert fields["budget"]["type"] == "money"
    states = {s["name"]: s for s in wf["states"]}
    assert list(states) == list(engine.workflow_spec("review").states)
    assert states["draft"] == {
        "name": "draft", "title": None, "description": None, "initial": True, "final": False,
        "sla": None, "timer": None, "assign": None, "events": ["submit", "cancel"],
    }  # fmt: skip
    assert states["review"]["sla"] == {"within": "2d", "fire": "escalate"}
    assert states["scheduled"]["timer"] == {"at": "publish_at", "fire": "publish"}
    assert (states["done"]["final"], states["done"]["events"]) == (True, [])
    approvals = [t for t in wf["transitions"] if t["event"] == "approve"]
    assert [t["from"] for t in approvals] == [["review"], ["review"], ["legal"]]
    assert approvals[0]["not_by"] == ["submit"]
    assert approvals[0]["when"] == "claims or kind == 'ad'"
    assert approvals[2]["approvals"] == {"required": 2, "roles": ["brand", "legal"], "veto": True}
    pull = next(t for t in wf["transitions"] if t["event"] == "pull")
    assert (pull["auto"], pull["person"], pull["roles"]) == (True, False, None)
    cancel = next(t for t in wf["transitions"] if t["event"] == "cancel")
    assert (cancel["from_any"], cancel["person"]) == (True, True)
    assert cancel["roles"] == ["editor", "director"]
    assert cancel["from"] == ["draft", "review", "legal", "scheduled", "published", "held"]
    assert len(wf["transitions"]) == len(engine.workflow_spec("review").transitions)
    assert wf["metrics"] == [{"name": "hit_rate", "calculator": "ratio", "description": None}]
    assert wf["open_cases"] == 0


def test_an_unknown_workflow_is_404_with_a_suggestion(client: TestClient) -> None:
    body = problem(client.get("/v1/workflows/reveiw", headers=as_("ann")), 404)
    assert body["code"] == "not_found"
    assert body["detail"] == "no workflow 'reveiw' (did you mean 'review'?)"
    assert body["reasons"] == ["known workflows: hr, other, review"]


@pytest.mark.parametrize(
    "name", ["x' OR '1'='1", "review;DROP TABLE cases", "%", "_", "审核", "review\u0000", "..%2f"]
)
def test_hostile_or_chinese_ids_are_a_clean_404(service: tuple[TestClient, Any], name: str) -> None:
    client, engine = service
    start(client)
    for path in ("", "/graph"):
        body = problem(
            client.get(f"/v1/workflows/{quote(name, safe='')}{path}", headers=as_("ann")), 404
        )
        assert body["code"] == "not_found"
    assert len(engine.cases()) == 1  # nothing happened to the cases


# -- the diagram ---------------------------------------------------------------------------


def test_the_graph_is_the_text_opsflow_graph_prints(
    service: tuple[TestClient, Any], db_url: str, workflows_dir: Path
) -> None:
    client, _engine = service
    for fmt in ("mermaid", "dot"):
        answer = client.get(f"/v1/workflows/review/graph?format={fmt}", headers=as_("ann"))
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        printed = run_cli(db_url, workflows_dir, "graph", "review", "--format", fmt)
        assert printed.exit_code == 0, printed.output
        assert answer.text == printed.stdout.removesuffix("\n")
    mermaid = client.get("/v1/workflows/review/graph", headers=as_("ann")).text
    assert mermaid.startswith("---\ntitle: 审核 Review\n---\nstateDiagram-v2")
    assert "class " not in mermaid  # nothing highlighted without a case


def test_the_graph_highlights_the_case_state(
    service: tuple[TestClient, Any], db_url: str, workflows_dir: Path
) -> None:
    client, _engine = service
    case_id = start(client)
    client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    mermaid = client.get(f"/v1/workflows/review/graph?case={case_id}", headers=as_("ed"))
    assert mermaid.status_code == 200
    assert mermaid.text.endswith("    class review current")
    dot = client.get(f"/v1/workflows/review/graph?format=dot&case={case_id[:8]}", headers=as_("ed"))
    assert 'review [label="review", style="rounded,filled,bold", fillcolor="#ffd54f"];' in dot.text
    printed = run_cli(
        db_url, workflows_dir, "graph", "review", "--format", "dot", "--case", case_id
    )
    assert dot.text == printed.stdout.removesuffix("\n")


def test_the_graph_of_a_case_of_another_workflow_is_404(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    case_id = start(client, "other")
    body = problem(
        client.get(f"/v1/workflows/review/graph?case={case_id}", headers=as_("ann")), 404
    )
    assert body["detail"] == f"case {case_id} is not a case of workflow 'review'"
    missing = "0" * 32
    body = problem(
        client.get(f"/v1/workflows/review/graph?case={missing}", headers=as_("ann")), 404
    )
    assert body["detail"] == f"no case '{missing}'"
    for bad in ("x' OR 1=1 --", "案例"):
        problem(
            client.get(f"/v1/workflows/review/graph?case={quote(bad)}", headers=as_("ann")), 404
        )


def test_the_graph_of_an_unreadable_case_is_404_as_if_missing(
    service: tuple[TestClient, Any],
) -> None:
    client, _engine = service
    case_id = start(client, "hr", who="ann")
    assert (
        client.get(f"/v1/workflows/hr/graph?case={case_id}", headers=as_("ann")).status_code == 200
    )
    assert (
        client.get(f"/v1/workflows/hr/graph?case={case_id}", headers=as_("lou")).status_code == 200
    )
    body = problem(client.get(f"/v1/workflows/hr/graph?case={case_id}", headers=as_("ed")), 404)
    assert body["detail"] == f"no case '{case_id}'"


def test_a_bad_graph_format_is_refused(client: TestClient) -> None:
    body = problem(client.get("/v1/workflows/review/graph?format=png", headers=as_("ann")), 422)
    assert body["code"] == "invalid"
    problem(client.get("/v1/workflows/review/graph?case=", headers=as_("ann")), 422)
