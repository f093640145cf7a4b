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
from typing import Any

import httpx
import pytest
from served import Served

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
    headers: dict[str, str] = field(default_factory=dict)

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
    if exchange.who == "bad":
        kw["headers"] = {"Authorization": f"Bearer {NOT_ISSUED}", **exchange.headers}
        return served.request(exchange.method, path, who=None, **kw)
    return served.request(exchange.method, path, who=exchange.who, **kw)


@pytest.mark.parametrize("exchange", EXCHANGES, ids=str)
def test_each_endpoint_answers_over_real_http(served: Served, exchange: Exchange) -> None:
    answer = send(served, exchange)
    assert answer.status_code == exchange.status, answer.text
    assert "server" not in answer.headers  # no software banner
    if answer.status_code >= 400 and exchange.path not in ("/metrics",):
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
