"""An OpenID Connect login in a real Chromium: the board, a real issuer on 127.0.0.1, and back.

The served project's opsflow.yaml names the issuer (tests/service/oidc_issuer.py, which
auto-approves its configured user); the browser follows every redirect itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browsing import path_of, session_of
from oidc_issuer import OidcIssuer, running_issuer

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def site_config(issuer: OidcIssuer) -> dict[str, Any]:
    """The project's login goes to the test issuer (password login stays on)."""
    client = {"client_id": issuer.client_id, "client_secret": issuer.client_secret}
    return {"server": {"login": {"oidc": {"issuer": issuer.url, **client}}}}


@pytest.fixture
def as_user(issuer: OidcIssuer) -> Iterator[OidcIssuer]:
    """The issuer, its user put back as it was after the test."""
    user = dict(issuer.user)
    yield issuer
    issuer.user = user


def test_the_oidc_button_logs_in_through_the_issuer(page: Any, as_user: OidcIssuer) -> None:
    as_user.user = {"preferred_username": "ed"}
    page.goto("/inbox")
    assert path_of(page) == "/login"
    assert page.locator("#password").is_visible()  # password login stays offered beside it
    button = page.get_by_role("link", name="Log in with your organisation's account")
    button.click()  # → the issuer (auto-approves) → /login/oidc/callback → /inbox
    page.wait_for_url("**/inbox")
    assert page.locator("header .who").inner_text().startswith("ed")
    session = session_of(page)
    assert session["name"] == "ed"
    requests = as_user.token_requests
    assert requests, "the board never asked the issuer for a token"
    assert requests[-1]["method"] in ("client_secret_basic", "client_secret_post")
    assert requests[-1]["redirect_uri"].startswith(page.url.split("/inbox")[0])


def test_someone_the_issuer_knows_but_the_team_does_not_gets_no_session(
    page: Any, as_user: OidcIssuer
) -> None:
    as_user.user = {"preferred_username": "stranger"}
    page.goto("/login")
    page.get_by_role("link", name="Log in with your organisation's account").click()
    refusal = page.get_by_text("'stranger' is not in this project's team")
    refusal.wait_for()  # the board's 403 page, after the issuer and the callback
    assert path_of(page) == "/login/oidc/callback"
    assert page.request.get("/v1/session").status == 401
    page.goto("/inbox")
    assert path_of(page) == "/login"
