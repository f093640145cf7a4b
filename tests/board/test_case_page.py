"""``/cases/{id}``: the case, every event with why it is blocked, approvals, deadlines,
metrics with their evidence, the generated form, and 404 for a case one may not read."""

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


def submitted(engine: Any, title: str, by: str = "ann", **data: Any) -> str:
    case = engine.start("review", data={"title": title, **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def in_legal(engine: Any, title: str = "Claims ad") -> str:
    case = submitted(engine, title, claims=True)
    engine.fire(case, "approve", actor="ed")
    return case


def button(html: str, dom_id: str) -> str:
    """The opening tag of the element with ``dom_id``."""
    found = re.search(rf'<button[^>]*\bid="{re.escape(dom_id)}"[^>]*>', html)
    assert found, f"no button #{dom_id}"
    return found.group(0)


def event_item(html: str, event: str) -> str:
    """The visible text of one event's row (its title, targets, reasons and buttons)."""
    found = re.search(rf'data-event="{re.escape(event)}">(.*?)(?=data-event=|</form>)', html, re.S)
    assert found, f"no event row for {event}"
    return text_of(found.group(1))


def test_the_header_names_the_case_its_workflow_state_and_people(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = submitted(engine, "春季促销 Spring sale")
    engine.assign(case, "ed", actor="ed")
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN)
    assert page.status_code == 200
    head = text_of(page.text.split('<div class="case-grid">')[0])
    assert "春季促销 Spring sale" in head  # the label: the first text field
    assert "审核 Review" in head  # the workflow's title
    assert "review" in head  # the state
    assert "Assignee: ed" in head
    assert "Created" in head
    assert "by ann" in head
    assert "Updated" in head


def test_allowed_and_blocked_events_with_their_reasons(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Spring sale")
    login(client, "ed")
    editor = client.get(f"/cases/{case}", headers=EN).text
    assert "disabled" not in button(editor, "event-approve")
    assert 'id="preview-approve"' in editor
    login(client, "ann")  # the author: approving needs an editor
    author = client.get(f"/cases/{case}", headers=EN).text
    tag = button(author, "event-approve")
    assert "disabled" in tag
    assert 'aria-describedby="why-approve"' in tag
    row = event_item(author, "approve")
    assert "Role Needs the role editor; you have author." in row
    assert 'id="preview-approve"' not in author  # nothing to preview of a blocked event
    assert "Other events of this workflow" in author  # events of other states, folded away


def test_the_submitter_is_told_of_the_four_eyes_rule(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Own work", by="both")  # author and editor: submitted it
    login(client, "both")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "disabled" in button(page, "event-approve")
    row = event_item(page, "approve")
    assert "you did “submit” on this case, so someone else must do this" in row
    zh = client.get(f"/cases/{case}", headers=ZH).text
    assert "四眼原则" in event_item(zh, "approve")


def test_a_guard_and_missing_fields_are_named(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "Scheduled"}, actor="ann").id
    engine.fire(case, "submit", actor="ann")
    engine.fire(case, "approve", actor="ed")  # no claims: straight to scheduled
    login(client, "pat")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "disabled" not in button(page, "event-publish")
    draft = engine.start("review", data={"title": "x"}, actor="ann").id
    engine.set(draft, data={"title": None}, actor="ann")
    login(client, "ann")
    row = event_item(client.get(f"/cases/{draft}", headers=EN).text, "submit")
    assert "Missing fields Fill in first: title." in row


def test_approval_progress_shows_who_approved(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = in_legal(engine)
    login(client, "bea")
    before = client.get(f"/cases/{case}", headers=EN).text
    assert '<progress max="2" value="0"' in before
    assert "0 of 2 approvals" in text_of(before)
    engine.fire(case, "approve", actor="lou")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert '<progress max="2" value="1"' in page
    shown = text_of(page)
    assert "1 of 2 approvals" in shown
    assert "Approved by: lou" in shown
    assert "Who may approve: brand / legal" in shown
    zh = text_of(client.get(f"/cases/{case}", headers=ZH).text)
    assert "已批准 1 / 2" in zh


def test_deadlines_count_down(board: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = board
    case = submitted(engine, "Timed")  # review: an SLA of 2 days
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN).text
    due = engine.status(case).deadlines[0].due_at
    assert f'<time data-countdown datetime="{due.isoformat()}"' in page
    assert "in 2 days" in text_of(page)
    assert '<span class="chip ok">SLA</span>' in page
    clock.advance(hours=40)  # 8 of 48 hours left: amber, as in the inbox
    login(client, "ed")
    assert '<span class="chip amber">SLA</span>' in client.get(f"/cases/{case}").text
    clock.advance(hours=9)
    login(client, "ed")
    late = client.get(f"/cases/{case}", headers=EN).text
    assert '<span class="chip red">SLA</span>' in late
    assert "Overdue" in text_of(late)


def test_metrics_show_their_evidence(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "Hits", "hits": 30, "views": 120}, actor="ann")
    login(client, "ann")
    before = text_of(client.get(f"/cases/{case.id}", headers=EN).text)
    assert "hit_rate not computed yet" in before
    engine.compute(case.id, actor="ann")
    page = client.get(f"/cases/{case.id}", headers=EN).text
    shown = text_of(page)
    detail = engine.status(case.id).metric_details["hit_rate"]
    assert "hit_rate 0.25" in shown
    assert "Calculator ratio" in shown
    assert "denominator views numerator hits" in shown
    assert detail["fingerprint"] in page
    assert 'id="compute"' in page


def test_the_form_follows_the_field_types(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start(
        "review",
        data={"title": "Typed", "score": 7, "publish_at": "2026-03-01T08:30:00Z"},
        actor="ann",
    )
    login(client, "ann")
    page = client.get(f"/cases/{case.id}", headers=EN).text
    title = re.search(r'<input id="f-title"[^>]*>', page)
    assert title
    assert 'type="text"' in title[0]
    assert "required" in title[0]
    assert 'value="Typed"' in title[0]
    score = re.search(r'<input id="f-score"[^>]*>', page)
    assert score
    assert 'type="number"' in score[0]
    assert 'step="1"' in score[0]
    assert 'min="0"' in score[0]
    assert 'max="100"' in score[0]
    assert 'value="7"' in score[0]
    when = re.search(r'<input id="f-publish_at"[^>]*>', page)
    assert when
    assert 'type="datetime-local"' in when[0]
    assert 'value="2026-03-01T08:30:00"' in when[0]
    budget = re.search(r'<input id="f-budget"[^>]*>', page)
    assert budget
    assert 'step="0.01"' in budget[0]
    assert re.search(r'<select id="f-kind"[^>]*>.*?<option value="article" selected>', page, re.S)
    assert re.search(r'<input type="checkbox" id="f-claims"[^>]*>', page)
    assert '<label for="f-title">title <span class="req"' in page  # the required mark
    assert "From 0 to 100." in text_of(page)  # score's bounds, as hints


def test_a_closed_case_offers_nothing_to_do(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Over")
    engine.fire(case, "cancel", actor="ed")
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN).text
    assert "Closed" in text_of(page)
    assert "The case is closed: nothing more can happen." in text_of(page)
    assert 'id="events-form"' not in page
    assert re.search(r'<input id="f-title"[^>]* disabled', page)
    assert 'id="claim"' not in page
    assert 'id="compute"' not in page


def test_history_and_diagram_load_lazily(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Lazy")
    login(client, "ed")
    page = client.get(f"/cases/{case}", headers=EN).text
    history = re.search(r'<section id="history"[^>]*>', page)
    assert history
    assert f'hx-get="/cases/{case}/history" hx-trigger="load"' in history[0]
    assert f'hx-get="/cases/{case}/diagram" hx-trigger="intersect once"' in page
    assert re.search(r'<section id="diagram"[^>]* hidden', page)  # loads once its tab opens


def test_the_page_speaks_chinese_and_english(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = submitted(engine, "Both languages")
    login(client, "ann")
    en = text_of(client.get(f"/cases/{case}", headers=EN).text)
    assert "What can happen now" in en
    assert "Needs the role editor; you have author." in en
    zh = text_of(client.get(f"/cases/{case}", headers=ZH).text)
    assert "现在可以做什么" in zh
    assert "需要角色 editor；你的角色：author。" in zh
    assert "What can happen now" not in zh


@pytest.fixture
def hr(workflows_dir: Path) -> None:
    """A workflow only the legal role (and who acted) may read: hr."""
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")


def test_a_case_i_may_not_read_is_not_found_like_a_missing_one(
    hr: None, board: tuple[TestClient, Any]
) -> None:
    client, engine = board
    secret = engine.start("hr", data={"title": "Pay rise for 王"}, actor="ann").id
    login(client, "ann")  # the creator reads it
    assert client.get(f"/cases/{secret}", headers=EN).status_code == 200
    login(client, "ed")  # an editor never acted on it, and is no reader
    hidden = client.get(f"/cases/{secret}", headers=EN)
    missing = client.get(f"/cases/{'0' * 32}", headers=EN)
    assert hidden.status_code == missing.status_code == 404
    assert "Pay rise" not in hidden.text
    assert "Staff matter" not in hidden.text
    assert hidden.text.replace(secret, "0" * 32) == missing.text
    token = login(client, "ed")
    fired = client.post(
        f"/cases/{secret}/fire", data={"event": "approve", "csrf_token": token}, headers=EN
    )
    assert fired.status_code == 404
    assert "Pay rise" not in fired.text


def test_the_page_runs_the_same_queries_whatever_the_history(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case = in_legal(engine)  # in an approval state: the page reads who approved
    engine.fire(case, "approve", actor="lou")
    login(client, "bea")
    client.get(f"/cases/{case}")  # the first page after a login loads the definitions
    counts = []
    for _round in range(2):
        with counted_queries(engine) as statements:
            assert client.get(f"/cases/{case}").status_code == 200
        counts.append(len(statements))
        for n in range(28):  # 2 history entries and 2 cases, then 30 of each
            engine.set(case, data={"score": n}, actor="ed")
            engine.start("review", data={"title": f"Other {n}"}, actor="ann")
    assert counts[0] == counts[1] <= 6, counts


def test_a_case_pinned_to_an_older_version_shows_its_own_fields(
    board: tuple[TestClient, Any], make_engine: Any, workflows_dir: Path
) -> None:
    client, engine = board
    older = make_engine()  # another process, on version 1
    case = older.start("review", data={"title": "Old one", "score": 80}, actor="ann").id
    text = (workflows_dir / "review.yaml").read_text("utf-8")
    text = text.replace("version: 1", "version: 2").replace(
        "score: {type: integer, min: 0, max: 100}", "score: {type: integer, min: 0, max: 10}"
    )
    (workflows_dir / "review.yaml").write_text(text, "utf-8")
    fresh = engine.start("review", data={"title": "New one"}, actor="ann").id
    assert (engine.get(case).version, engine.get(fresh).version) == (1, 2)
    token = login(client, "ann")
    old_page = client.get(f"/cases/{case}", headers=EN).text
    assert "From 0 to 100." in text_of(old_page)  # version 1's bounds
    assert "From 0 to 10." in text_of(client.get(f"/cases/{fresh}", headers=EN).text)
    saved = client.post(
        f"/cases/{case}/data",
        data={"csrf_token": token, "field.title": "Old one", "field.score": "90"},
        follow_redirects=False,
    )
    assert saved.status_code == 303  # 90 is within version 1's bounds
    assert engine.get(case).data["score"] == 90


def test_every_kind_of_engine_reason_is_read_back() -> None:
    from opsflow.service.board.reasons import reason_of, reasons_of

    guard = reason_of("approve → legal: when: 'claims or kind == 'ad'' is false")
    assert (guard.kind, guard.to, guard.expr) == ("guard", "legal", "claims or kind == 'ad'")
    missing = reason_of("submit → review: requires: 'title', 'budget' empty")
    assert (missing.kind, missing.fields) == ("requires", ("title", "budget"))
    roles = reason_of("cancel → rejected: roles: needs one of director, editor (ann has no roles)")
    assert (roles.kind, roles.roles, roles.has) == ("roles", ("director", "editor"), ())
    eyes = reason_of("approve (internal): four-eyes: both fired 'submit' on this case")
    assert (eyes.kind, eyes.event, eyes.to) == ("four_eyes", "submit", None)
    assert reason_of("case is closed ('done' is final)").kind == "closed"
    plugin = reason_of("budget over the limit set by finance")
    assert (plugin.kind, plugin.text) == ("other", "budget over the limit set by finance")
    alike = reasons_of(
        [
            "approve → legal: roles: needs one of editor (ann has author)",
            "approve → scheduled: roles: needs one of editor (ann has author)",
        ]
    )
    assert [(r.kind, r.to) for r in alike] == [("roles", None)]  # said once
    differ = reasons_of(
        [
            "approve → legal: when: 'claims' is false",
            "approve → scheduled: four-eyes: ed fired 'submit' on this case",
        ]
    )
    assert [(r.kind, r.to) for r in differ] == [("guard", "legal"), ("four_eyes", "scheduled")]
