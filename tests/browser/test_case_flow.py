"""The case page in Chromium on a running ``opsflow serve``: firing, refusals, approvals, forms.

Every change goes through the page's own forms (htmx swaps the answer in, under the board's
Content-Security-Policy); what was written is then read back through an Engine of the test
process on the served database (``site.engine()``), the way an operator would check it.
The served ``review`` workflow (tests/fixtures/engine/review.yaml): ``submit`` draft→review
(author), ``approve`` review→scheduled or legal (editor, not by the submitter: four-eyes),
``approve`` legal→scheduled with ``approvals: {required: 2, roles: [legal, brand]}``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in, path_of

pytestmark = pytest.mark.browser
TAB_LIMIT = 80  # Tab presses to reach a control: a page with more is a page to fix


def title(what: str) -> str:
    """A title no other test of the module uses (they share the served database)."""
    return f"{what} {uuid.uuid4().hex[:6]}"


def draft(site: BoardSite, what: str, by: str = "ann") -> str:
    return str(site.engine().start("review", data={"title": what}, actor=by).id)


def in_review(site: BoardSite, what: str, by: str = "ann", **data: Any) -> str:
    engine = site.engine()
    case = engine.start("review", data={"title": what, **data}, actor=by)
    engine.fire(case.id, "submit", actor=by)
    return str(case.id)


def in_legal(site: BoardSite, what: str) -> str:
    case = in_review(site, what, claims=True)
    site.engine().fire(case, "approve", actor="ed")
    return case


def stored(site: BoardSite, case_id: str) -> tuple[Any, ...]:
    """The case as the database holds it: state, data, row version, assignee, update time."""
    case = site.engine().get(case_id)
    return case.state, dict(case.data), case.row_version, case.assignee, case.updated_at


def entries(site: BoardSite, case_id: str) -> list[tuple[int, str, str, str | None]]:
    """The case's history: (seq, kind, actor, event) per entry."""
    return [(e.seq, e.kind, e.actor, e.event) for e in site.engine().history(case_id)]


def open_case(page: Any, who: str, case_id: str) -> Any:
    """``page`` logged in as ``who`` on the case's page, its history loaded by htmx."""
    logged_in(page, who, next_path=f"/cases/{case_id}")
    page.locator("#history .timeline .entry").first.wait_for()
    return page


def notice(page: Any) -> str:
    box = page.locator("#case .notice[role=status]")
    box.wait_for()
    text: str = box.inner_text()
    return " ".join(text.split())


# -- firing ----------------------------------------------------------------------------------


def test_firing_an_event_shows_the_new_state_and_the_history_entry(
    page: Any, site: BoardSite
) -> None:
    case = draft(site, title("春季促销 Spring sale"))
    open_case(page, "ann", case)
    assert page.locator("#case .case-sub .chip.state").inner_text() == "draft"
    page.locator("#comment").fill("请审阅 please review")
    page.locator("#event-submit").click()
    assert notice(page) == "Done. The case is now in: review"
    assert page.locator("#case .case-sub .chip.state").inner_text() == "review"
    assert path_of(page) == f"/cases/{case}"  # swapped in place by htmx
    newest = page.locator("#history .timeline .entry").first
    newest.wait_for()
    assert newest.get_attribute("id") == "entry-2"
    assert "submit" in newest.locator(".entry-what").inner_text()
    assert newest.locator(".states .chip.state").all_inner_texts() == ["draft", "review"]
    assert newest.locator(".who").inner_text() == "ann"
    assert newest.locator("blockquote.comment").inner_text() == "请审阅 please review"
    # what the page showed is what was written
    assert site.engine().get(case).state == "review"
    last = site.engine().history(case)[-1]
    assert (last.kind, last.event, last.actor, last.comment) == (
        "transition",
        "submit",
        "ann",
        "请审阅 please review",
    )
    # the submit button is gone: not an event of review for an author
    assert page.locator("button#event-submit").count() == 0


# -- four-eyes ---------------------------------------------------------------------------------


def test_the_submitter_sees_approve_disabled_with_the_four_eyes_reason(
    page: Any, site: BoardSite
) -> None:
    case = in_review(site, title("Four eyes"), by="both")  # author+editor: submitted it
    before, history = stored(site, case), entries(site, case)
    open_case(page, "both", case)
    button = page.locator("#event-approve")
    assert button.is_disabled()
    assert button.get_attribute("aria-describedby") == "why-approve"
    why = page.locator("#why-approve")
    assert why.is_visible()
    assert "Four-eyes rule: you did “submit” on this case, so someone else must do this." in (
        why.inner_text()
    )
    assert page.locator("#preview-approve").count() == 0  # no preview of a blocked event
    assert page.locator("#case .notice, #case .error").count() == 0
    assert stored(site, case) == before
    assert entries(site, case) == history  # nothing written, not even a refusal


def test_a_four_eyes_fire_is_answered_inline_and_changes_nothing(
    page: Any, site: BoardSite
) -> None:
    case = in_review(site, title("Four eyes inline"), by="both")
    before, history = stored(site, case), entries(site, case)
    open_case(page, "both", case)
    # the button enabled by hand: what a forged or outdated page would send
    page.locator("#event-approve").evaluate("b => b.removeAttribute('disabled')")
    page.locator("#event-approve").click()
    alert = page.locator("#case section[aria-labelledby=h-events] .error[role=alert]")
    alert.wait_for()
    text = " ".join(alert.inner_text().split())
    assert "Not done: approve. Nothing was changed." in text
    assert "Four-eyes rule: you did “submit” on this case, so someone else must do this." in text
    assert page.locator("#case .case-sub .chip.state").inner_text() == "review"
    assert page.locator("#event-approve").is_disabled()  # the page as it is now
    assert stored(site, case) == before
    # the audit keeps who tried what and why not (a ``denied`` entry); nothing else is written
    after = entries(site, case)
    assert after[: len(history)] == history
    assert [(kind, actor, event) for _seq, kind, actor, event in after[len(history) :]] == [
        ("denied", "both", "approve")
    ]
    # the same case is approved by another editor: the refusal was the four-eyes rule's
    other = site.engine().fire(case, "approve", actor="ed")
    assert other.case.state == "scheduled"


# -- N of M ------------------------------------------------------------------------------------


def test_two_approvals_show_1_of_2_with_the_name_then_move_on(
    page: Any, site: BoardSite, new_context: Any
) -> None:
    case = in_legal(site, title("Claims ad"))  # approve in legal: 2 of legal / brand
    open_case(page, "lou", case)
    approvals = page.locator("#case section[aria-labelledby=h-approvals]")
    assert approvals.locator(".approval-count").inner_text() == "0 of 2 approvals"
    page.locator("#event-approve").click()
    assert notice(page) == "Your approval was recorded: 1 of 2."
    assert approvals.locator(".approval-count").inner_text() == "1 of 2 approvals"
    assert approvals.locator("progress").get_attribute("value") == "1"
    assert approvals.locator("progress").get_attribute("max") == "2"
    assert "Approved by: lou" in approvals.inner_text()
    assert page.locator("#case .case-sub .chip.state").inner_text() == "legal"
    # lou may not approve twice: the button says why
    assert page.locator("#event-approve").is_disabled()
    assert "You have already approved; another approver is needed." in (
        page.locator("#why-approve").inner_text()
    )
    newest = page.locator("#history .timeline .entry").first
    newest.wait_for()
    assert "Approval recorded: approve" in newest.inner_text()
    assert newest.locator(".chip").inner_text() == "1 of 2"
    assert site.engine().get(case).state == "legal"
    # the second approver (brand) moves it on
    second = open_case(new_context().new_page(), "bea", case)
    assert "1 of 2 approvals" in second.locator(".approval-count").inner_text()
    assert "Approved by: lou" in second.locator(".approval").inner_text()
    second.locator("#event-approve").click()
    assert notice(second) == "Done. The case is now in: scheduled"
    assert second.locator("#case .case-sub .chip.state").inner_text() == "scheduled"
    assert second.locator("#case section[aria-labelledby=h-approvals]").count() == 0
    assert site.engine().get(case).state == "scheduled"
    kinds = [(kind, actor) for _seq, kind, actor, _event in entries(site, case)[-2:]]
    assert kinds == [("approval", "lou"), ("transition", "bea")]
    page.reload()  # lou's page, reloaded: moved on
    assert page.locator("#case .case-sub .chip.state").inner_text() == "scheduled"


# -- forms -------------------------------------------------------------------------------------


def test_a_form_error_is_shown_beside_its_field_and_nothing_is_saved(
    page: Any, site: BoardSite
) -> None:
    case = in_review(site, title("Keep me"), score=7)
    before, history = stored(site, case), entries(site, case)
    open_case(page, "ed", case)
    page.locator("#f-score").fill("101")  # max 100
    page.locator("#f-hits").fill("-1")  # min 0
    page.locator("#data-form button[type=submit]").click()
    error = page.locator("#f-score-error")
    error.wait_for()
    assert error.inner_text() == "Must be at most 100."
    assert page.locator("#f-hits-error").inner_text() == "Must be at least 0."
    row = page.locator("#f-score-row")  # the message sits with its field
    assert row.locator("#f-score-error").count() == 1
    score = page.locator("#f-score")
    assert score.get_attribute("aria-invalid") == "true"
    assert "f-score-error" in (score.get_attribute("aria-describedby") or "").split()
    assert score.input_value() == "101"  # what was typed stays, to be corrected
    assert page.locator("#f-title-error").count() == 0  # a valid field has no error
    summary = page.locator("#case section[aria-labelledby=h-data] .error[role=alert]")
    assert "Nothing was saved: please correct the fields marked below." in summary.inner_text()
    gap = page.evaluate(  # both boxes read at the same moment
        """() => document.getElementById('f-score-error').getBoundingClientRect().top
                 - document.getElementById('f-score').getBoundingClientRect().bottom"""
    )
    assert 0 <= gap < 80, gap  # right below its input (its hint between them)
    assert stored(site, case) == before
    assert entries(site, case) == history
    assert site.engine().get(case).data.get("score") == 7
    # corrected, it saves
    score.fill("100")
    page.locator("#f-hits").fill("")
    page.locator("#data-form button[type=submit]").click()
    assert notice(page) == "Saved."
    assert site.engine().get(case).data.get("score") == 100


# -- keyboard only -----------------------------------------------------------------------------


def focused(page: Any) -> dict[str, Any]:
    """The focused element: its id, tag, text, whether it shows focus and how."""
    found: dict[str, Any] = page.evaluate(
        """() => {
          const el = document.activeElement;
          if (!el || el === document.body) return {id: null};
          const style = getComputedStyle(el);
          return {id: el.id, tag: el.tagName.toLowerCase(), href: el.getAttribute('href'),
                  text: el.innerText, visible: el.matches(':focus-visible'),
                  outline: style.outlineStyle, width: parseFloat(style.outlineWidth)};
        }"""
    )
    return found


def tab_to(page: Any, matches: str, backwards: bool = False) -> dict[str, Any]:
    """Press Tab (Shift+Tab) until the focused element matches the JS test ``matches``."""
    key = "Shift+Tab" if backwards else "Tab"
    for _ in range(TAB_LIMIT):
        page.keyboard.press(key)
        if page.evaluate(f"(el => !!el && ({matches}))(document.activeElement)"):
            now = focused(page)
            assert now["visible"], f"focus is not visible on {now}"
            assert now["outline"] != "none", now
            assert now["width"] >= 2, now
            return now
    raise AssertionError(f"{TAB_LIMIT} presses of {key} never reached {matches}: {focused(page)}")


def test_keyboard_only_from_the_inbox_to_firing_an_event(page: Any, site: BoardSite) -> None:
    case = in_review(site, title("Keyboard"))
    logged_in(page, "ed")  # the login form is other tests'; from here on only keys
    link = tab_to(page, f"el.matches('a.case-link[href=\"/cases/{case}\"]')")
    assert link["tag"] == "a"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{case}")
    page.locator("#history .timeline .entry").first.wait_for()
    tab_to(page, "el.id === 'comment'")
    page.keyboard.type("按键 by keys")
    tab_to(page, "el.id === 'event-approve'")
    preview = tab_to(page, "el.id === 'preview-approve'", backwards=True)
    assert preview["text"] == "Preview"
    page.keyboard.press("Enter")  # the dry run, into #preview
    would = page.locator("#preview ul.would")
    would.wait_for()
    assert "The case would move to: scheduled" in would.inner_text()
    assert site.engine().get(case).state == "review"  # a preview writes nothing
    tab_to(page, "el.id === 'event-approve'")
    page.keyboard.press("Space")
    assert notice(page) == "Done. The case is now in: scheduled"
    # focus follows the answer, so the next Tab goes on from the case, not the page's top
    page.wait_for_function("() => document.activeElement.matches('#case .notice')")
    assert site.engine().get(case).state == "scheduled"
    last = site.engine().history(case)[-1]
    assert (last.event, last.actor, last.comment) == ("approve", "ed", "按键 by keys")
