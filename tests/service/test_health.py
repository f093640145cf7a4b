"""/healthz and /readyz: no authentication, nothing revealed; /metrics for scrapers."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from opsflow.service import create_app
from opsflow.store.migrate import VERSION_TABLE


def test_healthz(client: TestClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_when_the_schema_is_current(client: TestClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready"}


def test_readyz_on_an_unknown_schema_answers_503_and_says_nothing_else(
    make_engine: Any,
) -> None:
    engine = make_engine()
    # a schema this opsflow does not know: not ready, and the answer names nothing
    engine.db.ensure_schema()
    with engine.db.write() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'")
    with TestClient(create_app(engine)) as client:
        answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["Retry-After"]
    body = answer.json()
    assert body["detail"] == "not ready"
    assert "9999" not in answer.text
    assert "alembic" not in answer.text


def test_metrics_counts_requests_by_route(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/v1/cases/abcdef123", headers={"Authorization": "Bearer ann"})
    answer = client.get("/metrics", headers={"Authorization": "Bearer scraper:ro"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert 'opsflow_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'route="/v1/cases/{case_id}",status="404"' in text
    assert "opsflow_http_request_duration_seconds_bucket" in text


def test_no_browsable_page_loads_assets_from_the_internet(client: TestClient) -> None:
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    document = client.get("/v1/openapi.json")
    assert document.status_code == 200
    assert document.json()["openapi"].startswith("3.1")
