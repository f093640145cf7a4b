"""``/start``: start a case from the workflow's generated form (both backends)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def case_count(engine: Any) -> int:
    return len(engine.cases(actor="dir"))


def test_the_start_page_lists_the_workflows_and_their_form(
    board: tuple[TestClient, Any],
) -> None:
    client, _engine = board
    login(client, "ann")
    page = client.get("/start", headers=EN)
    assert page.status_code == 200
    assert 'href="/start?workflow=review"' in page.text
    assert 'aria-current="page">审核 Review' in page.text  # the only one: chosen already
    form = client.get("/start?workflow=review", headers=EN).text
    assert '<form id="start-form"' in form
    assert 'name="csrf_token"' in form
    assert re.search(r'<input id="f-title" name="field.title" type="text"[^>]*required', form)
    assert re.search(r'<option value="article" selected>', form)  # the field's default
    assert 'name="comment"' in form


def test_starting_a_case_goes_to_its_page(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    token = login(client, "ann")
    answer = client.post(
        "/start",
        data={
            "csrf_token": token,
            "workflow": "review",
            "field.title": "春季促销",
            "field.kind": "ad",
            "field.claims": ["false", "true"],
            "field.score": "42",
            "field.budget": "",
            "comment": "首个案例",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    case_id = answer.headers["location"].removeprefix("/cases/").removesuffix("?note=started")
    case = engine.get(case_id)
    assert case.data["title"] == "春季促销"
    assert case.data["kind"] == "ad"
    assert case.data["claims"] is True
    assert case.data["score"] == 42
    assert "budget" not in case.data
    assert case.created_by == "ann"
    assert engine.history(case_id)[0].comment == "首个案例"
    page = client.get(answer.headers["location"], headers=EN)
    assert page.status_code == 200
    assert "春季促销" in page.text
    assert "The case was started. It is in: draft" in text_of(page.text)


def test_invalid_data_shows_the_form_again_and_starts_nothing(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    token = login(client, "ann")
    answer = client.post(
        "/start",
        data={
            "csrf_token": token,
            "workflow": "review",
            "field.title": "",
            "field.score": "lots",
            "comment": "kept",
        },
        headers=EN,
    )
    assert answer.status_code == 422
    assert case_count(engine) == 0
    shown = text_of(answer.text)
    assert "Nothing was started" in shown
    assert re.search(r'id="f-score-error">Enter a whole number.</p>', answer.text)
    assert 'value="lots"' in answer.text  # what was typed stays in the form
    assert "kept" in answer.text
    missing = client.post(
        "/start",
        data={"csrf_token": token, "workflow": "review", "field.score": "5"},
        headers=ZH,
    )
    assert missing.status_code == 422
    assert re.search(r'id="f-title-error">此字段必填。</p>', missing.text)
    assert case_count(engine) == 0


def test_a_start_without_the_csrf_token_is_refused(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    login(client, "ann")
    answer = client.post("/start", data={"workflow": "review", "field.title": "Sneaky"})
    assert answer.status_code == 403
    assert case_count(engine) == 0


def test_an_unknown_workflow_is_not_found(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    token = login(client, "ann")
    assert client.get("/start?workflow=nope").status_code == 404
    posted = client.post("/start", data={"csrf_token": token, "workflow": "nope"})
    assert posted.status_code == 404
    assert case_count(engine) == 0


def test_the_start_page_speaks_chinese(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    login(client, "ann")
    page = text_of(client.get("/start?workflow=review", headers=ZH).text)
    assert "新案例：审核 Review" in page
    assert "发起案例" in page
    assert "最多 50 个字符。" in page


def test_the_start_page_runs_a_bounded_number_of_queries(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    login(client, "ann")
    client.get("/start?workflow=review")
    counts = []
    for _round in range(2):
        with counted_queries(engine) as statements:
            assert client.get("/start?workflow=review").status_code == 200
        counts.append(len(statements))
        for n in range(28):
            engine.start("review", data={"title": f"Case {n}"}, actor="ann")
    assert counts[0] == counts[1] <= 3, counts


@pytest.fixture
def hr(workflows_dir: Path) -> None:
    """A workflow only the legal role (and who acted) may read: hr."""
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")


def test_only_the_workflows_i_may_read_are_offered(hr: None, board: tuple[TestClient, Any]) -> None:
    client, engine = board
    token = login(client, "ed")  # an editor: no reader of hr
    page = client.get("/start", headers=EN).text
    assert 'href="/start?workflow=review"' in page
    assert "workflow=hr" not in page
    assert "Staff matter" not in page
    assert 'aria-current="page">审核 Review' in page  # the only one: chosen already
    assert client.get("/start?workflow=hr").status_code == 404
    refused = client.post("/start", data={"csrf_token": token, "workflow": "hr"})
    assert refused.status_code == 404
    assert case_count(engine) == 0
    login(client, "lou")  # legal reads hr
    both = client.get("/start", headers=EN).text
    assert 'href="/start?workflow=hr"' in both
    assert "Choose a workflow" in text_of(both)  # two: lou picks one
