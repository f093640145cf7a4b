"""The OpenAPI document kept in the repository, and the browsable reference page."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from opsflow.service import openapi_file as openapi

KEPT = Path(__file__).parents[2] / "docs" / "openapi.json"


def test_the_kept_document_is_the_apps() -> None:
    assert KEPT.read_text(encoding="utf-8") == openapi.dumps(openapi.document()), (
        "docs/openapi.json is stale:"
        " run python -m opsflow.service.openapi_file --write docs/openapi.json"
    )


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert openapi.main(["--check", str(stale)]) == 1
    assert openapi.main(["--write", str(stale)]) == 0
    assert openapi.main(["--check", str(stale)]) == 0


def test_the_document_is_openapi_3_1_with_problems_and_security() -> None:
    doc = openapi.document()
    assert doc["openapi"] == "3.1.0"
    assert "Problem" in doc["components"]["schemas"]
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert set(doc["components"]["securitySchemes"]) == {"token", "session"}
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if path.startswith("/v1/")
    ]
    assert len(operations) >= 4
    for path, method, op in operations:
        assert op["security"] == [{"token": []}, {"session": []}], (path, method)
        for status in ("401", "403", "404", "422", "503"):
            content = op["responses"][status]["content"]
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }, (path, method, status)


def test_the_reference_page_needs_nothing_from_the_internet(client: TestClient) -> None:
    answer = client.get("/v1/docs")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-security-policy"] == "default-src 'none'; style-src 'self'"
    assert answer.headers["x-frame-options"] == "DENY"
    page = answer.text
    assert "<script" not in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//""", page)
    for path in openapi.document()["paths"]:
        assert f"<code>{path}</code>" in page
    css = client.get("/static/reference.css")
    assert css.status_code == 200
    assert "font-family" in css.text


def test_the_served_document_is_the_kept_one(client: TestClient) -> None:
    served = client.get("/v1/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(KEPT.read_text(encoding="utf-8"))


def test_docstring_code_becomes_code_and_html_is_escaped() -> None:
    from opsflow.service.reference import inline_code

    shown = str(inline_code("201 with ``Location`` <b>"))
    assert shown == "201 with <code>Location</code> &lt;b&gt;"
    assert str(inline_code("``<script>``")) == "<code>&lt;script&gt;</code>"
