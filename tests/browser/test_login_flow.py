"""Logging in and out in a real Chromium on a running ``opsflow serve``; CSRF-less posts refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from boardsite import PASSWORD, BoardSite
from browsing import csrf_token, log_in_form, logged_in, path_of, session_of

pytestmark = pytest.mark.browser


def test_a_password_login_lands_on_the_inbox(page: Any) -> None:
    page.goto("/inbox")  # not logged in: sent to the login page, and back after it
    assert path_of(page) == "/login"
    log_in_form(page, "ann")
    page.wait_for_url("**/inbox")
    assert page.locator("h1").first.inner_text()
    assert page.locator("header .who").inner_text().startswith("ann")
    assert page.locator("header nav a[aria-current=page]").get_attribute("href") == "/inbox"
    session = session_of(page)
    assert session["name"] == "ann"
    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = next(c for name, c in cookies.items() if "session" in name)
    assert session_cookie["httpOnly"]  # no script reads the session


def test_a_wrong_password_shows_the_error_on_the_page(page: Any) -> None:
    page.goto("/login")
    log_in_form(page, "eve", PASSWORD + "-wrong")
    error = page.get_by_role("alert")
    error.wait_for()
    assert "Wrong user name or password" in error.inner_text()
    assert path_of(page) == "/login"
    assert page.locator("#username").input_value() == "eve"  # kept for the next try
    assert page.locator("#password").input_value() == ""  # never sent back
    assert page.locator("#username").get_attribute("aria-describedby") == "login-error"
    assert page.request.get("/v1/session").status == 401  # no session was made
    log_in_form(page, "eve")  # the right one still works
    page.wait_for_url("**/inbox")


def test_log_out_ends_this_session(page: Any) -> None:
    logged_in(page, "bea")
    page.locator("header .who button", has_text="Log out").first.click()
    page.wait_for_url("**/login*")
    page.goto("/inbox")
    assert path_of(page) == "/login"


def test_log_out_everywhere_ends_the_other_browsers_session_too(
    new_context: Callable[..., Any],
) -> None:
    laptop = logged_in(new_context().new_page(), "lou")
    phone = logged_in(new_context(viewport={"width": 390, "height": 844}).new_page(), "lou")
    other = logged_in(new_context().new_page(), "dir")  # someone else keeps theirs
    phone.goto("/inbox")
    assert path_of(phone) == "/inbox"
    laptop.get_by_role("button", name="Log out everywhere").click()
    laptop.wait_for_url("**/login*")
    phone.reload()  # the phone's next navigation: its session has ended
    assert path_of(phone) == "/login"
    assert phone.request.get("/v1/session").status == 401
    other.reload()
    assert path_of(other) == "/inbox"


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    page: Any, site: BoardSite
) -> None:
    logged_in(page, "both")
    token = csrf_token(page)
    before = session_of(page)
    assert before["csrf_token"] == token
    # The session cookie alone does not make a change: not a logout, not a new case.
    refused = page.request.post("/logout", form={"next": "/login"})
    assert refused.status == 403, refused.text()
    refused = page.request.post("/v1/cases", data={"workflow": "review", "data": {"title": "x"}})
    assert refused.status == 403, refused.text()
    # the same from the page's own script, and with a wrong token
    statuses = page.evaluate(
        """async () => {
          const send = (headers) => fetch('/v1/cases', {method: 'POST', headers,
            body: JSON.stringify({workflow: 'review', data: {title: 'x'}})});
          const none = await send({'Content-Type': 'application/json'});
          const wrong = await send({'Content-Type': 'application/json', 'X-CSRF-Token': 'nope'});
          return [none.status, wrong.status];
        }"""
    )
    assert statuses == [403, 403]
    assert session_of(page)["csrf_token"] == token  # still logged in, same session
    listed = site.api("both", "GET", "/v1/cases", params={"workflow": "review"})
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []
    # with the token the same request goes through: the refusal was the token's
    made = page.request.post(
        "/v1/cases",
        data={"workflow": "review", "data": {"title": "x"}},
        headers={"X-CSRF-Token": token},
    )
    assert made.status == 201, made.text()
