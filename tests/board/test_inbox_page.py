"""``/inbox``: the cases I can act on, grouped by workflow, with events and SLA chips."""

from __future__ import annotations

from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient


def submitted(engine: Any, title: str) -> str:
    case = engine.start("review", data={"title": title}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def in_legal(engine: Any, title: str) -> str:
    case = engine.start("review", data={"title": title, "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    return str(case.id)


def test_the_inbox_shows_only_cases_i_can_act_on(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    waiting = in_legal(engine, "春季促销 Spring sale")
    draft = engine.start("review", data={"title": "Still a draft"}, actor="ann").id
    in_review = submitted(engine, "In review")
    login(client, "lou")  # legal: approves in legal; nothing to fire on a draft or in review
    page = client.get("/inbox", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert f'href="/cases/{waiting}"' in page.text
    assert "春季促销 Spring sale" in page.text  # Chinese data as characters
    assert f"/cases/{draft}" not in page.text
    assert f"/cases/{in_review}" not in page.text
    assert "审核 Review" in page.text  # the workflow's title heads its group
    assert f'href="/cases/{waiting}#event-approve"' in page.text
    assert f'href="/cases/{waiting}#event-reject"' in page.text  # approvers may veto


def test_an_sla_chip_turns_amber_then_red(board: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = board
    submitted(engine, "Timed")  # review: sla within 2d
    login(client, "ed")
    fresh = client.get("/inbox").text
    assert 'class="chip ok"' in fresh
    clock.advance(hours=40)  # 8 of 48 hours left: under a quarter
    login(client, "ed")  # the session of 40 hours ago has expired
    assert 'class="chip amber"' in client.get("/inbox").text
    clock.advance(hours=9)
    login(client, "ed")
    late = client.get("/inbox", headers={"Accept-Language": "en"}).text
    assert 'class="chip red"' in late
    assert "Overdue" in late


def test_mine_keeps_the_cases_assigned_to_me(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    mine = submitted(engine, "Mine")
    other = submitted(engine, "Not mine")
    engine.assign(mine, "ed", actor="ed")
    login(client, "ed")
    page = client.get("/inbox?mine=true").text
    assert f"/cases/{mine}" in page
    assert f"/cases/{other}" not in page
    assert f"/cases/{other}" in client.get("/inbox").text


def test_an_empty_inbox_says_so_in_chinese(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    login(client, "pat")
    page = client.get("/inbox", headers={"Accept-Language": "zh-CN"})
    assert "目前没有需要你处理的案例。" in text_of(page.text)


@pytest.mark.parametrize("cases", [2, 30])
def test_the_inbox_runs_the_same_queries_whatever_the_cases(
    board: tuple[TestClient, Any], cases: int
) -> None:
    client, engine = board
    for n in range(cases):
        submitted(engine, f"Case {n}")
    login(client, "ed")
    client.get("/inbox")  # the first page after a login loads the definitions
    with counted_queries(engine) as statements:
        assert client.get("/inbox").status_code == 200
    assert len(statements) <= 8, statements
