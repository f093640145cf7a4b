"""The board on a phone-sized screen (390 px wide): no sideways scrolling, a usable nav.

In both languages: Chinese text breaks differently from English, and the longest titles a
workflow allows are in the inbox.
"""

from __future__ import annotations

from typing import Any

import pytest
from boardsite import BoardSite
from browsing import log_in_form, logged_in, overflowing, path_of, scroll_width

pytestmark = [
    pytest.mark.browser,
    pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}]),
    pytest.mark.parametrize("locale", ["en-US", "zh-CN"]),
]
WIDTH = 390
LONGEST = 50  # review.yaml: title max_length 50


@pytest.fixture
def context_options() -> dict[str, Any]:
    return {"has_touch": True, "is_mobile": True}


def fits(page: Any) -> None:
    """No horizontal scroll: nothing wider than the screen (tables scroll in .table-wrap)."""
    assert scroll_width(page) <= WIDTH, (path_of(page), scroll_width(page), overflowing(page))
    assert overflowing(page) == []


def inside(page: Any, locator: Any) -> None:
    """``locator`` is shown and lies fully on the screen, tall enough to tap."""
    assert locator.is_visible()
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= WIDTH, (locator, box)
    assert box["height"] >= 20, (locator, box)


def lines_of(locator: Any) -> int:
    """On how many lines the text of ``locator`` is drawn."""
    lines: int = locator.evaluate(
        """el => {
          const range = document.createRange();
          range.selectNodeContents(el);
          return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        }"""
    )
    return lines


def cases_with_long_titles(site: BoardSite) -> None:
    engine = site.engine()
    for title in (
        "A" * LONGEST,  # one unbroken word, as long as allowed
        "春季促销" * (LONGEST // 4),  # Chinese without spaces
        "Spring launch of the new autumn catalogue, round 2"[:LONGEST],
    ):
        case = engine.start("review", data={"title": title}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")


def test_the_login_page_fits_a_phone(page: Any) -> None:
    page.goto("/login")
    fits(page)
    for field in ("#username", "#password", "form[action='/login'] button[type=submit]"):
        inside(page, page.locator(field))
    log_in_form(page, "ann", "wrong but long enough")  # the error fits too
    page.get_by_role("alert").wait_for()
    fits(page)


def test_the_inbox_fits_a_phone_with_the_longest_titles(page: Any, site: BoardSite) -> None:
    cases_with_long_titles(site)
    logged_in(page, "ed")
    assert page.locator("li.case-row").count() >= 3
    fits(page)
    for row in page.locator("li.case-row").all():
        inside(page, row)


def test_the_nav_is_usable_on_a_phone(page: Any) -> None:
    logged_in(page, "pat")  # an admin: the longest nav
    links = page.locator("header nav a")
    assert links.count() >= 4
    assert page.locator("header nav a[href='/admin']").count() == 1
    for item in [*links.all(), *page.locator("header .who :is(a, button)").all()]:
        inside(page, item)
        assert lines_of(item) == 1, item.inner_text()  # words whole, not a column of letters
    hrefs = links.evaluate_all("els => els.map(a => a.getAttribute('href'))")
    for index, href in enumerate(hrefs):  # each one tapped goes where it says
        page.goto("/inbox")
        with page.expect_navigation():  # (the first one goes to /inbox again)
            page.locator("header nav a").nth(index).tap()
        assert path_of(page) == href
    page.goto("/inbox")
    with page.expect_navigation():
        page.locator("header .who button[type=submit]").first.tap()  # log out, by tapping
    assert path_of(page) == "/login"
    fits(page)
