"""``/admin``: failed notifications, incidents and the audit, for admins only (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from adminkit import (
    ADMIN,
    SECRET,
    admin_board,
    compute_incident,
    failed_notifications,
    tamper,
)
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

from opsflow.service.board import routes_admin_pages

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    yield from admin_board(make_engine)


def statuses(engine: Any) -> dict[int, str]:
    return {row.id: row.status for row in engine.outbox()}


def unresolved(engine: Any) -> list[int]:
    return [incident.id for incident in engine.incidents()]


# -- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/notifications", "/admin/incidents", "/admin/audit"]
)
def test_the_admin_pages_are_403_for_anyone_else(board: tuple[TestClient, Any], path: str) -> None:
    client, _engine = board
    login(client, "ed")
    page = client.get(path, headers=EN)
    assert page.status_code == 403
    assert page.headers["content-type"].startswith("text/html")
    assert "Not permitted" in page.text
    assert "only admins may" in page.text
    assert 'href="/admin"' not in page.text  # no Admin link for a non-admin


def test_a_non_admin_changes_nothing(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    [nid] = failed_notifications(engine, 1)
    _case, incident = compute_incident(engine)
    token = login(client, "ed")
    form = {"csrf_token": token}
    for path, data in [
        (f"/admin/notifications/{nid}/retry", form),
        ("/admin/notifications/retry", {**form, "ids": str(nid)}),
        (f"/admin/incidents/{incident}/retry", form),
        (f"/admin/incidents/{incident}/resolve", {**form, "comment": "done by hand"}),
        ("/admin/audit", form),
    ]:
        refused = client.post(path, data=data, headers=EN, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "only admins may" in refused.text, path
    assert statuses(engine)[nid] == "failed"
    assert unresolved(engine) == [incident]
    assert engine.incidents()[0].attempts == 1  # not retried either


def test_a_post_without_the_csrf_token_is_refused(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    [nid] = failed_notifications(engine, 1)
    _case, incident = compute_incident(engine)
    login(client, ADMIN)
    for path, data in [
        (f"/admin/notifications/{nid}/retry", {}),
        ("/admin/notifications/retry", {"ids": str(nid)}),
        (f"/admin/incidents/{incident}/resolve", {"comment": "done by hand"}),
        (f"/admin/incidents/{incident}/retry", {"csrf_token": "forged"}),
    ]:
        refused = client.post(path, data=data, headers=EN, follow_redirects=False)
        assert refused.status_code == 403, path
        assert "CSRF" in refused.text, path
    assert statuses(engine)[nid] == "failed"
    assert unresolved(engine) == [incident]


# -- overview ------------------------------------------------------------------------------


def test_the_overview_counts_what_needs_an_admin(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    failed_notifications(engine, 2)
    compute_incident(engine)
    login(client, ADMIN)
    html = client.get("/admin", headers=EN).text
    assert 'href="/admin" aria-current="page"' in html  # the nav's Admin link, current
    text = text_of(html)
    assert "2 Failed notifications" in text
    assert "1 Unresolved incidents" in text
    for link in ("/admin/notifications", "/admin/incidents", "/admin/audit", "/admin/tokens"):
        assert f'href="{link}"' in html
    chinese = text_of(client.get("/admin", headers=ZH).text)
    assert "2 发送失败的通知" in chinese
    assert "1 未解决的事故" in chinese


# -- failed notifications ------------------------------------------------------------------


def test_retry_queues_a_failed_notification_again(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    [nid] = failed_notifications(engine, 1)
    [row] = engine.outbox(failed=True)
    token = login(client, ADMIN)
    page = client.get("/admin/notifications", headers=EN)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "chat" in text
    assert "editor" in text  # the recipient
    assert f'href="/cases/{row.case}"' in page.text
    assert "HTTP 404 from https://robot.example/***/send" in text  # redacted as the API does
    assert SECRET not in page.text
    assert f'action="/admin/notifications/{nid}/retry"' in page.text
    done = client.post(
        f"/admin/notifications/{nid}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, "/admin/notifications?retried=1")
    assert statuses(engine)[nid] == "pending"
    after = client.get(done.headers["location"], headers=EN).text
    assert "Queued again: 1." in text_of(after)
    assert "No failed notifications" in text_of(after)
    again = client.post(f"/admin/notifications/{nid}/retry", data={"csrf_token": token}, headers=EN)
    assert again.status_code == 409  # as the API: only a failed one can be retried
    assert "only a failed one can be retried" in again.text
    missing = client.post("/admin/notifications/99999/retry", data={"csrf_token": token})
    assert missing.status_code == 404


def test_retry_all_shown_retries_the_page(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    ids = failed_notifications(engine, 3)
    token = login(client, ADMIN)
    html = client.get("/admin/notifications", headers=EN).text
    for nid in ids:
        assert f'name="ids" value="{nid}"' in html
    assert "Retry all shown (3)" in text_of(html)
    engine.retry_notification(ids[0])  # someone was quicker with this one
    done = client.post(
        "/admin/notifications/retry",
        data={"csrf_token": token, "ids": [str(n) for n in ids]},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/notifications?retried=2&skipped=1"
    assert set(statuses(engine).values()) == {"pending"}
    shown = text_of(client.get(done.headers["location"], headers=EN).text)
    assert "Queued again: 2." in shown
    assert "Skipped: 1" in shown
    bad = client.post("/admin/notifications/retry", data={"csrf_token": token, "ids": "x"})
    assert bad.status_code == 400


def test_failed_notifications_come_a_page_at_a_time(
    board: tuple[TestClient, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, engine = board
    monkeypatch.setattr(routes_admin_pages, "PAGE", 2)
    ids = failed_notifications(engine, 3)
    login(client, ADMIN)
    first = client.get("/admin/notifications", headers=EN).text
    assert [f'name="ids" value="{n}"' in first for n in ids] == [False, True, True]
    assert "Retry all shown (2)" in text_of(first)
    [cursor] = [part.split('"')[0] for part in first.split("cursor=")[1:2]]
    older = client.get(f"/admin/notifications?cursor={cursor}", headers=EN).text
    assert f'name="ids" value="{ids[0]}"' in older
    assert f'name="ids" value="{ids[2]}"' not in older
    assert "?cursor=" not in older  # the last page: no older one
    assert 'href="/admin/notifications">Back to the newest' in older
    assert client.get("/admin/notifications?cursor=nonsense").status_code == 400


# -- incidents -----------------------------------------------------------------------------


def test_an_incident_is_retried_then_recovers(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id, incident = compute_incident(engine, "春季发布")
    token = login(client, ADMIN)
    page = client.get("/admin/incidents", headers=EN)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "compute hit_rate" in text
    assert "is neither a number, a field nor a metric" in text
    assert f'href="/cases/{case_id}"' in page.text
    failed = client.post(
        f"/admin/incidents/{incident}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert failed.headers["location"] == f"/admin/incidents?retried={incident}&outcome=failed"
    assert "failed again" in text_of(client.get(failed.headers["location"], headers=EN).text)
    assert engine.incidents()[0].attempts == 2
    engine.set(case_id, {"hits": 3, "views": 10}, actor="pat")  # the cause, fixed
    assert unresolved(engine) == [incident]  # a change of data does not compute by itself
    ran = client.post(
        f"/admin/incidents/{incident}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert ran.headers["location"] == f"/admin/incidents?retried={incident}&outcome=recovered"
    assert "ran: recovered" in text_of(client.get(ran.headers["location"], headers=EN).text)
    assert unresolved(engine) == []
    assert engine.status(case_id).metrics["hit_rate"] == pytest.approx(0.3)


def test_an_incident_is_resolved_with_a_comment(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id, incident = compute_incident(engine)
    token = login(client, ADMIN)
    html = client.get("/admin/incidents", headers=EN).text
    assert f'action="/admin/incidents/{incident}/resolve"' in html
    assert f'<textarea id="comment-{incident}" name="comment" required' in html
    blank = client.post(
        f"/admin/incidents/{incident}/resolve", data={"csrf_token": token, "comment": " "}
    )
    assert blank.status_code == 409  # a comment is required: nothing closed
    assert unresolved(engine) == [incident]
    done = client.post(
        f"/admin/incidents/{incident}/resolve",
        data={"csrf_token": token, "comment": "算好了，手工录入"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/admin/incidents?resolved={incident}"
    assert unresolved(engine) == []
    [closed] = [i for i in engine.incidents(everything=True) if i.id == incident]
    assert (closed.status, closed.closed_by) == ("resolved", ADMIN)
    assert closed.comment == "算好了，手工录入"
    assert any("算好了" in str(entry) for entry in engine.history(case_id))
    after = text_of(client.get(done.headers["location"], headers=ZH).text)
    assert f"事故 {incident} 已解决" in after
    assert "没有未解决的事故" in after


# -- audit ---------------------------------------------------------------------------------


def test_audit_verify_shows_ok_then_the_problem_after_tampering(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case_id, _incident = compute_incident(engine)
    token = login(client, ADMIN)
    page = client.get("/admin/audit", headers=EN)
    assert page.status_code == 200
    assert 'action="/admin/audit"' in page.text
    assert "Verified" not in page.text  # nothing runs before the button is pressed
    ok = client.post("/admin/audit", data={"csrf_token": token}, headers=EN)
    assert ok.status_code == 200
    assert "Verified: every hash chain is intact" in text_of(ok.text)
    assert "Case histories checked: 1," in text_of(ok.text)
    tamper(engine, case_id, 2, comment="nothing to see")
    bad = client.post("/admin/audit", data={"csrf_token": token}, headers=EN)
    text = text_of(bad.text)
    assert "Problems found: 1" in text
    assert "hash mismatch" in text
    assert f'href="/cases/{case_id}"' in bad.text
    chinese = text_of(client.post("/admin/audit", data={"csrf_token": token}, headers=ZH).text)
    assert "发现问题：1" in chinese


# -- every page: Chinese and English, no inline script, bounded queries --------------------

PAGES = ["/admin", "/admin/notifications", "/admin/incidents", "/admin/audit"]


def test_the_admin_pages_speak_chinese_and_english(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    failed_notifications(engine, 1)
    compute_incident(engine)
    login(client, ADMIN)
    english = {path: text_of(client.get(path, headers=EN).text) for path in PAGES}
    chinese = {path: text_of(client.get(path, headers=ZH).text) for path in PAGES}
    assert "Failed notifications" in english["/admin/notifications"]
    assert "Retry all shown (1)" in english["/admin/notifications"]
    assert "发送失败的通知" in chinese["/admin/notifications"]
    assert "全部重试（1）" in chinese["/admin/notifications"]
    assert "What failed" in english["/admin/incidents"]
    assert "失败的是什么" in chinese["/admin/incidents"]
    assert "验证审计" in chinese["/admin/audit"]
    for path in PAGES:
        assert "Failed notifications" not in chinese[path], path
        html = client.get(path).text
        assert " style=" not in html, path
        assert "<style" not in html, path


@pytest.mark.parametrize("rows", [2, 12])
def test_the_admin_lists_run_the_same_queries_whatever_the_rows(
    board: tuple[TestClient, Any], rows: int
) -> None:
    client, engine = board
    failed_notifications(engine, rows)
    for n in range(rows):
        compute_incident(engine, f"Launch {n}")
    login(client, ADMIN)
    for path in PAGES:
        client.get(path)  # the first page after a login loads what it caches
        with counted_queries(engine) as statements:
            assert client.get(path).status_code == 200
        assert len(statements) <= 6, (path, statements)
