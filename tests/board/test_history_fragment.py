"""``/cases/{id}/history``: the audit trail as a timeline, newest first, with a chain badge.

The fragment the case page loads with htmx; a whole page when opened directly. On both
backends: who did what and when (display names, localized titles, approvals, data changes,
comments, refusals, opsflow's own steps), "Older entries" by keyset, the verified-chain
badge and a tampered chain's broken one, the API's read rule, and a bounded query count.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient
from sqlalchemy import update

from opsflow.people import Person
from opsflow.store import tables

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HTMX = {"HX-Request": "true"}
EN = {"Accept-Language": "en", **HTMX}
ZH = {"Accept-Language": "zh-CN", **HTMX}


def in_legal(engine: Any) -> str:
    """A review case: submitted with a comment, refused once, claimed, approved (which
    clears the assignee), 1 of 2."""
    case = engine.start("review", data={"title": "春季促销", "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann", comment="请审阅 please look")
    with pytest.raises(Exception, match="not permitted"):
        engine.fire(case.id, "approve", actor="ann")  # refused: audited as ``denied``
    engine.claim(case.id, actor="ed")
    engine.fire(case.id, "approve", actor="ed")
    engine.fire(case.id, "approve", actor="lou")
    return str(case.id)


def seqs(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'id="entry-(\d+)"', html)]


def test_the_timeline_tells_who_did_what_and_when_newest_first(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    engine.settings.people["ed"] = Person(display_name="Ed Editor")
    case_id = in_legal(engine)
    clock.advance(hours=3)
    login(client, "ann")
    answer = client.get(f"/cases/{case_id}/history", headers=EN)
    assert answer.status_code == 200
    html = answer.text
    assert "<html" not in html
    assert "<body" not in html
    assert seqs(html) == [7, 6, 5, 4, 3, 2, 1]
    page = text_of(html)
    assert "Chain verified: 7 entries" in page
    assert "Approval recorded: approve 1 of 2" in page
    assert "approve review → legal Ed Editor" in page  # the display name
    assert 'title="ed"' in html  # and the name as recorded
    assert "Claimed Ed Editor" in page
    assert "Unassigned opsflow (automatic)" in page  # leaving review cleared it
    assert "Refused approve" in page
    assert "approve → legal: roles: needs one of editor (ann has author)" in page
    assert "submit draft → review ann" in page
    assert "请审阅 please look" in page
    assert "Started in draft" in page
    assert "title : 春季促销" in page
    assert "claims : yes" in page
    assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT", html)
    assert "· 3 hours ago · #7" in page
    assert "style=" not in html
    assert "<script" not in html
    assert "<style" not in html


def test_the_last_approval_names_every_approver(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    engine.settings.people["lou"] = Person(display_name="Lou Legal")
    case_id = in_legal(engine)
    engine.fire(case_id, "approve", actor="bea")  # 2 of 2: the case moves on
    login(client, "ann")
    page = text_of(client.get(f"/cases/{case_id}/history", headers=EN).text)
    assert "approve legal → scheduled bea" in page
    assert "Approved by: bea, Lou Legal" in page
    zh = text_of(client.get(f"/cases/{case_id}/history", headers=ZH).text)
    assert "审批人：bea, Lou Legal" in zh


def test_titles_and_words_are_chinese_for_a_chinese_reader(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(FIXTURES / "valid" / "localized_titles.yaml", workflows_dir)
    case = engine.start("localized_titles", data={"headline": "新品"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.set(case.id, {"headline": "新品上市"}, actor="ed")
    login(client, "ann")
    zh = text_of(client.get(f"/cases/{case.id}/history", headers=ZH).text)
    assert "哈希链已验证：3 条记录" in zh
    assert "提交 草稿 → 审阅中" in zh
    assert "数据已更改" in zh
    assert "标题 : 新品 → 新品上市" in zh
    assert "创建于 草稿" in zh
    en = text_of(client.get(f"/cases/{case.id}/history", headers=EN).text)
    assert "Submit Draft → In review" in en
    assert "Headline : 新品 → 新品上市" in en


def test_timers_and_automatic_steps_are_opsflows_own(
    board: tuple[TestClient, Any], clock: Any
) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "late"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    clock.advance(hours=49)  # the review's 2-day SLA fires ``escalate``
    engine.fire_due_deadlines()
    login(client, "ann")
    page = text_of(client.get(f"/cases/{case.id}/history", headers=EN).text)
    assert "Timer fired: escalate stayed in review opsflow (timer)" in page


def test_a_tampered_entry_breaks_the_badge_and_is_marked(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id = in_legal(engine)
    with engine.db.write() as conn:
        if conn.dialect.name == "postgresql":  # as a superuser would: append-only off
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        history = tables.history.c
        conn.execute(
            update(tables.history)
            .where(history.case_id == case_id, history.seq == 2)
            .values(comment="nothing to see")
        )
    login(client, "ann")
    html = client.get(f"/cases/{case_id}/history", headers=EN).text
    assert 'class="chain-badge broken" role="alert"' in html
    assert "chain-badge verified" not in html
    page = text_of(html)
    assert "Chain broken at entry #2" in page
    assert "hash mismatch: the entry was changed" in page
    assert 'href="#entry-2"' in html
    assert 'class="entry kind-transition broken" id="entry-2"' in html
    assert "This entry fails the chain check." in page
    zh = text_of(client.get(f"/cases/{case_id}/history", headers=ZH).text)
    assert "哈希链在第 #2 条记录处断开" in zh


def test_older_entries_come_a_page_at_a_time(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case = engine.start("review", data={"title": "busy"}, actor="ann")
    for n in range(59):
        engine.set(case.id, {"score": n}, actor="ann")  # 60 entries
    login(client, "ann")
    first = client.get(f"/cases/{case.id}/history", headers=EN).text
    assert seqs(first) == list(range(60, 35, -1))
    assert "Chain verified: 60 entries" in text_of(first)
    more = f'hx-get="/cases/{case.id}/history?before=36"'
    assert more in first
    assert f'href="/cases/{case.id}/history?before=36"' in first
    second = client.get(f"/cases/{case.id}/history?before=36", headers=EN).text
    assert seqs(second) == list(range(35, 10, -1))
    assert second.lstrip().startswith("<li")  # only the entries, swapped for the button
    assert "chain-badge" not in second
    last = client.get(f"/cases/{case.id}/history?before=11", headers=EN).text
    assert seqs(last) == list(range(10, 0, -1))
    assert "?before=" not in last
    direct = client.get(f"/cases/{case.id}/history?before=36")  # no htmx: a whole page
    assert "<html" in direct.text
    assert f'href="/cases/{case.id}/history">' in direct.text  # back to the newest
    assert seqs(direct.text) == list(range(35, 10, -1))


def test_opened_directly_it_is_a_whole_page(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    case_id = in_legal(engine)
    login(client, "ann")
    page = client.get(f"/cases/{case_id}/history", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "<html" in page.text
    assert 'href="/board-static/board.css"' in page.text
    assert f'href="/cases/{case_id}"' in page.text  # back to the case
    assert "<h1>History</h1>" in page.text


def test_a_case_i_may_not_read_is_not_found(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    client, engine = board
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir)
    secret = engine.start("hr", {"title": "pay rise"}, actor="ann").id
    login(client, "bea")  # brand: not among hr's readers, never acted on it
    hidden = client.get(f"/cases/{secret}/history", headers={"Accept-Language": "en"})
    missing = client.get(f"/cases/{'0' * 32}/history", headers={"Accept-Language": "en"})
    assert hidden.status_code == missing.status_code == 404
    assert "pay rise" not in hidden.text
    assert client.get(f"/cases/{secret}/history?before=2").status_code == 404
    api = client.get(f"/v1/cases/{secret}/history")
    assert api.status_code == 404  # as the API answers
    login(client, "lou")  # legal reads hr cases
    assert client.get(f"/cases/{secret}/history", headers=HTMX).status_code == 200


def test_without_a_login_the_browser_goes_to_the_login_page(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    case_id = engine.start("review", data={"title": "x"}, actor="ann").id
    answer = client.get(f"/cases/{case_id}/history", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=/cases/")
    htmx = client.get(f"/cases/{case_id}/history", headers=HTMX, follow_redirects=False)
    assert htmx.headers["HX-Redirect"].startswith("/login?next=")


def test_the_statements_do_not_grow_with_the_history(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    short = engine.start("review", data={"title": "short"}, actor="ann").id
    long = engine.start("review", data={"title": "long"}, actor="ann").id
    for n in range(59):
        engine.set(long, {"score": n}, actor="ann")
        if n < 4:
            engine.set(short, {"score": n}, actor="ann")  # 5 entries against 60
    login(client, "ann")
    client.get(f"/cases/{short}/history", headers=HTMX)  # warm: definitions, session
    counts = []
    for case_id in (short, long):
        with counted_queries(engine) as first:
            assert client.get(f"/cases/{case_id}/history", headers=HTMX).status_code == 200
        with counted_queries(engine) as older:
            answer = client.get(f"/cases/{case_id}/history?before=3", headers=HTMX)
            assert answer.status_code == 200
        counts.append((len(first), len(older)))
    assert counts[0] == counts[1], counts
    assert counts[0][0] <= 8, counts
    assert counts[0][1] <= 5, counts


def test_a_datetime_fields_change_is_shown_as_a_time_not_iso_text(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    moment = engine.clock().replace(microsecond=0)
    case = engine.start(
        "review", data={"title": "定时 timed", "publish_at": moment.isoformat()}, actor="ann"
    )
    login(client, "ann")
    page = text_of(client.get(f"/cases/{case.id}/history", headers=EN).text)
    shown = page.split("publish_at : ", 1)[1]
    assert not shown.startswith(moment.isoformat()[:10])  # not the stored ISO text
    assert str(moment.year) in shown.split(" title", 1)[0], shown[:80]
    assert "AM" in shown[:40] or "PM" in shown[:40], shown[:80]  # en: a 12-hour clock


def test_a_delegates_step_says_for_whom_and_an_empty_assignment_says_why(
    board: tuple[TestClient, Any], workflows_dir: Path
) -> None:
    from datetime import date

    from opsflow.people import Delegation

    client, engine = board
    shutil.copy(FIXTURES / "engine" / "desk.yaml", workflows_dir)
    engine.settings.people["ed"] = Person(display_name="Ed Editor")
    engine.settings.people["both"] = Person(delegate=Delegation("lou", date(2026, 1, 1), None))
    case = engine.start("desk", data={"title": "t"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")  # editing: round robin, both
    engine.fire(case.id, "review", actor="lou")  # editor or legal: lou's own role will do
    engine.fire(case.id, "park", actor="lou")
    other = engine.start("desk", data={"title": "u"}, actor="ann")
    engine.fire(other.id, "submit", actor="ann")  # ed
    engine.fire(other.id, "redo", actor="lou")  # editor only: lou acts for both
    login(client, "ann")
    page = text_of(client.get(f"/cases/{case.id}/history", headers=EN).text)
    assert "Nobody assigned: field &#39;reviewer&#39; is empty" in page  # escaped
    other_page = text_of(client.get(f"/cases/{other.id}/history", headers=EN).text)
    assert "redo stayed in editing lou for both" in other_page
    zh = text_of(client.get(f"/cases/{other.id}/history", headers=ZH).text)
    assert "lou 代 both" in zh
