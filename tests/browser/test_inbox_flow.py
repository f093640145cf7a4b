"""The inbox in Chromium on a running ``opsflow serve``: only the cases I can act on.

Cases are made beforehand the way an operator's CLI makes them: an Engine of the test
process on the served database (``site.engine()``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in, path_of

pytestmark = pytest.mark.browser


def title(what: str) -> str:
    """A title no other test of the module uses (they share the served database)."""
    return f"{what} {uuid.uuid4().hex[:6]}"


def draft(site: BoardSite, what: str) -> str:
    return str(site.engine().start("review", data={"title": what}, actor="ann").id)


def in_review(site: BoardSite, what: str, by: str = "ann") -> str:
    engine = site.engine()
    case = engine.start("review", data={"title": what}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def in_legal(site: BoardSite, what: str) -> str:
    engine = site.engine()
    case = engine.start("review", data={"title": what, "claims": True}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    engine.fire(case.id, "approve", actor="ed")
    return str(case.id)


def listed(page: Any) -> set[str]:
    """The ids of the cases the inbox page lists."""
    hrefs = page.locator("main a.case-link").evaluate_all("els => els.map(a => a.pathname)")
    return {href.removeprefix("/cases/") for href in hrefs}


def test_the_inbox_shows_only_the_cases_i_can_act_on(
    page: Any, site: BoardSite, new_context: Callable[..., Any]
) -> None:
    waiting = in_legal(site, title("春季促销 Spring sale"))
    still_draft = draft(site, title("Still a draft"))
    reviewing = in_review(site, title("In review"))
    logged_in(page, "lou")  # legal: approves in legal; nothing to do on a draft or in review
    shown = listed(page)
    assert waiting in shown
    assert still_draft not in shown
    assert reviewing not in shown
    row = page.locator("li.case-row", has=page.locator(f"a[href='/cases/{waiting}']"))
    assert "春季促销 Spring sale" in row.locator("a.case-link").inner_text()
    events = row.locator(".case-events a").all_inner_texts()
    assert events, "a listed case offers the events I may fire"
    for item in page.locator("li.case-row").all():  # every listed case: something to do
        assert item.locator(".case-events a").count() >= 1
    # the author sees the draft to submit, and neither of the others
    author = logged_in(new_context().new_page(), "ann")
    assert still_draft in listed(author)
    assert reviewing not in listed(author)
    assert waiting not in listed(author)


def test_a_case_that_moved_on_leaves_the_inbox_on_the_next_load(page: Any, site: BoardSite) -> None:
    case = in_review(site, title("Moves on"))
    logged_in(page, "eve")
    assert case in listed(page)
    site.engine().fire(case, "cancel", actor="dir")  # someone else closes it meanwhile
    page.reload()
    assert case not in listed(page)


def test_mine_keeps_the_cases_assigned_to_me(page: Any, site: BoardSite) -> None:
    mine = in_review(site, title("Mine"))
    not_mine = in_review(site, title("Not mine"))
    site.engine().assign(mine, "both", actor="dir")
    logged_in(page, "both")
    assert {mine, not_mine} <= listed(page)
    page.get_by_role("link", name="Mine", exact=True).click()
    page.wait_for_url(lambda url: url.endswith("/inbox?mine=true"))
    assert path_of(page) == "/inbox"
    assert mine in listed(page)
    assert not_mine not in listed(page)
    current = page.locator("nav.tabs a[aria-current=page]")
    assert current.inner_text() == "Mine"


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_the_sla_countdown_is_written_by_the_pages_script_in_its_language(
    page: Any, site: BoardSite, locale: str
) -> None:
    case = in_review(site, title("Timed"))  # review: sla within 2d
    logged_in(page, "ed")
    row = page.locator("li.case-row", has=page.locator(f"a[href='/cases/{case}']"))
    countdown = row.locator("time[data-countdown]")
    expected = page.evaluate(
        "() => new Intl.RelativeTimeFormat(document.documentElement.lang, "
        "{numeric: 'auto'}).format(2, 'day')"
    )
    assert countdown.inner_text() == expected  # board.js ran (the CSP let it) and wrote it
    assert row.locator(".chip.ok").count() == 1
