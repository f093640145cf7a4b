"""Bulk from the search page in Chromium on a running ``opsflow serve``: preview, then apply.

An editor searches the served ``review`` workflow, ticks cases (or takes every case the
search finds), previews an event (a dry run: nothing is written, checked through an Engine
of the test process on the served database) and applies it; the page shows each case's
outcome or refusal and the counts.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boardsite import BoardSite
from browsing import logged_in, path_of

pytestmark = pytest.mark.browser


def tag() -> str:
    """A word only this test's cases carry in their titles (the module shares a database)."""
    return f"bulk{uuid.uuid4().hex[:8]}"


def in_review(site: BoardSite, what: str) -> str:
    engine = site.engine()
    case = engine.start("review", data={"title": what}, actor="ann")
    engine.fire(case.id, "submit", actor="ann")
    return str(case.id)


def draft(site: BoardSite, what: str) -> str:
    return str(site.engine().start("review", data={"title": what}, actor="ann").id)


def snapshot(site: BoardSite, cases: list[str]) -> dict[str, tuple[Any, ...]]:
    """Each case's state, row version and history as the database holds them."""
    engine = site.engine()
    out = {}
    for case_id in cases:
        case = engine.get(case_id)
        history = [(e.seq, e.kind, e.actor) for e in engine.history(case_id)]
        out[case_id] = (case.state, case.row_version, history)
    return out


def search(page: Any, word: str, state: str | None = None) -> None:
    """Fill the search form: the review workflow, ``word`` as text, maybe one state."""
    page.goto("/search")
    page.locator("#sf-workflow").select_option("review")
    page.locator("#sf-q").fill(word)
    if state:
        page.locator(f".sf-states input[value={state}]").check()
    page.locator("form.search-form button[type=submit]").click()
    page.wait_for_url("**/search?*")


def shown_cases(page: Any) -> list[str]:
    """The ids of the cases the results table lists."""
    hrefs = page.locator(".results-table tbody a").evaluate_all("els => els.map(a => a.pathname)")
    return [href.removeprefix("/cases/") for href in hrefs]


def counts(page: Any) -> dict[str, str]:
    chips = page.locator(".bulk-result .bulk-counts li")
    return {chip.get_attribute("data-status"): chip.inner_text() for chip in chips.all()}


def outcome(page: Any, case_id: str) -> Any:
    """The results table's row of one case."""
    return page.locator(".bulk-result tbody tr", has=page.locator(f"a[href='/cases/{case_id}']"))


def test_ticked_cases_previewed_then_applied_with_each_outcome(page: Any, site: BoardSite) -> None:
    word = tag()
    ready = [in_review(site, f"待审 {word} {n}") for n in range(3)]
    early = draft(site, f"Draft {word}")  # approve is not an event of draft: refused
    other = in_review(site, f"Not ticked {word}")
    chosen = [*ready, early]
    before = snapshot(site, [*chosen, other])
    logged_in(page, "ed")
    search(page, word)
    assert set(shown_cases(page)) == {*chosen, other}
    for case_id in chosen:
        page.locator(f"#pick-{case_id}").check()
    page.locator("#bulk-event").select_option("approve")
    page.locator("#bulk-comment").fill("批量 in bulk")
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_url("**/bulk/preview")
    # the preview: what would happen to each case, and nothing written
    assert page.locator("#result-title").inner_text() == "Preview: nothing has changed yet"
    assert "The cases ticked: 4." in page.locator(".bulk-scope").inner_text()
    assert counts(page) == {"done": "done: 3", "refused": "refused: 1"}
    for case_id in ready:
        row = outcome(page, case_id)
        assert row.get_attribute("class") == "bulk-done"
        assert "Would move from “review” to “scheduled”." in row.inner_text()
    refused = outcome(page, early)
    assert refused.get_attribute("class") == "bulk-refused"
    assert "refused" in refused.inner_text()
    assert outcome(page, other).count() == 0  # not ticked: not in the bulk
    assert snapshot(site, [*chosen, other]) == before  # a dry run writes nothing
    # apply: the same cases, for real
    apply = page.get_by_role("button", name="Apply to 4 cases")
    apply.click()
    page.wait_for_url("**/bulk/apply")
    assert page.locator("#result-title").inner_text() == "Done"
    assert counts(page) == {"done": "done: 3", "refused": "refused: 1"}
    summary = page.locator(".bulk-result > p").first.inner_text()
    assert "“approve” on 4 cases: 3 done." in summary
    for case_id in ready:
        assert "Moved from “review” to “scheduled”." in outcome(page, case_id).inner_text()
    assert outcome(page, early).get_attribute("class") == "bulk-refused"
    engine = site.engine()
    for case_id in ready:
        assert engine.get(case_id).state == "scheduled"
        last = engine.history(case_id)[-1]
        assert (last.kind, last.event, last.actor, last.comment) == (
            "transition",
            "approve",
            "ed",
            "批量 in bulk",
        )
    after = snapshot(site, [early, other])
    assert after[other] == before[other]  # not ticked: untouched
    state, version, history = after[early]
    assert (state, version) == before[early][:2]  # refused: only the audit's denied entry
    assert [kind for _seq, kind, _actor in history[len(before[early][2]) :]] == ["denied"]
    # a case's link leads to it
    outcome(page, ready[0]).locator("a").click()
    page.wait_for_url(f"**/cases/{ready[0]}")
    assert path_of(page) == f"/cases/{ready[0]}"
    assert page.locator("#case .case-sub .chip.state").inner_text() == "scheduled"


def test_every_case_the_search_finds_previewed_then_applied(page: Any, site: BoardSite) -> None:
    word = tag()
    found = [in_review(site, f"Filter {word} {n}") for n in range(2)]
    left = draft(site, f"Filter {word} draft")  # the filter (state review) leaves it out
    before = snapshot(site, [*found, left])
    logged_in(page, "ed")
    search(page, word, state="review")
    assert set(shown_cases(page)) == set(found)
    page.locator("#bulk input[name=scope][value=filter]").check()
    page.locator("#bulk-event").select_option("cancel")
    page.locator("#bulk button[type=submit]").click()
    page.wait_for_url("**/bulk/preview")
    assert "Every case the search finds." in page.locator(".bulk-scope").inner_text()
    assert page.locator("#result-title").inner_text() == "Preview: nothing has changed yet"
    assert counts(page) == {"done": "done: 2"}
    assert {case_id for case_id in found if outcome(page, case_id).count() == 1} == set(found)
    assert outcome(page, left).count() == 0
    assert snapshot(site, [*found, left]) == before
    page.get_by_role("button", name="Apply to 2 cases").click()
    page.wait_for_url("**/bulk/apply")
    assert page.locator("#result-title").inner_text() == "Done"
    assert counts(page) == {"done": "done: 2"}
    for case_id in found:
        assert "Moved from “review” to “rejected”." in outcome(page, case_id).inner_text()
        assert site.engine().get(case_id).state == "rejected"
    assert snapshot(site, [left]) == {left: before[left]}
    # the same search now finds nothing: the cases left review
    search(page, word, state="review")
    assert shown_cases(page) == []
