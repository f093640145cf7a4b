"""``/board/{workflow}``: columns per state, and moving a card by drag (the script's post)
or by keyboard (the card's "Move to" form), decided on the server."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

from opsflow.engine import access

SEARCH_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
HTMX = {"HX-Request": "true"}


def submitted(engine: Any, title: str, **data: Any) -> str:
    case = engine.start("review", data={"title": title, **data}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def column(html: str, state: str) -> str:
    """The HTML of one state's column."""
    found = re.search(
        rf'<section class="kcol[^"]*"[^>]*data-state="{state}".*?</section>', html, re.S
    )
    assert found, f"no column {state}"
    return found.group(0)


def test_columns_show_counts_and_cards_open_states_first(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    waiting = submitted(engine, "春季促销 Spring sale")
    engine.start("review", data={"title": "A draft"}, actor="ann")
    gone = engine.start("review", data={"title": "Gone"}, actor="ann").id
    engine.fire(gone, "cancel", actor="ed")
    login(client, "ed")
    page = client.get("/board/review", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    states = re.findall(r'<section class="kcol[^"]*"[^>]*data-state="(\w+)"', page.text)
    assert states == [
        "draft", "review", "legal", "scheduled", "published", "held", "done", "rejected"
    ]  # fmt: skip
    review = column(page.text, "review")
    assert f'href="/cases/{waiting}"' in review
    assert "春季促销 Spring sale" in review
    assert '<span class="count" aria-label="1 cases">1</span>' in review
    assert 'class="chip ok"' in review  # review's SLA
    assert "Gone" in column(page.text, "rejected")
    assert "审核 Review" in page.text


def test_a_column_shows_the_newest_cards_and_links_to_the_rest(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    for n in range(27):
        engine.start("review", data={"title": f"Draft {n:02}"}, actor="ann")
        clock.advance(seconds=1)
    login(client, "ann")
    drafts = column(client.get("/board/review", headers={"Accept-Language": "en"}).text, "draft")
    assert drafts.count('class="kcard"') == 25
    assert "Draft 26" in drafts
    assert "Draft 01" not in drafts
    assert 'href="/search?workflow=review&amp;state=draft&amp;sort=-updated_at">2 more' in drafts


def test_dragging_a_card_fires_the_one_event_leading_there(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Plain")
    token = login(client, "ed")
    answer = client.post(
        "/board/review/move",
        data={"case": case, "to": "scheduled"},
        headers={**HTMX, "X-CSRF-Token": token, "Accept-Language": "en"},
    )
    assert answer.status_code == 200
    assert answer.text.lstrip().startswith('<div id="board"')  # the fragment htmx swaps in
    assert f'href="/cases/{case}"' in column(answer.text, "scheduled")
    assert "“approve” fired on Plain" in text_of(answer.text)
    assert engine.get(case).state == "scheduled"
    last = engine.history(case)[-1]
    assert (last.event, last.actor) == ("approve", "ed")


def test_the_keyboard_form_moves_a_card_without_script(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "To submit"}, actor="ann").id
    token = login(client, "ann")
    page = client.get("/board/review").text
    form = re.search(
        rf'<form class="kmove"[^>]*>(?:(?!</form>).)*name="case" value="{case}".*?</form>',
        page,
        re.S,
    )
    assert form
    assert '<option value="review">' in form.group(0)  # submit: allowed
    assert re.search(r'<option value="rejected" disabled>', form.group(0))  # cancel: editors
    answer = client.post(
        "/board/review/move",
        data={"case": case, "to": "review", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith(f"/board/review?moved={case}&event=submit")
    after = client.get(answer.headers["location"], headers={"Accept-Language": "zh-CN"})
    assert "已触发" in text_of(after.text)
    assert engine.get(case).state == "review"


def test_an_invalid_move_is_refused_with_its_reason_and_writes_nothing(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "Mine"}, actor="both")
    engine.fire(case.id, "submit", actor="both")
    token = login(client, "both")
    before = len(engine.history(case.id))
    refused = client.post(
        "/board/review/move",
        data={"case": case.id, "to": "scheduled", "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert refused.status_code == 409
    text = text_of(refused.text)
    assert "Mine was not moved to" in text
    assert "submit" in text  # four-eyes: the reason names the event 'both' fired
    nowhere = client.post(
        "/board/review/move",
        data={"case": case.id, "to": "done"},
        headers={**HTMX, "X-CSRF-Token": token, "Accept-Language": "en"},
    )
    assert nowhere.status_code == 200  # htmx swaps only 2xx: the refusal is in the fragment
    assert "No event leads there" in text_of(nowhere.text)
    assert engine.get(case.id).state == "review"
    assert len(engine.history(case.id)) == before


def test_a_post_without_the_csrf_token_is_refused(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Plain")
    login(client, "ed")
    answer = client.post("/board/review/move", data={"case": case, "to": "scheduled"})
    assert answer.status_code == 403
    assert engine.get(case).state == "review"


def test_cases_the_viewer_may_not_read_never_appear(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(SEARCH_FIXTURES / "secret.yaml", workflows_dir / "secret.yaml")
    hidden = engine.start("secret", {"title": "hidden"}, actor="lou").id
    access.restrictions(engine, fresh=True)
    token = login(client, "ann")
    page = client.get("/board/secret", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert hidden not in page.text
    assert "No cases that you may read" in text_of(page.text)
    moved = client.post(
        "/board/secret/move", data={"case": hidden, "to": "closed", "csrf_token": token}
    )
    assert moved.status_code == 404  # as if it did not exist
    assert engine.get(hidden).state == "open"
    login(client, "lou")
    assert f"/cases/{hidden}" in client.get("/board/secret").text


def test_an_unknown_workflow_is_not_found(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    login(client, "ed")
    assert client.get("/board/nope").status_code == 404


@pytest.mark.parametrize("cases", [2, 40])
def test_the_board_runs_the_same_queries_whatever_the_cases(
    board: tuple[TestClient, Any], cases: int
) -> None:
    client, engine = board
    for n in range(cases):
        submitted(engine, f"Case {n}", claims=n % 3 == 0)
    login(client, "ed")
    client.get("/board/review")
    with counted_queries(engine) as statements:
        assert client.get("/board/review").status_code == 200
    assert len(statements) <= 8, statements
