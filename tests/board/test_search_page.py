"""``/search``: filters kept in the URL, keyset pages, ``where`` errors inline, Chinese."""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

from opsflow.engine import access

SEARCH_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "search"
EN = {"Accept-Language": "en"}


def submitted(engine: Any, title: str, **data: Any) -> str:
    case = engine.start("review", data={"title": title, **data}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def found_ids(page: str) -> list[str]:
    """The cases a results page lists, in order."""
    return re.findall(r'name="case" value="([0-9a-f]+)"', page)


def test_the_filters_round_trip_through_the_url(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    big = submitted(engine, "Big", budget=20000)
    submitted(engine, "Small", budget=10)
    engine.start("review", data={"title": "Draft", "budget": 50000}, actor="ann")
    login(client, "ed")
    url = (
        "/search?workflow=review&state=review&state=legal&open=true&assignee="
        "&q=big&where=budget+%3E+1000&sort=-updated_at"
    )
    page = client.get(url, headers=EN)
    assert page.status_code == 200
    assert found_ids(page.text) == [big]
    form = page.text
    assert '<option value="review" selected>' in form
    assert '<input type="checkbox" name="state" value="review" checked>' in form
    assert '<input type="checkbox" name="state" value="legal" checked>' in form
    assert '<input type="checkbox" name="state" value="draft">' in form
    assert '<input type="radio" name="open" value="true" checked>' in form
    assert 'name="q" type="search" value="big"' in form
    assert 'name="where" value="budget &gt; 1000"' in form
    assert '<option value="-updated_at" selected>' in form
    # the bulk form carries the same filter
    bulk = form.split('id="bulk"', 1)[1]
    assert '<input type="hidden" name="where" value="budget &gt; 1000">' in bulk
    assert '<input type="hidden" name="state" value="legal">' in bulk


def test_pages_go_on_by_the_cursor_keeping_the_filters(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    made = []
    for n in range(5):
        made.append(submitted(engine, f"Case {n}"))
        clock.advance(minutes=1)
    login(client, "ed")
    seen: list[str] = []
    url: str | None = "/search?state=review&limit=2"
    while url:
        page = client.get(url, headers=EN).text
        seen += found_ids(page)
        more = re.search(r'rel="next" href="([^"]+)"', page)
        url = html.unescape(more.group(1)) if more else None
        if url:
            asked = parse_qs(urlsplit(url).query)
            assert (asked["state"], asked["limit"]) == (["review"], ["2"])
            assert asked["cursor"]
    assert seen == list(reversed(made))


@pytest.mark.parametrize("limit", ["²", "¹²", "-1", "0", "1" * 30, "2.5"])
def test_a_page_size_that_is_no_size_shows_the_usual_page(
    board: tuple[TestClient, Any], limit: str
) -> None:
    """``²`` passes str.isdigit() but not int(): the usual page size, never a 500."""
    client, engine = board
    made = [submitted(engine, f"Case {n}") for n in range(3)]
    login(client, "ed")
    page = client.get("/search", params={"state": "review", "limit": limit}, headers=EN)
    assert page.status_code == 200, page.text
    assert sorted(found_ids(page.text)) == sorted(made)
    token = login(client, "ed")
    preview = client.post(
        "/bulk/preview",
        data={"csrf_token": token, "event": "approve", "scope": "filter", "limit": limit},
        headers=EN,
    )
    assert preview.status_code < 500, preview.text


def test_a_where_error_is_shown_beside_its_field(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    submitted(engine, "Any")
    login(client, "ed")
    page = client.get("/search", params={"where": "budget >"}, headers=EN)
    assert page.status_code == 400
    assert 'aria-invalid="true"' in page.text
    error = re.search(r'<p class="field-error" id="where-error">(.*?)</p>', page.text, re.S)
    assert error
    assert error.group(1).strip()
    assert "Nothing was searched" in text_of(page.text)
    assert found_ids(page.text) == []
    unknown = client.get("/search", params={"where": "nope == 1"}, headers=EN)
    assert unknown.status_code == 400
    assert "nope" in unknown.text.split('id="where-error"', 1)[1]


def test_chinese_text_finds_chinese_data(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    spring = submitted(engine, "春季促销活动")
    submitted(engine, "Autumn sale")
    login(client, "ed")
    page = client.get("/search", params={"q": "促销"}, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert found_ids(page.text) == [spring]
    assert "春季促销活动" in page.text
    assert "搜索" in text_of(page.text)  # the page in Chinese


def test_bad_dates_are_shown_and_dates_filter(board: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = board
    old = submitted(engine, "Old")
    clock.advance(days=3)
    new = submitted(engine, "New")
    login(client, "ed")
    day = clock.now.date().isoformat()
    assert found_ids(client.get(f"/search?created_after={day}").text) == [new]
    assert found_ids(client.get(f"/search?created_before={day}").text) == [old]
    bad = client.get("/search?created_after=someday", headers=EN)
    assert bad.status_code == 400
    assert 'id="created_after-error"' in bad.text


def test_cases_the_viewer_may_not_read_never_appear(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(SEARCH_FIXTURES / "secret.yaml", workflows_dir / "secret.yaml")
    hidden = engine.start("secret", {"title": "hidden"}, actor="lou").id
    access.restrictions(engine, fresh=True)
    login(client, "ann")
    assert hidden not in client.get("/search").text
    assert hidden not in client.get("/search?workflow=secret").text
    login(client, "lou")
    assert found_ids(client.get("/search?workflow=secret").text) == [hidden]


@pytest.mark.parametrize("cases", [2, 40])
def test_the_search_runs_the_same_queries_whatever_the_cases(
    board: tuple[TestClient, Any], cases: int
) -> None:
    client, engine = board
    for n in range(cases):
        submitted(engine, f"Case {n}")
    login(client, "ed")
    client.get("/search?q=case")
    with counted_queries(engine) as statements:
        page = client.get("/search?q=case")
    assert page.status_code == 200
    assert len(found_ids(page.text)) == cases
    assert len(statements) <= 6, statements


def test_dates_are_days_on_the_project_clocks(board: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = board
    engine.settings.timezone = "Asia/Shanghai"
    clock.advance(hours=7, minutes=30)  # 16:30 UTC on January 5: 00:30 on January 6 there
    late = submitted(engine, "Late")
    login(client, "ed")
    assert found_ids(client.get("/search?created_after=2026-01-06").text) == [late]
    assert found_ids(client.get("/search?created_before=2026-01-06").text) == []
