"""``/board``: the workflows with their open cases, and the way to each board."""

from __future__ import annotations

from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient


def test_the_boards_page_lists_each_workflow_with_its_open_cases(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    for n in range(3):
        engine.start("review", data={"title": f"Case {n}"}, actor="ann")
    login(client, "ann")
    english = client.get("/board", headers={"Accept-Language": "en"})
    assert english.status_code == 200
    assert "审核 Review" in english.text
    assert "3 open cases" in text_of(english.text)
    assert 'href="/board/review"' in english.text
    assert 'href="/start?workflow=review"' in english.text
    chinese = client.get("/board", headers={"Accept-Language": "zh-CN"})
    assert "3 个进行中的案例" in text_of(chinese.text)
    assert "打开看板" in chinese.text


def test_the_nav_leads_to_boards_and_a_non_admin_to_their_tokens(
    board: tuple[TestClient, Any],
) -> None:
    client, _engine = board
    login(client, "ann")
    page = client.get("/board", headers={"Accept-Language": "en"}).text
    assert '<a href="/board" aria-current="page">Boards</a>' in page
    assert '<a href="/admin/tokens">My tokens</a>' in page
    assert 'href="/admin"' not in page  # ann is no admin


@pytest.mark.parametrize("cases", [1, 25])
def test_the_boards_page_runs_the_same_queries_whatever_the_cases(
    board: tuple[TestClient, Any], cases: int
) -> None:
    client, engine = board
    for n in range(cases):
        engine.start("review", data={"title": f"Case {n}"}, actor="ann")
    login(client, "ann")
    client.get("/board")
    with counted_queries(engine) as statements:
        assert client.get("/board").status_code == 200
    assert len(statements) <= 4, statements
