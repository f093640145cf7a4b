"""Admin endpoints (/v1/outbox, /v1/audit/verify) and /metrics, on each backend."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fakes import fake_identity
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from opsflow.service import create_app
from opsflow.service.auth import identity
from opsflow.store import tables


@pytest.fixture
def api(make_engine: Callable[..., Any]) -> Iterator[tuple[TestClient, Any]]:
    engine = make_engine()
    engine.settings.admins = ["dir"]
    app = create_app(engine)
    app.dependency_overrides[identity] = fake_identity
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, engine


def as_(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}"}


def _notify(engine: Any, count: int) -> list[int]:
    """``count`` cases in review, each with one pending notification; their outbox ids."""
    for n in range(count):
        case = engine.start("review", {"title": f"t{n}"}, actor="ann")
        engine.fire(case.id, "submit", actor="ann")
    with engine.db.read() as conn:
        return list(conn.execute(select(tables.outbox.c.id).order_by(tables.outbox.c.id)).scalars())


def _fail(engine: Any, ids: list[int]) -> None:
    with engine.db.write() as conn:
        conn.execute(
            update(tables.outbox)
            .where(tables.outbox.c.id.in_(ids))
            .values(status="failed", attempts=9, last_error="HTTP 500", next_attempt_at=None)
        )


def test_outbox_pages_by_status_newest_first(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    ids = _notify(engine, 5)
    _fail(engine, ids[:3])
    first = client.get("/v1/outbox?status=failed&limit=2", headers=as_("dir"))
    assert first.status_code == 200, first.text
    page = first.json()
    assert [n["id"] for n in page["items"]] == [ids[2], ids[1]]
    assert all(n["status"] == "failed" for n in page["items"])
    rest = client.get(
        "/v1/outbox", params={"status": "failed", "limit": 2, "cursor": page["next_cursor"]},
        headers=as_("dir"),
    ).json()  # fmt: skip
    assert [n["id"] for n in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None
    pending = client.get("/v1/outbox?status=pending", headers=as_("dir")).json()
    assert [n["id"] for n in pending["items"]] == [ids[4], ids[3]]
    everything = client.get("/v1/outbox", headers=as_("dir")).json()
    assert len(everything["items"]) == 5


def test_bad_outbox_queries_are_refused(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    assert client.get("/v1/outbox?status=lost", headers=as_("dir")).status_code == 422
    assert client.get("/v1/outbox?limit=201", headers=as_("dir")).status_code == 422
    for digits in ("9" * 19, "2147483648", "²"):  # past an id column, or not ASCII digits
        cursor = base64.urlsafe_b64encode(f"o{digits}".encode()).decode().rstrip("=")
        far = client.get("/v1/outbox", params={"cursor": cursor}, headers=as_("dir"))
        assert far.status_code == 400, far.text
    bad = client.get("/v1/outbox?cursor=nonsense", headers=as_("dir"))
    assert bad.status_code == 400
    assert bad.json()["detail"] == "this outbox cursor is not one this API gave"


def test_retry_queues_a_failed_notification_again(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    [nid] = _notify(engine, 1)
    _fail(engine, [nid])
    assert client.post(f"/v1/outbox/{nid}/retry", headers=as_("dir:ro")).status_code == 403
    retried = client.post(f"/v1/outbox/{nid}/retry", headers=as_("dir"))
    assert retried.status_code == 200, retried.text
    assert (retried.json()["status"], retried.json()["attempts"]) == ("pending", 0)
    again = client.post(f"/v1/outbox/{nid}/retry", headers=as_("dir"))
    assert again.status_code == 409
    assert client.post("/v1/outbox/999999/retry", headers=as_("dir")).status_code == 404
    for beyond in (2**31, 2**63, 10**20):  # past what an id column holds: none such, not 500
        far = client.post(f"/v1/outbox/{beyond}/retry", headers=as_("dir"))
        assert far.status_code == 404, far.text


def test_audit_verify_answers_the_cli_shape(api: tuple[TestClient, Any]) -> None:
    client, engine = api
    _notify(engine, 2)
    answer = client.post("/v1/audit/verify", headers=as_("dir"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "cases_checked": 2, "problems": []}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/outbox"), ("POST", "/v1/outbox/1/retry"), ("POST", "/v1/audit/verify")],
)
def test_admin_endpoints_are_for_admins(
    api: tuple[TestClient, Any], method: str, path: str
) -> None:
    client, engine = api
    [nid] = _notify(engine, 1)
    _fail(engine, [nid])
    before = client.get("/v1/outbox", headers=as_("dir")).json()
    refused = client.request(method, path, headers=as_("ed"))
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "not_permitted"
    assert refused.json()["detail"].startswith("only admins may ")
    assert client.request(method, path).status_code == 401
    assert client.get("/v1/outbox", headers=as_("dir")).json() == before  # nothing changed


def test_metrics_needs_an_admin_or_a_read_only_token(api: tuple[TestClient, Any]) -> None:
    client, _engine = api
    assert client.get("/metrics").status_code == 401
    refused = client.get("/metrics", headers=as_("ed"))
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_permitted"
    assert client.get("/metrics", headers=as_("ed:ro")).status_code == 200
    assert client.get("/metrics", headers=as_("dir")).status_code == 200


def _value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def test_metrics_show_the_backlog(api: tuple[TestClient, Any], clock: Any) -> None:
    client, engine = api
    ids = _notify(engine, 3)  # 3 notifications, 3 SLAs due in 2 days
    _fail(engine, ids[:1])
    refused = client.post(f"/v1/cases/{engine.cases()[0].id}/events/publish", headers=as_("ed"))
    assert refused.status_code in (403, 409)
    with engine.db.write() as conn:
        conn.execute(
            insert(tables.incidents).values(
                kind="timer", target="publish", workflow="review", actor="system", detail={},
                error="boom", attempts=3, status="open", created_at=clock(), updated_at=clock(),
            )
        )  # fmt: skip
    clock.advance(days=3)  # the SLAs are a day overdue; the pending notifications 3 days old
    text = client.get("/metrics", headers=as_("ed:ro")).text
    assert _value(text, 'opsflow_outbox_notifications{status="pending"}') == 2
    assert _value(text, 'opsflow_outbox_notifications{status="failed"}') == 1
    assert _value(text, "opsflow_outbox_oldest_pending_seconds") == 3 * 86400
    assert _value(text, "opsflow_deadlines_overdue") == 3
    assert _value(text, "opsflow_worker_lag_seconds") == 86400
    assert _value(text, "opsflow_incidents_open") == 1
    assert _value(text, 'opsflow_steps_total{outcome="started"}') >= 3
    assert _value(text, 'opsflow_steps_total{outcome="transitioned"}') >= 3
    assert "opsflow_refusals_total{code=" in text
    assert "opsflow_http_request_duration_seconds_bucket" in text
