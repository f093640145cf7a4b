"""The admin pages in Chromium: retry all shown (after a confirmation), a new token copied
once, a keyboard-only retry, and the pages on a phone in both languages."""

from __future__ import annotations

from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in, overflowing, scroll_width
from sqlalchemy import update

from opsflow.engine.identity import TOKEN_PATTERN
from opsflow.store import tables

pytestmark = pytest.mark.browser
ADMIN = "pat"  # boardsite's project lists pat under admins:
PAGES = ("/admin", "/admin/notifications", "/admin/incidents", "/admin/audit", "/admin/tokens")


def failed(site: BoardSite, count: int) -> list[int]:
    """``count`` cases sent to review, their notifications failed: the outbox ids."""
    engine = site.engine()
    for n in range(count):
        case = engine.start("review", {"title": f"通知 {n}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
    with engine.db.write() as conn:
        o = tables.outbox.c
        conn.execute(
            update(tables.outbox)
            .where(o.status == "pending")
            .values(status="failed", attempts=12, last_error="HTTP 503", next_attempt_at=None)
        )
    return sorted(row.id for row in engine.outbox(failed=True))


def statuses(site: BoardSite, ids: list[int]) -> set[str]:
    return {row.status for row in site.engine().outbox() if row.id in ids}


def test_retry_all_shown_asks_first(site: BoardSite, page: Any) -> None:
    ids = failed(site, 2)
    logged_in(page, ADMIN, next_path="/admin/notifications")
    questions: list[str] = []

    def dismiss(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.locator("form.admin-bulk button").click()
    assert questions == [f"Retry all {len(ids)} notifications shown?"]
    assert statuses(site, ids) == {"failed"}  # dismissed: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("form.admin-bulk button").click()
    page.wait_for_url("**/admin/notifications?retried=*")
    assert f"Queued again: {len(ids)}." in page.locator("[role=status]").inner_text()
    assert statuses(site, ids) == {"pending"}


def test_a_notification_is_retried_with_the_keyboard(site: BoardSite, page: Any) -> None:
    [nid, *_rest] = failed(site, 1)
    logged_in(page, ADMIN, next_path="/admin/notifications")
    button = page.get_by_role("button", name=f"Retry notification {nid}")
    for _ in range(60):  # Tab until the row's button has the focus
        page.keyboard.press("Tab")
        if button.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the row's Retry button is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/notifications?retried=1")
    assert statuses(site, [nid]) == {"pending"}


def test_a_new_token_is_copied_then_shown_by_its_prefix(new_context: Any) -> None:
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = logged_in(context.new_page(), "ann", next_path="/admin/tokens")
    page.locator("#token-read-only").check()
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#new-token").input_value()
    assert TOKEN_PATTERN.fullmatch(token)
    copy = page.locator("button[data-copy]")  # shown by admin.js where a clipboard is
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert copy.inner_text() == "Copied"
    page.get_by_role("link", name="Done: back to the tokens").click()
    assert token[:12] in page.content()
    assert token not in page.content()


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_admin_pages_fit_a_phone(site: BoardSite, page: Any, locale: str) -> None:
    failed(site, 1)
    logged_in(page, ADMIN, next_path="/admin")
    for path in PAGES:
        page.goto(path)
        assert scroll_width(page) <= 390, (path, scroll_width(page))
        assert overflowing(page) == [], path
    page.goto("/admin/notifications")
    heading = page.locator("h1").inner_text()
    assert heading == ("发送失败的通知" if locale == "zh-CN" else "Failed notifications")
