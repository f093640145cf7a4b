"""The case page's changes: saving the form, firing, the dry-run preview, approvals,
assign/claim and compute — each the API's engine call, refused inline, writing nothing
when refused (both backends)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from boardkit import login, text_of
from fastapi.testclient import TestClient

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
HTMX = {"HX-Request": "true", "Accept-Language": "en"}


def submitted(engine: Any, title: str, by: str = "ann", **data: Any) -> str:
    case = engine.start("review", data={"title": title, **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def in_legal(engine: Any) -> str:
    case = submitted(engine, "Claims ad", claims=True)
    engine.fire(case, "approve", actor="ed")
    return case


def row(engine: Any, case_id: str) -> tuple[Any, ...]:
    """What a refused change must leave as it was: the case row and its history."""
    case = engine.get(case_id)
    kinds = [e.kind for e in engine.history(case_id) if e.kind != "denied"]
    return case.state, case.data, case.row_version, case.assignee, case.updated_at, kinds


def fire(client: TestClient, case_id: str, event: str, token: str, **extra: Any) -> Any:
    data = {"event": event, "csrf_token": token, **extra}
    return client.post(f"/cases/{case_id}/fire", data=data, headers=EN, follow_redirects=False)


def test_firing_moves_the_state(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Go")
    token = login(client, "ed")
    version = engine.get(case).row_version
    answer = fire(client, case, "approve", token, row_version=str(version), comment="看过了")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/cases/{case}?note=fired"
    assert engine.get(case).state == "scheduled"
    assert engine.history(case)[-1].comment == "看过了"
    page = text_of(client.get(answer.headers["location"], headers=EN).text)
    assert "Done. The case is now in: scheduled" in page


def test_firing_through_htmx_answers_the_page_itself(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Htmx")
    token = login(client, "ed")
    answer = client.post(
        f"/cases/{case}/fire", data={"event": "approve"}, headers={**HTMX, "X-CSRF-Token": token}
    )
    assert answer.status_code == 200
    assert '<div id="case"' in answer.text
    assert "Done. The case is now in: scheduled" in text_of(answer.text)
    assert engine.get(case).state == "scheduled"


def test_a_refused_fire_is_shown_inline_and_changes_nothing(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = submitted(engine, "Mine", by="both")
    before = row(engine, case)
    token = login(client, "both")  # submitted it: four-eyes
    answer = fire(client, case, "approve", token)
    assert answer.status_code == 403
    alert = text_of(answer.text.split('role="alert"')[1].split("</div>")[0])
    assert "Not done: approve. Nothing was changed." in alert
    assert "Four-eyes rule" in alert
    assert row(engine, case) == before
    token = login(client, "ann")  # the author: no editor
    answer = fire(client, case, "approve", token)
    assert answer.status_code == 403
    assert "Needs the role editor; you have author." in text_of(answer.text)
    zh = client.post(
        f"/cases/{case}/fire", data={"event": "approve", "csrf_token": token}, headers=ZH
    )
    assert "需要角色 editor；你的角色：author。" in text_of(zh.text)
    assert row(engine, case) == before
    wrong_state = fire(client, case, "publish", token)
    assert wrong_state.status_code in (403, 409)
    assert row(engine, case) == before


def test_a_stale_page_changes_nothing(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Stale")
    version = engine.get(case).row_version
    engine.set(case, data={"score": 3}, actor="eve")  # someone else, meanwhile
    before = row(engine, case)
    token = login(client, "ed")
    answer = fire(client, case, "approve", token, row_version=str(version))
    assert answer.status_code == 412
    assert "Someone changed this case while you had it open" in text_of(answer.text)
    saved = client.post(
        f"/cases/{case}/data",
        data={"csrf_token": token, "row_version": str(version), "field.score": "9"},
        headers=EN,
    )
    assert saved.status_code == 412
    assert row(engine, case) == before
    assert 'id="f-score" name="field.score" type="number" value="3"' in saved.text  # as it is


@pytest.mark.parametrize("version", ["²", "¹", "abc", "1" * 20])
def test_a_row_version_that_is_no_version_changes_nothing(
    board: tuple[TestClient, Any], version: str
) -> None:
    """``²`` passes str.isdigit() but not int(): refused as stale (412), never a 500."""
    client, engine = board
    case = submitted(engine, "Odd version")
    before = row(engine, case)
    token = login(client, "ed")
    answer = fire(client, case, "approve", token, row_version=version)
    assert answer.status_code == 412, answer.text
    saved = client.post(
        f"/cases/{case}/data",
        data={"csrf_token": token, "row_version": version, "field.score": "9"},
        headers=EN,
    )
    assert saved.status_code == 412, saved.text
    assigned = client.post(
        f"/cases/{case}/assignee",
        data={"csrf_token": token, "action": "assign", "name": "ed", "row_version": version},
        headers=EN,
        follow_redirects=False,
    )
    assert assigned.status_code == 412, assigned.text
    assert row(engine, case) == before


def test_the_preview_writes_nothing(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "Look first"}, actor="ann").id
    before = row(engine, case)
    token = login(client, "ann")
    answer = client.post(
        f"/cases/{case}/preview",
        data={"event": "submit", "comment": "x"},
        headers={**HTMX, "X-CSRF-Token": token},
    )
    assert answer.status_code == 200
    shown = text_of(answer.text)
    assert answer.text.startswith('<div id="preview"')  # a fragment for htmx to swap in
    assert "The case would move to: review" in shown
    assert "Notify editor on chat: 「Look first」 needs review by ann" in shown
    assert row(engine, case) == before
    full = client.post(
        f"/cases/{case}/preview", data={"event": "submit", "csrf_token": token}, headers=EN
    )
    assert full.status_code == 200
    assert "<h1>Look first</h1>" in full.text
    assert "The case would move to: review" in text_of(full.text)
    refused = client.post(
        f"/cases/{case}/preview", data={"event": "cancel", "csrf_token": token}, headers=EN
    )
    assert "This would be refused." in text_of(refused.text)
    assert row(engine, case) == before
    assert [e.kind for e in engine.history(case)] == ["start"]  # not even a denied entry


def test_a_form_error_is_inline_and_nothing_is_saved(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Keep me")
    before = row(engine, case)
    token = login(client, "ed")
    answer = client.post(
        f"/cases/{case}/data",
        data={
            "csrf_token": token,
            "field.title": "x" * 60,
            "field.score": "abc",
            "field.hits": "-1",
            "field.budget": "12",
        },
        headers=EN,
    )
    assert answer.status_code == 422
    assert row(engine, case) == before
    html = answer.text
    assert 'id="f-title-error">Too long: at most 50 characters.</p>' in html
    assert 'id="f-score-error">Enter a whole number.</p>' in html
    assert 'id="f-hits-error">Must be at least 0.</p>' in html
    assert re.search(r'<input id="f-score"[^>]*aria-invalid="true"', html)
    assert 'value="abc"' in html  # what was typed stays
    assert "Nothing was saved: please correct the fields marked below." in text_of(html)
    zh = client.post(
        f"/cases/{case}/data", data={"csrf_token": token, "field.score": "101"}, headers=ZH
    )
    assert 'id="f-score-error">不能大于 100。</p>' in zh.text
    assert row(engine, case) == before


def test_saving_the_form_changes_only_what_was_edited(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Edit me", publish_at="2026-03-01T08:30:00Z")
    token = login(client, "ed")
    version = engine.get(case).row_version
    answer = client.post(
        f"/cases/{case}/data",
        data={
            "csrf_token": token,
            "row_version": str(version),
            "field.title": "Edit me",
            "field.score": "42",
            "field.publish_at": "2026-03-01T08:30:00",  # shown as it was: unchanged
            "field.claims": "false",
            "comment": "分数",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/cases/{case}?note=saved"
    last = engine.history(case)[-1]
    assert last.kind == "data"
    assert last.data_changes == {"score": {"from": None, "to": 42}}
    assert last.comment == "分数"
    same = client.post(
        f"/cases/{case}/data", data={"csrf_token": token, "field.score": "42"}, headers=HTMX
    )
    assert "Nothing changed, so nothing was saved." in text_of(same.text)
    assert engine.history(case)[-1].seq == last.seq


def test_n_of_m_approval_shows_1_of_2_then_moves_on(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = in_legal(engine)  # approve in legal: 2 of legal/brand
    token = login(client, "lou")
    preview = text_of(
        client.post(
            f"/cases/{case}/preview", data={"event": "approve", "csrf_token": token}, headers=EN
        ).text
    )
    assert "Your approval would be recorded: 1 of 2." in preview
    assert "would move to" not in preview  # it stays in legal until the second
    answer = client.post(
        f"/cases/{case}/fire", data={"event": "approve"}, headers={**HTMX, "X-CSRF-Token": token}
    )
    shown = text_of(answer.text)
    assert "Your approval was recorded: 1 of 2." in shown
    assert '<progress max="2" value="1"' in answer.text
    assert "Approved by: lou" in shown
    assert engine.get(case).state == "legal"
    again = text_of(client.get(f"/cases/{case}", headers=EN).text)
    assert "You have already approved; another approver is needed." in again
    token = login(client, "bea")
    preview = client.post(
        f"/cases/{case}/preview", data={"event": "approve", "csrf_token": token}, headers=EN
    )
    assert "The case would move to: scheduled" in text_of(preview.text)  # the second of 2
    moved = fire(client, case, "approve", token)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/cases/{case}?note=fired"
    assert engine.get(case).state == "scheduled"
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "<progress" not in page  # no approvals pending in scheduled


def test_claim_assign_and_unassign(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Whose")
    token = login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "Claim: assign to me" in page
    claimed = client.post(
        f"/cases/{case}/assignee",
        data={"action": "claim", "csrf_token": token},
        follow_redirects=False,
    )
    assert claimed.status_code == 303
    assert engine.get(case).assignee == "ed"
    token = login(client, "eve")  # another editor: someone holds it
    taken = client.post(
        f"/cases/{case}/assignee", data={"action": "claim", "csrf_token": token}, headers=EN
    )
    assert taken.status_code == 409
    assert engine.get(case).assignee == "ed"
    assigned = client.post(
        f"/cases/{case}/assignee",
        data={"action": "assign", "name": "lou", "csrf_token": token},
        follow_redirects=False,
    )
    assert assigned.status_code == 303
    assert engine.get(case).assignee == "lou"
    unknown = client.post(
        f"/cases/{case}/assignee",
        data={"action": "assign", "name": "stranger", "csrf_token": token},
        headers=EN,
    )
    assert unknown.status_code == 422
    assert "not in this project&#39;s team" in unknown.text
    gone = client.post(
        f"/cases/{case}/assignee",
        data={"action": "unassign", "csrf_token": token},
        headers=HTMX,
    )
    assert "The case is assigned to nobody now." in text_of(gone.text)
    assert engine.get(case).assignee is None


def test_an_admin_may_take_a_case_over(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    engine.settings.admins = ["dir"]
    case = submitted(engine, "Held")
    engine.claim(case, actor="ed")
    token = login(client, "dir")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "Take it over (admin)" in page
    assert '<input type="hidden" name="force" value="true">' in page
    answer = client.post(
        f"/cases/{case}/assignee",
        data={"action": "claim", "force": "true", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert engine.get(case).assignee == "dir"


def test_compute_runs_the_calculators(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "Rate", "hits": 1, "views": 4}, actor="ann").id
    token = login(client, "ann")
    answer = client.post(
        f"/cases/{case}/compute", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert engine.get(case).metrics == {"hit_rate": 0.25}
    page = text_of(client.get(answer.headers["location"], headers=EN).text)
    assert "Metrics computed." in page


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("fire", {"event": "approve"}),
        ("data", {"field.score": "5"}),
        ("assignee", {"action": "claim"}),
        ("compute", {}),
    ],
)
def test_a_post_without_the_csrf_token_is_refused(
    board: tuple[TestClient, Any], path: str, data: dict[str, str]
) -> None:
    client, engine = board
    case = submitted(engine, "Guarded", hits=1, views=2)
    before = row(engine, case), engine.get(case).metrics
    login(client, "ed")
    answer = client.post(f"/cases/{case}/{path}", data=data, headers=EN)
    assert answer.status_code == 403
    assert (row(engine, case), engine.get(case).metrics) == before
    forged = client.post(f"/cases/{case}/{path}", data={**data, "csrf_token": "forged"})
    assert forged.status_code == 403
    assert (row(engine, case), engine.get(case).metrics) == before
