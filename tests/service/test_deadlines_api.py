"""The HTTP API on SLAs that depend on the data: a PATCH of the field moves the deadline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fakes import fake_identity
from fastapi.testclient import TestClient

from opsflow.service import create_app
from opsflow.service.auth import identity

INCIDENT = (Path(__file__).parents[1] / "fixtures" / "engine" / "incident.yaml").read_text(
    encoding="utf-8"
)


def test_the_api_recomputes_the_sla_when_the_data_changes(
    make_engine: Callable[..., Any], clock: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "api_workflows"
    folder.mkdir()
    (folder / "incident.yaml").write_text(INCIDENT, encoding="utf-8")
    app = create_app(make_engine(workflows=folder))
    app.dependency_overrides[identity] = fake_identity
    ed = {"Authorization": "Bearer ed"}
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.post(
            "/v1/cases", json={"workflow": "incident", "data": {"severity": "sev2"}}, headers=ed
        )
        assert answer.status_code == 201, answer.text
        case = answer.json()
        assert [d["due_at"] for d in case["deadlines"]] == [
            (clock.now + timedelta(hours=4)).isoformat()
        ]
        patched = client.patch(
            f"/v1/cases/{case['id']}/data", json={"severity": "sev1"}, headers=ed
        )
        assert patched.status_code == 200, patched.text
        assert [d["due_at"] for d in patched.json()["deadlines"]] == [
            (clock.now + timedelta(minutes=30)).isoformat()
        ]
        bad = client.patch(f"/v1/cases/{case['id']}/data", json={"severity": "sev9"}, headers=ed)
        assert bad.status_code == 422
        again = client.get(f"/v1/cases/{case['id']}", headers=ed).json()
        assert again["data"]["severity"] == "sev1"
        assert [d["due_at"] for d in again["deadlines"]] == [
            (clock.now + timedelta(minutes=30)).isoformat()
        ]
