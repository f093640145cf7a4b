"""What every board page shares: login, languages, security headers, errors, assets."""

from __future__ import annotations

import hashlib
import re
from importlib import resources
from typing import Any

from boardkit import PASSWORD, login, text_of
from fastapi.testclient import TestClient
from sqlalchemy import select

from opsflow.service.board import CSP, catalogs
from opsflow.service.board.pages import HTMX
from opsflow.store import tables

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def sessions(engine: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(tables.sessions)))


def test_a_page_without_a_session_goes_to_the_login_page_and_back(client: TestClient) -> None:
    answer = client.get("/inbox?mine=true", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/inbox%3Fmine%3Dtrue"


def test_an_htmx_request_without_a_session_is_told_where_to_go(client: TestClient) -> None:
    answer = client.get("/inbox", headers={"HX-Request": "true"}, follow_redirects=False)
    assert answer.status_code == 204
    assert answer.headers["hx-redirect"] == "/login?next=/inbox"


def test_the_login_page_speaks_the_browsers_language(client: TestClient) -> None:
    chinese = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert chinese.status_code == 200
    assert '<html lang="zh-CN">' in chinese.text
    assert "登录 opsflow" in chinese.text
    assert "用户名" in chinese.text
    assert "密码" in chinese.text
    english = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text
    assert "Log in to opsflow" in english.text
    assert "User name" in english.text
    weighted = client.get("/login", headers={"Accept-Language": "zh;q=0.2, en;q=0.8"})
    assert '<html lang="en">' in weighted.text


def test_without_a_browser_language_the_server_locale_decides(client: TestClient) -> None:
    answer = client.get("/login", headers={"Accept-Language": "fr-FR, de;q=0.5"})
    assert '<html lang="zh-CN">' in answer.text  # server.locale's default


def test_a_wrong_password_shows_the_form_again_and_opens_no_session(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    answer = client.post(
        "/login",
        data={"username": "ann", "password": "wrong", "next": "/cases/x"},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("text/html")
    assert "Wrong user name or password." in answer.text
    assert 'value="ann"' in answer.text
    assert 'value="/cases/x"' in answer.text
    assert "wrong" not in text_of(answer.text).lower().replace("wrong user name", "")
    assert "set-cookie" not in answer.headers
    assert sessions(engine) == []


def test_a_password_login_opens_a_session_and_goes_on_to_next(
    board: tuple[TestClient, Any],
) -> None:
    client, engine = board
    answer = client.post(
        "/login",
        data={"username": "ann", "password": PASSWORD, "next": "//evil.example/"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"  # never to another site
    assert len(sessions(engine)) == 1
    again = client.get("/login?next=/search", follow_redirects=False)
    assert (again.status_code, again.headers["location"]) == (303, "/search")


def test_repeated_failures_are_slowed_down_on_the_page(client: TestClient) -> None:
    for _ in range(20):
        answer = client.post(
            "/login",
            data={"username": "ed", "password": "nope"},
            headers={"Accept-Language": "en"},
            follow_redirects=False,
        )
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert "Too many failed attempts" in answer.text


def test_every_answer_carries_a_strict_csp_and_frame_denial(client: TestClient) -> None:
    for path in ("/login", "/healthz", "/v1/me", "/inbox", "/board-static/board.css"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["content-security-policy"] == CSP, path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["x-content-type-options"] == "nosniff", path
    assert "'unsafe-inline'" not in CSP
    assert "'unsafe-eval'" not in CSP
    assert "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP


def test_pages_hold_no_inline_script_or_style(client: TestClient) -> None:
    login(client, "ann")
    for path in ("/login", "/inbox", "/inbox?mine=true", "/no/such/page"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert " style=" not in html, path
        assert "<style" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


def test_an_unknown_page_answers_an_html_404_to_a_browser(client: TestClient) -> None:
    login(client, "ann")
    page = client.get("/no/such/page", headers={"Accept": "text/html", "Accept-Language": "en"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text
    assert 'href="/inbox"' in page.text
    stranger = client.__class__(client.app, base_url=str(client.base_url))
    logged_out = stranger.get("/no/such/page", headers={"Accept": "text/html"})
    assert 'href="/login"' in logged_out.text  # nobody's inbox to go back to
    assert 'href="/inbox"' not in logged_out.text
    api = client.get("/v1/no/such", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_a_logged_in_page_carries_the_csrf_token_for_htmx_and_forms(client: TestClient) -> None:
    token = login(client, "ann")
    html = client.get("/inbox").text
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in html
    assert f'name="csrf_token" value="{token}"' in html  # the logout form


def test_logging_out_from_the_page_ends_the_session(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    token = login(client, "ann")
    refused = client.post("/logout?next=/login", data={}, follow_redirects=False)
    assert refused.status_code == 403  # no CSRF token: nothing ends
    assert len(sessions(engine)) == 1
    answer = client.post("/logout?next=/login", data={"csrf_token": token}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_htmx_is_the_pinned_vendored_file() -> None:
    static = resources.files("opsflow.service.board") / "static"
    data = (static / HTMX).read_bytes()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    assert b'version:"2.0.11"' in data
    served = static / "VENDORED.md"
    assert HTMX_SHA256 in served.read_text(encoding="utf-8")


def test_the_catalogs_are_complete_and_compiled() -> None:
    assert catalogs.problems() == []
