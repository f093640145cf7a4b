"""The case page's history and diagram in Chromium, as htmx loads them into the page.

Under the board's real Content-Security-Policy (a violation fails the test): the history
with its verified-chain badge and "Older entries", and the diagram drawn on the server,
its current state filled by diagram.css, on a desktop and on a phone in both languages.
"""

from __future__ import annotations

from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in, overflowing, scroll_width

pytestmark = pytest.mark.browser
HIGHLIGHT = "rgb(255, 213, 79)"  # diagram.css: .state.current rect


def busy_case(site: BoardSite, entries: int) -> str:
    """A case in review with ``entries`` history entries (data changes after the submit)."""
    engine = site.engine()
    case = engine.start("review", data={"title": "春季促销 Spring sale"}, actor="ann")
    engine.fire(case.id, "submit", actor="ann", comment="请审阅")
    for n in range(entries - 2):
        engine.set(case.id, {"score": n}, actor="ann")
    return str(case.id)


def test_the_history_loads_with_its_badge_and_older_entries(page: Any, site: BoardSite) -> None:
    case_id = busy_case(site, 30)
    logged_in(page, "ann", next_path=f"/cases/{case_id}")
    badge = page.locator("#history .chain-badge.verified")
    badge.wait_for()
    assert "Chain verified: 30 entries" in badge.inner_text()
    entries = page.locator("#history .timeline .entry")
    assert entries.count() == 25
    assert entries.first.get_attribute("id") == "entry-30"  # newest first
    page.get_by_role("link", name="Older entries").click()
    page.locator("#entry-1").wait_for()
    assert entries.count() == 30
    assert page.get_by_role("link", name="Older entries").count() == 0
    assert page.url.endswith(f"/cases/{case_id}")  # swapped in place, no navigation


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_diagram_tab_draws_the_current_state_lit(
    page: Any, site: BoardSite, locale: str
) -> None:
    case_id = busy_case(site, 2)
    logged_in(page, "ann", next_path=f"/cases/{case_id}")
    page.locator("#tab-diagram").click()
    current = page.locator("#diagram svg .state.current rect").first
    current.wait_for()
    assert current.evaluate("r => getComputedStyle(r).fill") == HIGHLIGHT
    other = page.locator("#diagram svg .state:not(.current) rect").first
    assert other.evaluate("r => getComputedStyle(r).fill") == "rgb(255, 255, 255)"
    legend = page.locator("#diagram .diagram-legend").inner_text()
    assert ("当前状态：review" if locale == "zh-CN" else "Current state: review") in legend
    assert page.locator("script[src*='mermaid']").count() == 0


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_history_and_diagram_fit_a_phone(page: Any, site: BoardSite) -> None:
    case_id = busy_case(site, 6)
    logged_in(page, "ann", next_path=f"/cases/{case_id}")
    page.locator("#history .chain-badge").wait_for()
    assert scroll_width(page) <= 390
    assert overflowing(page) == []
    page.locator("#tab-diagram").click()
    page.locator("#diagram svg").wait_for()
    page.wait_for_function(  # diagram.css, linked by the fragment, has loaded
        "() => getComputedStyle(document.querySelector('#diagram svg')).maxWidth === '100%'"
    )
    assert overflowing(page) == []
    assert scroll_width(page) <= 390
    box = page.locator("#diagram svg").bounding_box()
    assert box is not None
    assert box["width"] <= 390
