"""``/admin/tokens``: my own API tokens, anyone's for admins; a new token shown once only."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from adminkit import ADMIN, admin_board
from boardkit import counted_queries, login, text_of
from fastapi.testclient import TestClient

from opsflow.engine.identity import TOKEN_PATTERN, create_token, list_tokens

EN = {"Accept-Language": "en"}
PREFIX_SHOWN = 12  # what the pages show of a token
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def board(make_engine: Any) -> Iterator[tuple[TestClient, Any]]:
    yield from admin_board(make_engine)


def created_token(html: str) -> str:
    """The token on a creation answer (the read-only field that holds it)."""
    found = re.search(r'id="new-token"[^>]*value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_new_token_is_shown_once_then_only_by_its_prefix(
    board: tuple[TestClient, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client, engine = board
    csrf = login(client, "ann")
    caplog.set_level(logging.DEBUG)
    answer = client.post("/admin/tokens", data={"csrf_token": csrf, "expires": "30d"}, headers=EN)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    token = created_token(answer.text)
    assert TOKEN_PATTERN.fullmatch(token)
    assert "shown only this once" in text_of(answer.text)
    [info] = list_tokens(engine, "ann")
    assert token.startswith(info.prefix)
    assert (info.owner, info.read_only, info.created_by) == ("ann", False, "ann")
    assert info.expires_at == engine.clock() + timedelta(days=30)
    assert client.get("/v1/me", headers=bearer(token)).json()["name"] == "ann"
    later = [client.get("/admin/tokens", headers=EN), client.get("/admin/tokens", headers=ZH)]
    later += [client.get(path) for path in ("/inbox", "/admin", "/admin/tokens?owner=ann")]
    for page in later:
        assert token not in page.text
        assert token[PREFIX_SHOWN:] not in page.text  # not even its secret part
    listing = later[0].text
    assert f"<code>{info.prefix}…</code>" in listing
    assert "read and write" in text_of(listing)
    assert token not in caplog.text


def test_revoking_a_token_ends_it(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    csrf = login(client, "ann")
    token = created_token(client.post("/admin/tokens", data={"csrf_token": csrf}).text)
    prefix = token[:PREFIX_SHOWN]
    assert client.get("/v1/me", headers=bearer(token)).status_code == 200
    listing = client.get("/admin/tokens", headers=EN).text
    assert f'action="/admin/tokens/{prefix}/revoke"' in listing
    done = client.post(
        f"/admin/tokens/{prefix}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/admin/tokens?revoked={prefix}")
    assert client.get("/v1/me", headers=bearer(token)).status_code == 401
    after = client.get(done.headers["location"], headers=EN).text
    assert f"Token {prefix} revoked" in text_of(after)
    assert f'action="/admin/tokens/{prefix}/revoke"' not in after  # no button on a revoked one
    assert "revoked" in text_of(after)
    again = client.post(f"/admin/tokens/{prefix}/revoke", data={"csrf_token": csrf}, headers=EN)
    assert again.status_code == 409
    assert [t.status for t in list_tokens(engine, "ann")] == ["revoked"]
    forged = client.get("/admin/tokens?revoked=Call+0800+to+restore+it", headers=EN)
    assert forged.status_code == 422  # the notice names a prefix, never other text
    assert "0800" not in text_of(forged.text)


def test_a_person_sees_and_manages_only_their_own_tokens(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    _text, theirs = create_token(engine, "ed", by="ed")
    csrf = login(client, "ann")
    page = client.get("/admin/tokens?owner=ed", headers=EN)
    assert page.status_code == 200  # the tokens page is everyone's: their own tokens
    assert theirs.prefix not in page.text
    assert "My API tokens" in text_of(page.text)
    assert 'name="owner" value="ann"' in page.text  # no choice of owner
    assert 'aria-label="Admin pages"' not in page.text
    for_ed = client.post("/admin/tokens", data={"csrf_token": csrf, "owner": "ed"}, headers=EN)
    assert for_ed.status_code == 403
    assert not TOKEN_PATTERN.search(for_ed.text)
    revoke = client.post(f"/admin/tokens/{theirs.prefix}/revoke", data={"csrf_token": csrf})
    assert revoke.status_code == 403
    assert [t.prefix for t in list_tokens(engine)] == [theirs.prefix]
    assert [t.status for t in list_tokens(engine)] == ["active"]


def test_an_admin_manages_anyones_tokens(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    _text, anns = create_token(engine, "ann", by="ann")
    csrf = login(client, ADMIN)
    page = client.get("/admin/tokens", headers=EN).text
    assert anns.prefix in page
    assert '<select id="token-owner" name="owner">' in page
    answer = client.post(
        "/admin/tokens",
        data={"csrf_token": csrf, "owner": "ed", "read_only": "on", "expires": "never"},
        headers=EN,
    )
    token = created_token(answer.text)
    [eds] = list_tokens(engine, "ed")
    assert (eds.read_only, eds.expires_at, eds.created_by) == (True, None, ADMIN)
    assert "read-only" in text_of(answer.text)
    write = client.post("/v1/cases", json={"workflow": "review", "data": {"title": "x"}},
                        headers=bearer(token))  # fmt: skip
    assert write.status_code == 403  # read-only
    only_ed = client.get("/admin/tokens?owner=ed", headers=EN).text
    assert eds.prefix in only_ed
    assert anns.prefix not in only_ed
    done = client.post(f"/admin/tokens/{anns.prefix}/revoke", data={"csrf_token": csrf})
    assert done.status_code == 200  # after the redirect: the list
    assert [t.status for t in list_tokens(engine, "ann")] == ["revoked"]
    stranger = client.post("/admin/tokens", data={"csrf_token": csrf, "owner": "mallory"})
    assert stranger.status_code == 403
    odd = client.post("/admin/tokens", data={"csrf_token": csrf, "expires": "forever"})
    assert odd.status_code == 400
    assert len(list_tokens(engine)) == 2


def test_a_token_post_without_the_csrf_token_does_nothing(board: tuple[TestClient, Any]) -> None:
    client, engine = board
    _text, mine = create_token(engine, "ann", by="ann")
    login(client, "ann")
    created = client.post("/admin/tokens", data={"expires": "30d"}, headers=EN)
    assert created.status_code == 403
    assert "CSRF" in created.text
    assert not TOKEN_PATTERN.search(created.text)
    revoked = client.post(f"/admin/tokens/{mine.prefix}/revoke", data={"csrf_token": "forged"})
    assert revoked.status_code == 403
    assert [t.status for t in list_tokens(engine)] == ["active"]


def test_the_tokens_pages_speak_chinese(board: tuple[TestClient, Any]) -> None:
    client, _engine = board
    csrf = login(client, "ann")
    empty = text_of(client.get("/admin/tokens", headers=ZH).text)
    assert "我的 API 令牌" in empty
    assert "还没有令牌。" in empty
    assert "创建令牌" in empty
    answer = text_of(client.post("/admin/tokens", data={"csrf_token": csrf}, headers=ZH).text)
    assert "请立即复制这个令牌：它只显示这一次。" in answer
    listing = text_of(client.get("/admin/tokens", headers=ZH).text)
    assert "有效" in listing
    assert "读写" in listing


@pytest.mark.parametrize("tokens", [2, 12])
def test_the_token_list_runs_the_same_queries_whatever_the_tokens(
    board: tuple[TestClient, Any], tokens: int
) -> None:
    client, engine = board
    for n in range(tokens):
        create_token(engine, ("ann", "ed")[n % 2], by=ADMIN)
    login(client, ADMIN)
    client.get("/admin/tokens")
    with counted_queries(engine) as statements:
        page = client.get("/admin/tokens")
    assert page.status_code == 200
    assert page.text.count("/revoke") == tokens
    assert len(statements) <= 4, statements
