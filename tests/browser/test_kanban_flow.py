"""The board per workflow in Chromium on a running ``opsflow serve``: moving cards.

A card moves by keyboard (its "Move to" list and button, reached with Tab) or by drag and
drop (kanban.js posts the drop; the server decides and fires the one event leading to the
column). A drop no event allows is answered with the refusal and its reason, and nothing
is written: checked through an Engine of the test process on the served database.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in

pytestmark = pytest.mark.browser
TAB_LIMIT = 200  # Tab presses to reach a card's control on a board of a few dozen cards


def title(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:6]}"


def in_review(site: BoardSite, what: str, by: str = "ann") -> str:
    engine = site.engine()
    case = engine.start("review", data={"title": what}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def stored(site: BoardSite, case_id: str) -> tuple[Any, ...]:
    """The case's state, row version and history as the database holds them."""
    engine = site.engine()
    case = engine.get(case_id)
    return case.state, case.row_version, [(e.seq, e.kind) for e in engine.history(case_id)]


def column_of(page: Any, case_id: str) -> str:
    """The state of the column the card is shown in."""
    state: str = page.locator(f"#card-{case_id}").evaluate(
        "card => card.closest('.kcol').dataset.state"
    )
    return state


def status(page: Any) -> str:
    box = page.locator("#board .kanban-status .notice")
    box.wait_for()
    return " ".join(box.inner_text().split())


def tab_to(page: Any, element_id: str) -> None:
    """Press Tab until the element with ``element_id`` has a visible focus."""
    for _ in range(TAB_LIMIT):
        page.keyboard.press("Tab")
        now = page.evaluate(
            "() => [document.activeElement.id, document.activeElement.matches(':focus-visible')]"
        )
        if now[0] == element_id:
            assert now[1], f"focus on #{element_id} is not visible"
            return
    raise AssertionError(f"{TAB_LIMIT} Tab presses never reached #{element_id}")


def test_a_card_moves_by_keyboard_with_its_move_to_list(page: Any, site: BoardSite) -> None:
    label = title("按键 Keys")
    case = in_review(site, label)
    logged_in(page, "ed", next_path="/board/review")
    assert column_of(page, case) == "review"
    choice = page.locator(f"#to-{case}")
    options = choice.locator("option").evaluate_all(
        "os => os.map(o => [o.value, o.disabled, o.textContent.trim()])"
    )
    assert ["scheduled", False, "scheduled · approve"] in options
    assert any(value == "legal" and disabled for value, disabled, _text in options)
    tab_to(page, f"to-{case}")
    for _ in options:  # a closed select changes its choice with the arrow keys
        if choice.input_value() == "scheduled":
            break
        page.keyboard.press("ArrowDown")
    assert choice.input_value() == "scheduled"
    page.keyboard.press("Tab")  # to the card's Move button
    assert page.evaluate("() => document.activeElement.textContent.trim()") == "Move"
    page.keyboard.press("Enter")
    assert status(page) == f"“approve” fired on {label}: it is now in “scheduled”."
    assert column_of(page, case) == "scheduled"
    assert site.engine().get(case).state == "scheduled"
    last = site.engine().history(case)[-1]
    assert (last.kind, last.event, last.actor) == ("transition", "approve", "ed")


def test_a_card_dragged_to_a_column_fires_the_event(page: Any, site: BoardSite) -> None:
    label = title("Drag")
    case = in_review(site, label)
    logged_in(page, "ed", next_path="/board/review")
    # a column beside it: Playwright's drag cannot scroll the board's row of columns
    # sideways while the button is down (Chromium does so for a person at the edge)
    page.drag_and_drop(f"#card-{case}", "#board .kcol[data-state=scheduled]")
    assert status(page) == f"“approve” fired on {label}: it is now in “scheduled”."
    assert column_of(page, case) == "scheduled"
    assert site.engine().get(case).state == "scheduled"
    last = site.engine().history(case)[-1]
    assert (last.kind, last.event, last.actor) == ("transition", "approve", "ed")
    # the page is the board as it is now: a reload shows the same
    page.reload()
    assert column_of(page, case) == "scheduled"


def test_an_invalid_drop_shows_the_refusal_and_moves_nothing(page: Any, site: BoardSite) -> None:
    label = title("Nowhere")
    case = in_review(site, label)
    before = stored(site, case)
    logged_in(page, "ed", next_path="/board/review")
    page.drag_and_drop(f"#card-{case}", "#board .kcol[data-state=draft]")
    refusal = page.locator("#board .kanban-refused[role=alert]")
    refusal.wait_for()
    text = " ".join(refusal.inner_text().split())
    assert f"{label} was not moved to “draft”." in text
    assert "No event leads there from “review”." in text
    assert column_of(page, case) == "review"
    assert stored(site, case) == before


def test_a_four_eyes_drop_shows_its_reason_and_moves_nothing(page: Any, site: BoardSite) -> None:
    label = title("Mine to approve")
    case = in_review(site, label, by="both")  # author+editor: submitted it
    before = stored(site, case)
    logged_in(page, "both", next_path="/board/review")
    scheduled = page.locator(f"#to-{case} option[value=scheduled]")
    assert scheduled.is_disabled()
    assert "not now" in scheduled.inner_text()
    page.drag_and_drop(f"#card-{case}", "#board .kcol[data-state=scheduled]")
    refusal = page.locator("#board .kanban-refused[role=alert]")
    refusal.wait_for()
    assert f"{label} was not moved to “scheduled”." in refusal.inner_text()
    reasons = refusal.locator("ul.reasons li").all_inner_texts()
    assert reasons, "the refusal says why"
    assert any("submit" in reason for reason in reasons), reasons  # four-eyes: did submit
    assert column_of(page, case) == "review"
    assert stored(site, case) == before
