"""The fast path (``service/fast.py``) answers exactly as the FastAPI routes do.

Every request of the tables is sent to two applications on the same engine: one with the
fast path, one without (``create_app(engine, fast_path=False)``). A request that writes
runs on a fresh case of its own for each application, created the same way on the fake
clock, so the answers are equal once the case's id (and the run's Idempotency-Key) are
replaced by placeholders. Real API tokens: the fast path does the real token check.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.engine.identity import create_token, revoke_token
from opsflow.errors import Busy, RateLimited
from opsflow.service import create_app

FIXTURES = Path(__file__).parent.parent / "fixtures"
HEADERS = ("content-type", "etag", "location", "retry-after", "www-authenticate")


@dataclass
class Apps:
    engine: Any
    fast: TestClient
    slow: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def handled(self, client: TestClient) -> int:
        app: Any = client.app
        count: int = app.state.fast_path.handled
        return count


@pytest.fixture
def apps(make_engine: Callable[..., Any], workflows_dir: Path) -> Iterator[Apps]:
    shutil.copy(FIXTURES / "access" / "hr.yaml", workflows_dir / "hr.yaml")
    engine = make_engine()
    fast_app, slow_app = create_app(engine), create_app(engine, fast_path=False)
    with (
        TestClient(fast_app, raise_server_exceptions=False) as fast,
        TestClient(slow_app, raise_server_exceptions=False) as slow,
    ):
        found = Apps(engine, fast, slow)
        for name in ("ann", "ed", "eve"):
            found.tokens[name] = create_token(engine, name, by=name)[0]
        found.tokens["ed:ro"] = create_token(engine, "ed", read_only=True, by="ed")[0]
        revoked, info = create_token(engine, "ann", by="ann")
        revoke_token(engine, info.prefix, by="ann")
        found.tokens["revoked"] = revoked
        yield found


def auth(apps: Apps, who: str | None) -> dict[str, str]:
    if who is None:
        return {}
    if who == "bad":
        return {"Authorization": "Bearer opsf_" + "A" * 43}
    return {"Authorization": f"Bearer {apps.tokens[who]}"}


@dataclass(frozen=True)
class Call:
    """One request: method, path (``{case}`` and ``{key}`` filled in per run), who sends it,
    its body (a JSON value, or raw bytes), extra headers, and whether the fast path takes it."""

    method: str
    path: str
    who: str | None = "ann"
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    hot: bool = True


def send(apps: Apps, client: TestClient, call: Call, case_id: str, key: str) -> Any:
    headers = auth(apps, call.who) | {
        name: value.replace("{key}", key) for name, value in call.headers
    }
    content: bytes | None = None
    if isinstance(call.body, bytes):
        content = call.body
        headers.setdefault("Content-Type", "application/json")
    elif call.body is not None:
        content = json.dumps(call.body).encode()
        headers["Content-Type"] = "application/json"
    path = call.path.replace("{case}", case_id)
    before = apps.handled(client)
    answer = client.request(call.method, path, content=content, headers=headers)
    took = apps.handled(client) - before
    return answer, took


def comparable(answer: Any, case_id: str, key: str) -> tuple[int, dict[str, str], Any]:
    text = answer.text.replace(case_id, "CASE").replace(key, "KEY")
    headers = {
        h: answer.headers[h].replace(case_id, "CASE") for h in HEADERS if h in answer.headers
    }
    return answer.status_code, headers, _without_serials(json.loads(text) if text else None)


SERIALS = frozenset({"id", "hash", "prev_hash", "entry_hash"})  # database-wide sequences


def _without_serials(value: Any) -> Any:
    """``value`` with the numbers of database-wide sequences (a deadline's id, a history
    entry's hash, which chains the case id) replaced: each run's case has its own."""
    if isinstance(value, dict):
        return {
            k: "SERIAL" if k in SERIALS and v != "CASE" else _without_serials(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_serials(v) for v in value]
    return value


def both(apps: Apps, calls: list[Call], make_case: Callable[[], str] | None) -> None:
    """Run ``calls`` on each application (a fresh case each) and compare every answer."""
    seen: dict[str, list[Any]] = {}
    for name, client in (("fast", apps.fast), ("slow", apps.slow)):
        case_id = make_case() if make_case else "none"
        key = f"key-{name}-run"
        answers = []
        for call in calls:
            answer, took = send(apps, client, call, case_id, key)
            assert took == (1 if call.hot and name == "fast" else 0), (name, call)
            answers.append(comparable(answer, case_id, key))
        history = apps.slow.get(f"/v1/cases/{case_id}/history", headers=auth(apps, "ann"))
        if make_case:
            answers.append(comparable(history, case_id, key))
        seen[name] = answers
    assert len(seen["fast"]) == len(seen["slow"])
    named = [*calls, Call("GET", "history")][: len(seen["fast"])]
    for call, fast, slow in zip(named, seen["fast"], seen["slow"], strict=True):
        assert fast == slow, call


def draft(apps: Apps, data: dict[str, Any] | None = None) -> Callable[[], str]:
    def make() -> str:
        case = apps.engine.start("review", data=data or {"title": "审核 x"}, actor="ann")
        return str(case.id)

    return make


FIRE = "/v1/cases/{case}/events/submit"

WRITES: dict[str, list[Call]] = {
    "success": [Call("POST", FIRE)],
    "with a body": [Call("POST", FIRE, body={"data": {"score": 5}, "comment": "好 ' OR 1=1 --"})],
    "dry run by a read-only token": [Call("POST", FIRE + "?dry_run=true", who="ed:ro")],
    "idempotency key: first, repeat, other body": [
        Call("POST", FIRE, headers=(("Idempotency-Key", "{key}"),)),
        Call("POST", FIRE, headers=(("Idempotency-Key", "{key}"),)),
        Call("POST", FIRE, body={"data": {"score": 9}}, headers=(("Idempotency-Key", "{key}"),)),
    ],
    "if-match ok": [Call("POST", FIRE, headers=(("If-Match", '"1"'),))],
    "if-match stale": [Call("POST", FIRE, headers=(("If-Match", '"7"'),))],
    "if-match garbage": [Call("POST", FIRE, headers=(("If-Match", "W/nope"),))],
    "no token": [Call("POST", FIRE, who=None, hot=False)],
    "bad token": [Call("POST", FIRE, who="bad")],
    "revoked token": [Call("POST", FIRE, who="revoked")],
    "read-only token writing": [Call("POST", FIRE, who="ed:ro")],
    "unknown case": [Call("POST", "/v1/cases/no-such-case/events/submit")],
    "refused (role) and its denied entry": [Call("POST", FIRE, who="ed")],
    "unknown event": [Call("POST", "/v1/cases/{case}/events/fly")],
    "invalid data (engine)": [Call("POST", FIRE, body={"data": {"score": 500}})],
    "invalid body shape (FastAPI)": [Call("POST", FIRE, body={"nope": 1}, hot=False)],
    "malformed JSON": [Call("POST", FIRE, body=b'{"data": ', hot=False)],
    "a JSON null body": [Call("POST", FIRE, body=b"null")],
    "another content type": [
        Call("POST", FIRE, body=b"{}", headers=(("Content-Type", "text/plain"),), hot=False)
    ],
    "an unknown query parameter": [Call("POST", FIRE + "?dryrun=1", hot=False)],
    "an invalid dry_run": [Call("POST", FIRE + "?dry_run=maybe", hot=False)],
    "an empty idempotency key": [Call("POST", FIRE, headers=(("Idempotency-Key", ""),), hot=False)],
    "a cookie": [
        Call("POST", FIRE, headers=(("Cookie", "opsflow_session=zzz"),), hot=False),
    ],
    "another scheme": [
        Call("POST", FIRE, who=None, headers=(("Authorization", "Basic eA=="),), hot=False)
    ],
    "read the case": [
        Call("GET", "/v1/cases/{case}"),
        Call("POST", FIRE),
        Call("GET", "/v1/cases/{case}"),
    ],
    "read as someone else": [Call("GET", "/v1/cases/{case}", who="eve")],
    "read with a query": [Call("GET", "/v1/cases/{case}?x=1", hot=False)],
}


@pytest.mark.parametrize("name", list(WRITES))
def test_a_write_answers_as_through_fastapi(apps: Apps, name: str) -> None:
    both(apps, WRITES[name], draft(apps, {"title": "审核 x", "budget": 5}))


def test_an_unreadable_case_answers_404_on_both(apps: Apps) -> None:
    def secret() -> str:
        case = apps.engine.start("hr", data={"title": "x"}, actor="ann")
        apps.engine.fire(case.id, "submit", actor="ann")
        return str(case.id)

    calls = [
        Call("GET", "/v1/cases/{case}", who="ed"),
        Call("POST", "/v1/cases/{case}/events/approve", who="ed"),
        Call("POST", "/v1/cases/{case}/events/approve?dry_run=true", who="ed"),
    ]
    both(apps, calls, secret)
    answer, _ = send(apps, apps.fast, calls[0], secret(), "k")
    assert answer.status_code == 404


READS: dict[str, list[Call]] = {
    "me": [Call("GET", "/v1/me"), Call("GET", "/v1/me", who="ed:ro")],
    "me without a token": [Call("GET", "/v1/me", who=None, hot=False)],
    "search": [
        Call("GET", "/v1/cases"),
        Call("GET", "/v1/cases?workflow=review&state=draft&state=review&limit=2"),
        Call("GET", "/v1/cases?where=budget%20%3E%3D%203&sort=id"),
        Call("GET", "/v1/cases?q=%E5%AE%A1%E6%A0%B8"),
        Call("GET", "/v1/cases?q=%27%3B%20drop%20table%20cases%3B%20--%25_"),
        Call("GET", "/v1/cases?where=title%20%3D%3D%20%27a%27%27%27%20or%201"),
        Call("GET", "/v1/cases?where=nonsense%20%3E%3E"),
        Call("GET", "/v1/cases?cursor=not-a-cursor"),
        Call("GET", "/v1/cases?sort=size"),
        Call("GET", "/v1/cases?open=true&created_after=2026-01-01T00:00:00Z"),
        Call("GET", "/v1/cases?who=me", hot=False),
        Call("GET", "/v1/cases?limit=0", hot=False),
        Call("GET", "/v1/cases?limit=500", hot=False),
        Call("GET", "/v1/cases?limit=2&limit=3", hot=False),
        Call("GET", "/v1/cases", who="bad"),
        Call("GET", "/v1/cases", who="revoked"),
    ],
}


@pytest.mark.parametrize("name", list(READS))
def test_a_read_answers_as_through_fastapi(apps: Apps, name: str) -> None:
    for i in range(4):
        apps.engine.start("review", data={"title": f"审核 {i}", "budget": i}, actor="ann")
    both(apps, READS[name], None)


def test_search_pages_follow_the_same_cursor(apps: Apps) -> None:
    for i in range(5):
        apps.engine.start("review", data={"title": f"t{i}"}, actor="ann")
    pages = []
    for client in (apps.fast, apps.slow):
        first = client.get("/v1/cases?limit=2", headers=auth(apps, "ann")).json()
        cursor = first["next_cursor"]
        second = client.get(f"/v1/cases?limit=2&cursor={cursor}", headers=auth(apps, "ann"))
        pages.append((first, second.json()))
    assert pages[0] == pages[1]
    assert apps.handled(apps.fast) == 2
    assert apps.handled(apps.slow) == 0


def test_the_metrics_count_fast_requests_under_their_route(apps: Apps) -> None:
    case = apps.engine.start("review", data={"title": "x"}, actor="ann")
    assert apps.fast.post(f"/v1/cases/{case.id}/events/submit", headers=auth(apps, "ann"))
    assert apps.handled(apps.fast) == 1
    app: Any = apps.fast.app
    lines = [line for line in _exposition(app.state.metrics.registry) if "requests_total" in line]
    route = 'route="/v1/cases/{case_id}/events/{event}"'
    assert [line for line in lines if route in line and 'status="200"' in line]
    assert not [line for line in lines if str(case.id) in line]


def _exposition(registry: Any) -> list[str]:
    from prometheus_client import generate_latest

    return generate_latest(registry).decode().splitlines()


def test_the_body_limit_holds_before_the_fast_path(apps: Apps) -> None:
    case = apps.engine.start("review", data={"title": "x"}, actor="ann")
    huge = b'{"data": {"title": "' + b"x" * (1024 * 1024) + b'"}}'
    answer = apps.fast.post(
        f"/v1/cases/{case.id}/events/submit",
        content=huge,
        headers=auth(apps, "ann") | {"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert apps.handled(apps.fast) == 0
    assert apps.engine.status(case.id).state == "draft"


@pytest.mark.parametrize(
    "error",
    [
        Busy("the database is busy"),
        RateLimited("too many", retry_after=7),
        RuntimeError("a bug: /secret/path"),
    ],
    ids=["busy-503", "rate-limited-429", "unexpected-500"],
)
def test_an_engine_error_answers_as_through_fastapi(
    apps: Apps, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(apps.engine, "fire", failing)
    both(apps, [Call("POST", FIRE)], draft(apps))
    case = apps.engine.start("review", data={"title": "x"}, actor="ann")
    answer = apps.fast.post(f"/v1/cases/{case.id}/events/submit", headers=auth(apps, "ann"))
    assert "secret" not in answer.text
    assert answer.headers["content-type"] == "application/problem+json"


def test_no_other_route_has_a_path_the_fast_path_takes(apps: Apps) -> None:
    """A route added later at, say, ``GET /v1/cases/export`` would be shadowed by the fast
    path's ``GET /v1/cases/{id}``: this fails first."""
    hot = {
        ("get", "/v1/me"),
        ("get", "/v1/cases"),
        ("get", "/v1/cases/{case_id}"),
        ("post", "/v1/cases/{case_id}/events/{event}"),
    }
    app: Any = apps.slow.app
    taken = []
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            fire = method == "post" and re.fullmatch(r"/v1/cases/[^/]+/events/[^/]+", path)
            read = method == "get" and (
                path in ("/v1/me", "/v1/cases") or re.fullmatch(r"/v1/cases/[^/]+", path)
            )
            if fire or read:
                taken.append((method, path))
    assert set(taken) == hot
    assert len(taken) == len(hot)
