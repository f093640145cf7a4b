"""``/bulk``: from the search results, a dry-run preview, then apply, then each case's
outcome; the engine's refusals (per case, and of a whole selection) shown."""

from __future__ import annotations

import re
from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

EN = {"Accept-Language": "en"}


def submitted(engine: Any, title: str, actor: str = "ann") -> str:
    case = engine.start("review", data={"title": title}, actor=actor)
    engine.fire(case.id, "submit", actor=actor)
    return str(case.id)


def entries(engine: Any, *cases: str) -> int:
    return sum(len(engine.history(case)) for case in cases)


def hidden_fields(form: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form)


def test_preview_writes_nothing_then_apply_fires_each(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    one, two, other = (submitted(engine, t) for t in ("One", "Two", "Other"))
    token = login(client, "ed")
    page = client.get("/search?state=review", headers=EN).text
    assert 'id="bulk"' in page
    assert 'form="bulk" name="case"' in page
    before = entries(engine, one, two, other)
    preview = client.post(
        "/bulk/preview",
        data={"csrf_token": token, "state": "review", "scope": "selected",
              "case": [one, two], "event": "approve", "comment": "批量通过"},
        headers=EN,
    )  # fmt: skip
    assert preview.status_code == 200
    text = text_of(preview.text)
    assert "Preview: nothing has changed yet" in text
    assert text.count("Would move from “review” to “scheduled”.") == 2
    assert entries(engine, one, two, other) == before
    assert {engine.get(c).state for c in (one, two, other)} == {"review"}
    apply_form = preview.text.split('action="/bulk/apply"', 1)[1].split("</form>", 1)[0]
    fields = hidden_fields(apply_form)
    assert ("case", one) in fields
    assert ("case", two) in fields
    assert ("event", "approve") in fields
    assert ("comment", "批量通过") in fields
    applied = client.post("/bulk/apply", data=_form(fields), headers=EN)
    assert applied.status_code == 200
    assert 'data-status="done">done: 2<' in applied.text
    assert text_of(applied.text).count("Moved from “review” to “scheduled”.") == 2
    assert (engine.get(one).state, engine.get(two).state) == ("scheduled", "scheduled")
    assert engine.get(other).state == "review"
    last = engine.history(one)[-1]
    assert (last.event, last.actor, last.comment) == ("approve", "ed", "批量通过")


def _form(fields: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields:
        if name in out:
            out[name] = [*(out[name] if isinstance(out[name], list) else [out[name]]), value]
        else:
            out[name] = value
    return out


def test_each_refusal_is_listed_with_its_reason(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    theirs = submitted(engine, "Theirs")
    own = submitted(engine, "Own", actor="both")
    token = login(client, "both")
    applied = client.post(
        "/bulk/apply",
        data={"csrf_token": token, "scope": "selected", "case": [theirs, own],
              "event": "approve"},
        headers=EN,
    )  # fmt: skip
    assert applied.status_code == 200
    assert 'data-status="done">done: 1<' in applied.text
    assert 'data-status="not_permitted">not permitted: 1<' in applied.text
    refused_row = applied.text.split(f'href="/cases/{own}"', 1)[1].split("</tr>", 1)[0]
    assert "four-eyes: both fired &#39;submit&#39;" in refused_row
    assert engine.get(theirs).state == "scheduled"
    assert engine.get(own).state == "review"


def test_the_whole_filter_is_fired_on(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    cases = [submitted(engine, f"Case {n}") for n in range(3)]
    draft = engine.start("review", data={"title": "Draft"}, actor="ann").id
    token = login(client, "ed")
    form = client.get("/bulk?state=review", headers=EN)
    assert form.status_code == 200
    assert '<input type="hidden" name="scope" value="filter">' in form.text
    applied = client.post(
        "/bulk/apply",
        data={"csrf_token": token, "state": "review", "scope": "filter", "event": "approve"},
        headers=EN,
    )
    assert 'data-status="done">done: 3<' in applied.text
    assert {engine.get(c).state for c in cases} == {"scheduled"}
    assert engine.get(draft).state == "draft"


def test_more_than_the_engine_takes_is_refused_with_the_count(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = submitted(engine, "Real")
    token = login(client, "ed")
    many = [case] + [f"{n:032x}" for n in range(1, 10_001)]
    answer = client.post(  # the token in the header, as htmx sends it (a plain form's
        "/bulk/preview",  # field would have the whole body read before the page's limits)
        data={"scope": "selected", "case": many, "event": "approve"},
        headers={**EN, "X-CSRF-Token": token},
    )
    assert answer.status_code == 400
    text = text_of(answer.text)
    assert "Nothing was done." in text
    assert "10,001 cases" in text
    assert engine.get(case).state == "review"


def test_a_post_without_the_csrf_token_writes_nothing(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Guarded")
    login(client, "ed")
    before = entries(engine, case)
    answer = client.post(
        "/bulk/apply", data={"scope": "selected", "case": [case], "event": "approve"}
    )
    assert answer.status_code == 403
    assert engine.get(case).state == "review"
    assert entries(engine, case) == before


def test_a_bad_data_line_or_no_case_is_shown_and_nothing_done(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = submitted(engine, "Data")
    token = login(client, "ed")
    bad = client.post(
        "/bulk/apply",
        data={"csrf_token": token, "scope": "selected", "case": [case], "event": "approve",
              "data": "score 3"},
        headers=EN,
    )  # fmt: skip
    assert bad.status_code == 400
    assert 'id="bulk-data-error"' in bad.text
    none = client.post(
        "/bulk/preview",
        data={"csrf_token": token, "scope": "selected", "event": "approve"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert none.status_code == 400
    assert "没有做任何更改" in text_of(none.text)
    assert engine.get(case).state == "review"


@pytest.mark.parametrize("cases", [2, 40])
def test_the_bulk_form_runs_the_same_queries_whatever_the_cases(
    board: tuple[TestClient, Any], cases: int
) -> None:
    client, engine = board
    for n in range(cases):
        submitted(engine, f"Case {n}")
    login(client, "ed")
    client.get("/bulk?state=review")
    with counted_queries(engine) as statements:
        assert client.get("/bulk?state=review").status_code == 200
    assert len(statements) <= 3, statements
