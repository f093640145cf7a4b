"""`opsflow serve` as a real process, answered over real HTTP (uvicorn on TCP), real tokens.

One server per module and backend (the ``served`` fixture). Each row of :data:`EXCHANGES`
is one request and the status it must get; adding an endpoint's check is adding a row.
In a path, ``{case}`` is a case started for that row (a fresh ``review`` case in ``draft``
as ``ann``) and ``{missing}`` an id no case has. ``who`` names a token of
``served.TOKENS`` (``None``: no Authorization header; ``"bad"``: a well-formed token
that was never issued).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from served import Served, serve_project

pytestmark = pytest.mark.slow

MISSING = "0" * 32
NOT_ISSUED = "opsf_" + "A" * 43


@dataclass(frozen=True)
class Exchange:
    """One request over HTTP and the status it must answer."""

    method: str
    path: str
    status: int
    who: str | None = "ann"
    body: dict[str, Any] | bytes | None = None  # a dict is sent as JSON, bytes as they are
    headers: dict[str, str | bytes] = field(default_factory=dict)  # bytes: sent as they are

    def __str__(self) -> str:
        return f"{self.method} {self.path} as {self.who} -> {self.status}"


REVIEW = {"workflow": "review", "data": {"title": "over HTTP"}}
JSON = {"content-type": "application/json"}
EXCHANGES = [
    Exchange("GET", "/healthz", 200, who=None),
    Exchange("GET", "/readyz", 200, who=None),
    Exchange("GET", "/metrics", 200, who="ann:ro"),
    Exchange("GET", "/v1/me", 200),
    Exchange("GET", "/v1/me", 200, who="ann:ro"),
    Exchange("GET", "/v1/me", 401, who=None),
    Exchange("GET", "/v1/me", 401, who="bad"),
    Exchange("GET", "/v1/me", 401, headers={"Authorization": "Basic YW5uOmFubg=="}),
    Exchange("POST", "/v1/cases", 201, body=REVIEW),
    Exchange("POST", "/v1/cases", 403, who="ann:ro", body=REVIEW),
    Exchange("POST", "/v1/cases", 401, who=None, body=REVIEW),
    Exchange("POST", "/v1/cases", 404, body={"workflow": "nope", "data": {}}),
    Exchange("POST", "/v1/cases", 422, body={"workflow": "review", "data": {"title": 5}}),
    Exchange("POST", "/v1/cases", 422, body={"workflow": "review", "extra": 1}),
    Exchange("POST", "/v1/cases", 400, body=b'{"workflow": "review",', headers=JSON),
    Exchange("POST", "/v1/cases", 413, body=b"x" * (1024 * 1024 + 1), headers=JSON),
    Exchange("GET", "/v1/cases/{case}", 200),
    Exchange("GET", "/v1/cases/{case}", 200, who="ann:ro"),
    Exchange("GET", "/v1/cases/{missing}", 404),
    Exchange("GET", "/v1/cases/{case}", 401, who=None),
    Exchange("POST", "/v1/cases/{case}/events/submit", 200),
    Exchange("POST", "/v1/cases/{case}/events/submit", 200, body={"comment": "ready"}),
    Exchange("POST", "/v1/cases/{case}/events/submit?dry_run=true", 200, who="ann:ro"),
    Exchange("POST", "/v1/cases/{case}/events/submit", 403, who="ann:ro"),
    Exchange("POST", "/v1/cases/{case}/events/submit", 403, who="ed"),  # authors only
    Exchange("POST", "/v1/cases/{case}/events/publish", 409),  # not from draft
    Exchange("POST", "/v1/cases/{missing}/events/submit", 404),
    Exchange("POST", "/v1/cases/{case}/events/submit", 400, body=b"{nope", headers=JSON),
    Exchange("POST", "/v1/cases/{case}/events/submit", 413, body=b"x" * (1024 * 1024 + 1)),
    Exchange("GET", "/v1/nowhere", 404),
    # the reference and the document need no token
    Exchange("GET", "/v1/docs", 200, who=None),
    Exchange("GET", "/v1/openapi.json", 200, who=None),
    # workflows and diagrams
    Exchange("GET", "/v1/workflows", 200),
    Exchange("GET", "/v1/workflows", 401, who=None),
    Exchange("GET", "/v1/workflows/review", 200, who="ann:ro"),
    Exchange("GET", "/v1/workflows/nope", 404),
    Exchange("GET", "/v1/workflows/review/graph", 200),
    Exchange("GET", "/v1/workflows/review/graph?format=dot&case={case}", 200),
    Exchange("GET", "/v1/workflows/review/graph?case={missing}", 404),
    Exchange("GET", "/v1/workflows/review/graph?format=png", 422),
    # search
    Exchange("GET", "/v1/cases?workflow=review&state=draft&limit=5", 200),
    Exchange("GET", "/v1/cases?where=title%20%3D%3D%20%27%E4%B8%AD%27&q=%E4%B8%AD", 200),
    Exchange("GET", "/v1/cases?where=title.__class__", 400),
    Exchange("GET", "/v1/cases?where=nope%20%3E%201", 400),
    Exchange("GET", "/v1/cases?limit=100000", 422),
    Exchange("GET", "/v1/cases?cursor=not-a-cursor", 400),
    Exchange("GET", "/v1/cases", 401, who=None),
    # data, history, metrics
    Exchange("PATCH", "/v1/cases/{case}/data", 200, body={"title": "改过 changed"}),
    Exchange("PATCH", "/v1/cases/{case}/data", 422, body={"title": 5}),
    Exchange(
        "PATCH", "/v1/cases/{case}/data", 412, body={"title": "x"}, headers={"If-Match": '"99"'}
    ),
    Exchange("PATCH", "/v1/cases/{case}/data", 403, who="ann:ro", body={"title": "x"}),
    Exchange("PATCH", "/v1/cases/{missing}/data", 404, body={"title": "x"}),
    Exchange("GET", "/v1/cases/{case}/history", 200),
    Exchange("GET", "/v1/cases/{case}/history?after_seq=1&limit=10", 200, who="ann:ro"),
    # numbers no id or sequence column holds: nothing after them, none such, never a 500
    Exchange("GET", "/v1/cases/{case}/history?after_seq=9223372036854775808", 200),
    Exchange("POST", "/v1/cases/{case}/events/submit", 412, headers={"If-Match": b'"\xb2"'}),
    Exchange("GET", "/v1/cases/{missing}/history", 404),
    Exchange("GET", "/v1/cases/{case}/history/verify", 200, who="ann:ro"),
    Exchange("GET", "/v1/cases/{missing}/history/verify", 404),
    Exchange("POST", "/v1/cases/{case}/compute", 404, body={"metrics": ["nope"]}),
    Exchange("POST", "/v1/cases/{case}/compute", 403, who="ann:ro", body={}),
    # assignment
    Exchange("PUT", "/v1/cases/{case}/assignee", 200, body={"name": "ann"}),
    Exchange("PUT", "/v1/cases/{case}/assignee", 422, body={"name": "nobody"}),
    Exchange("PUT", "/v1/cases/{case}/assignee", 403, who="ann:ro", body={"name": "ann"}),
    Exchange("DELETE", "/v1/cases/{case}/assignee", 200),
    Exchange("POST", "/v1/cases/{case}/claim", 200),
    Exchange("POST", "/v1/cases/{case}/claim?force=true", 200),  # nobody's: nothing to force
    Exchange("POST", "/v1/cases/{missing}/claim", 404),
    # the inbox
    Exchange("GET", "/v1/inbox", 200),
    Exchange("GET", "/v1/inbox?mine=true&limit=10", 200, who="ann:ro"),
    Exchange("GET", "/v1/inbox?limit=100000", 422),
    Exchange("GET", "/v1/inbox", 401, who=None),
    # bulk
    Exchange(
        "POST",
        "/v1/bulk/events",
        200,
        body={
            "event": "submit",
            "filter": {"workflow": "review", "state": "draft"},
            "dry_run": True,
        },
    ),
    Exchange("POST", "/v1/bulk/events", 422, body={"event": "submit"}),
    Exchange(
        "POST", "/v1/bulk/events", 403, who="ann:ro", body={"event": "submit", "cases": ["x"]}
    ),
    # admins: the outbox, the audit, the metrics
    Exchange("GET", "/v1/outbox?status=failed", 200, who="pat"),
    Exchange("GET", "/v1/outbox", 403),
    Exchange("POST", "/v1/outbox/999999/retry", 404, who="pat"),
    Exchange("POST", "/v1/outbox/99999999999999999999/retry", 404, who="pat"),
    Exchange("GET", "/v1/outbox?cursor=bzk5OTk5OTk5OTk5OTk5OTk5OTk", 400, who="pat"),
    Exchange("POST", "/v1/outbox/999999/retry", 403),
    Exchange("POST", "/v1/audit/verify", 200, who="pat"),
    Exchange("POST", "/v1/audit/verify", 403),
    Exchange("GET", "/metrics", 200, who="pat"),
    Exchange("GET", "/metrics", 403),
    Exchange("GET", "/metrics", 401, who=None),
    # board logins (the session itself: test_login_over_real_http)
    Exchange(
        "POST", "/login", 200, who=None, body={"username": "ed", "password": "ed-长密码-1234-abcd"}
    ),
    Exchange("POST", "/login", 401, who=None, body={"username": "ed", "password": "wrong"}),
    Exchange(
        "POST",
        "/login",
        401,
        who=None,
        body={"username": "'; drop table users; --", "password": "x"},
    ),
    Exchange("GET", "/v1/session", 401, who=None),
]


def send(served: Served, exchange: Exchange) -> httpx.Response:
    """``exchange`` sent to ``served`` (a fresh case for ``{case}``)."""
    path = exchange.path
    if "{case}" in path:
        path = path.replace("{case}", served.start_case(data={"title": "a row's case"}))
    path = path.replace("{missing}", MISSING)
    kw: dict[str, Any] = {"headers": exchange.headers}
    if isinstance(exchange.body, bytes):
        kw["content"] = exchange.body
    elif exchange.body is not None:
        kw["json"] = exchange.body
    who = None if exchange.who == "bad" else exchange.who
    served.client(who).cookies.clear()  # no row rides on another row's login session
    if exchange.who == "bad":
        kw["headers"] = {"Authorization": f"Bearer {NOT_ISSUED}", **exchange.headers}
        return served.request(exchange.method, path, who=None, **kw)
    return served.request(exchange.method, path, who=exchange.who, **kw)


@pytest.mark.parametrize("exchange", EXCHANGES, ids=str)
def test_each_endpoint_answers_over_real_http(served: Served, exchange: Exchange) -> None:
    answer = send(served, exchange)
    assert answer.status_code == exchange.status, answer.text
    assert "server" not in answer.headers  # no software banner
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        problem = answer.json()
        assert problem["status"] == exchange.status
        assert {"type", "title", "detail", "code", "reasons"} <= problem.keys()
        assert "Traceback" not in answer.text
    if answer.status_code == 401:
        assert answer.headers.get("www-authenticate") == "Bearer"


def test_me_is_the_tokens_owner(served: Served) -> None:
    assert served.request("GET", "/v1/me").json()["name"] == "ann"
    assert served.request("GET", "/v1/me", who="ann:ro").json()["read_only"] is True
    assert served.request("GET", "/v1/me", who="ed").json()["roles"] == ["editor"]


def test_start_get_and_fire_over_http(served: Served) -> None:
    started = served.request("POST", "/v1/cases", json=REVIEW)
    assert started.status_code == 201, started.text
    case_id = started.json()["id"]
    assert started.headers["location"] == f"/v1/cases/{case_id}"
    read = served.request("GET", f"/v1/cases/{case_id}")
    assert (read.json()["state"], read.json()["data"]["title"]) == ("draft", "over HTTP")
    etag = read.headers["etag"]
    dry = served.request("POST", f"/v1/cases/{case_id}/events/submit?dry_run=true")
    assert dry.status_code == 200, dry.text
    assert served.request("GET", f"/v1/cases/{case_id}").headers["etag"] == etag  # unchanged
    fired = served.request(
        "POST", f"/v1/cases/{case_id}/events/submit", json={"comment": "please review"}
    )
    assert fired.status_code == 200, fired.text
    after = served.request("GET", f"/v1/cases/{case_id}")
    assert after.json()["state"] == "review"
    assert after.headers["etag"] != etag


def test_refusals_change_nothing(served: Served) -> None:
    case_id = served.start_case(data={"title": "kept"})
    before = served.request("GET", f"/v1/cases/{case_id}")
    for exchange in (
        Exchange("POST", f"/v1/cases/{case_id}/events/submit", 403, who="ann:ro"),
        Exchange("POST", f"/v1/cases/{case_id}/events/submit", 400, body=b"{", headers=JSON),
        Exchange("POST", f"/v1/cases/{case_id}/events/submit", 413, body=b"x" * (1 << 21)),
    ):
        assert send(served, exchange).status_code == exchange.status
    after = served.request("GET", f"/v1/cases/{case_id}")
    assert after.headers["etag"] == before.headers["etag"]
    assert json.dumps(after.json(), sort_keys=True) == json.dumps(before.json(), sort_keys=True)


def test_a_revoked_token_is_refused_at_once(served: Served) -> None:
    from opsflow.engine.identity import create_token, revoke_token
    from opsflow.facade import Engine

    engine = Engine.from_config(served.root / "opsflow.yaml", db=served.db_url)
    try:
        token, info = create_token(engine, "ann")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=served.base, headers=headers, timeout=30) as client:
            assert client.get("/v1/me").status_code == 200
            revoke_token(engine, info.prefix, by="ann")
            assert client.get("/v1/me").status_code == 401  # the next request, same connection
    finally:
        engine.close()


def test_login_over_real_http(served: Served) -> None:
    """A password login's cookie acts as its person; writes need its CSRF token; logout ends it."""
    with httpx.Client(base_url=served.base, timeout=30) as browser:
        login = browser.post("/login", json={"username": "ed", "password": "ed-长密码-1234-abcd"})
        assert login.status_code == 200, login.text
        csrf = login.json()["csrf_token"]
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "samesite=lax" in cookie.lower()
        assert browser.get("/v1/me").json()["name"] == "ed"
        case_id = served.start_case(data={"title": "a session's case"})
        before = browser.get(f"/v1/cases/{case_id}/history").json()["items"]
        refused = browser.post(f"/v1/cases/{case_id}/events/cancel")
        assert refused.status_code == 403, refused.text  # no CSRF token
        assert browser.get(f"/v1/cases/{case_id}/history").json()["items"] == before
        fired = browser.post(f"/v1/cases/{case_id}/events/cancel", headers={"X-CSRF-Token": csrf})
        assert fired.status_code == 200, fired.text
        assert fired.json()["case"]["state"] == "rejected"
        out = browser.post("/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code in (200, 204, 303), out.text
        browser.cookies.set("opsflow_session", cookie.split(";")[0].split("=", 1)[1])
        assert browser.get("/v1/me").status_code == 401  # the old cookie is dead


def test_the_access_log_has_a_line_per_request_by_default(served: Served) -> None:
    assert served.request("GET", "/v1/me?from=access-log-test").status_code == 200
    assert '"GET /v1/me?from=access-log-test HTTP/1.1" 200' in served.log()


def test_no_access_log_serves_without_a_line_per_request(db_url: str, tmp_path: Path) -> None:
    quiet = serve_project(db_url, tmp_path, options=("--no-access-log",))
    try:
        assert quiet.request("GET", "/v1/me").json()["name"] == "ann"
        case_id = quiet.start_case(data={"title": "quiet"})
        assert quiet.request("GET", f"/v1/cases/{case_id}").status_code == 200
    finally:
        quiet.stop()
    log = quiet.log_path.read_text(encoding="utf-8")
    assert "Application startup complete" in log  # the server's own messages stay
    assert "HTTP/1.1" not in log
    assert "/v1/" not in log
