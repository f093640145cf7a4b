"""/v1/me and /v1/cases: the CLI's JSON shapes, as the authenticated actor; ETag and
If-Match, Idempotency-Key, data changes, history pages, compute and assignment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from opsflow.engine.unit import UnitOfWork


def as_(name: str) -> dict[str, str]:
    """Headers authenticating as ``name`` (``NAME:ro``: a read-only token)."""
    return {"Authorization": f"Bearer {name}"}


def start(client: TestClient, title: str = "Spring sale", who: str = "ann") -> dict[str, Any]:
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": title}}, headers=as_(who)
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def snapshot(engine: Any, case_id: str) -> tuple[dict[str, Any], int, list[dict[str, Any]]]:
    """The case as stored, its row version and its whole history: "nothing changed" checks."""
    case = engine.get(case_id)
    return case.to_json(), case.row_version, [e.to_json() for e in engine.history(case_id)]


def etag_of(client: TestClient, case_id: str, who: str = "ann") -> str:
    return client.get(f"/v1/cases/{case_id}", headers=as_(who)).headers["ETag"]


def problem_of(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    assert body["code"] == code
    assert set(body) == {"type", "title", "status", "detail", "code", "reasons"}
    return body


# -- reading, starting, firing -------------------------------------------------------------


def test_me_is_the_authenticated_actor(client: TestClient) -> None:
    answer = client.get("/v1/me", headers=as_("both"))
    assert answer.status_code == 200
    assert answer.json() == {
        "name": "both",
        "roles": ["author", "editor"],
        "admin": False,
        "display_name": None,
        "email": None,
        "locale": "zh-CN",  # the server's default: the team entry names none
        "read_only": False,
    }


def test_start_answers_201_with_location_and_etag(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    answer = client.post(
        "/v1/cases", json={"workflow": "review", "data": {"title": "Hi"}}, headers=as_("ann")
    )
    assert answer.status_code == 201
    case = answer.json()
    assert answer.headers["Location"] == f"/v1/cases/{case['id']}"
    assert answer.headers["ETag"] == '"1"'
    assert case["state"] == "draft"
    assert case["created_by"] == "ann"
    assert case["assignee"] is None
    stored = engine.get(case["id"]).to_json()
    assert case == stored | {"events": case["events"], "etag": '"1"'}


def test_start_keeps_a_comment_and_refuses_a_long_one(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    body = {"workflow": "review", "data": {"title": "Hi"}, "comment": "为春季活动 '; --"}
    answer = client.post("/v1/cases", json=body, headers=as_("ann"))
    assert answer.status_code == 201, answer.text
    (entry,) = engine.history(answer.json()["id"])
    assert (entry.kind, entry.comment) == ("start", "为春季活动 '; --")
    too_long = client.post("/v1/cases", json=body | {"comment": "x" * 2001}, headers=as_("ann"))
    problem_of(too_long, 422, "invalid")
    assert len(engine.cases()) == 1


def test_get_case_is_status_json_with_an_etag(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.get(f"/v1/cases/{case_id}", headers=as_("ann"))
    assert answer.status_code == 200
    etag = answer.headers["ETag"]
    assert etag == f'"{engine.get(case_id).row_version}"'  # the case's row version, quoted
    assert answer.json() == engine.status(case_id, actor="ann").to_json() | {"etag": etag}
    client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    assert client.get(f"/v1/cases/{case_id}", headers=as_("ann")).headers["ETag"] != etag


def test_fire_answers_fire_json_with_the_new_etag(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", json={"comment": "ready"}, headers=as_("ann")
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"case", "outcome"}
    assert body["outcome"] == "transitioned"
    assert body["case"]["state"] == "review"
    assert answer.headers["ETag"] == f'"{engine.get(case_id).row_version}"' == '"2"'
    last = engine.history(case_id)[-1]
    assert (last.actor, last.event, last.comment) == ("ann", "submit", "ready")


def test_the_actor_cannot_be_named_by_the_request(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit",
        json={"actor": "ed"},
        headers=as_("ann") | {"X-Opsflow-Actor": "ed"},
    )
    assert answer.status_code == 422  # an unknown member of the body is refused
    assert engine.get(case_id).state == "draft"


def test_dry_run_writes_nothing(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", params={"dry_run": "true"}, headers=as_("ann:ro")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "dry_run"
    assert snapshot(engine, case_id) == before


# -- If-Match -------------------------------------------------------------------------------


def test_a_stale_if_match_on_fire_is_412_and_writes_nothing(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    stale = etag_of(client, case_id)
    client.patch(f"/v1/cases/{case_id}/data", json={"score": 5}, headers=as_("ann"))
    before = snapshot(engine, case_id)
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", headers=as_("ann") | {"If-Match": stale}
    )
    body = problem_of(answer, 412, "precondition_failed")
    assert "version 2, not 1" in body["detail"]
    assert snapshot(engine, case_id) == before  # no transition, and no denied entry either


def test_a_stale_if_match_on_patch_is_412_and_writes_nothing(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    before = snapshot(engine, case_id)
    answer = client.patch(
        f"/v1/cases/{case_id}/data", json={"score": 7}, headers=as_("ann") | {"If-Match": '"1"'}
    )
    problem_of(answer, 412, "precondition_failed")
    assert snapshot(engine, case_id) == before


@pytest.mark.parametrize("form", ['"{v}"', 'W/"{v}"', "*"])
def test_a_current_if_match_is_accepted_in_each_form(
    service: tuple[TestClient, Any], form: str
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    version = engine.get(case_id).row_version
    header = {"If-Match": form.format(v=version)}
    answer = client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann") | header)
    assert answer.status_code == 200, answer.text
    assert engine.get(case_id).state == "review"


@pytest.mark.parametrize(
    "tag",
    ['"abc"', "3", '"-1"', '"99999999999999999999999"', 'W/""', '"²"', 'W/"³¹"'],
)
def test_an_if_match_that_names_no_version_never_matches(
    service: tuple[TestClient, Any], tag: str
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    header = {"If-Match": tag.encode("latin-1")}  # a header's bytes are read as Latin-1
    answer = client.patch(
        f"/v1/cases/{case_id}/data", json={"score": 1}, headers=as_("ann") | header
    )
    problem_of(answer, 412, "precondition_failed")
    assert snapshot(engine, case_id) == before


@pytest.mark.parametrize("tag", ['"²"', '"³¹"', 'W/"¹"'])
def test_an_if_match_of_superscript_digits_never_matches_a_fire_or_a_claim(
    service: tuple[TestClient, Any], tag: str
) -> None:
    """Python calls ² a digit and int() refuses it: 412, never a 500."""
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    headers = as_("ann") | {"If-Match": tag.encode("latin-1")}
    fired = client.post(f"/v1/cases/{case_id}/events/submit", headers=headers)
    problem_of(fired, 412, "precondition_failed")
    claimed = client.post(f"/v1/cases/{case_id}/claim", headers=headers)
    assert claimed.status_code in (409, 412), claimed.text  # never 500
    assert snapshot(engine, case_id) == before


def test_if_match_on_a_missing_case_is_404_first(client: TestClient) -> None:
    answer = client.post(
        f"/v1/cases/{'0' * 32}/events/submit", headers=as_("ann") | {"If-Match": '"1"'}
    )
    problem_of(answer, 404, "not_found")


def test_the_version_moving_after_the_request_arrived_is_caught_in_the_transaction(
    service: tuple[TestClient, Any], make_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process changes the case after the GET and after the fire arrived, just
    before the fire's transaction: the check inside the transaction refuses it."""
    client, engine = service
    case_id = start(client)["id"]
    etag = etag_of(client, case_id)
    other = make_engine()  # another process on the same database
    real = UnitOfWork.run
    raced: list[bool] = []

    def race_first(self: UnitOfWork[Any], work: Any) -> Any:
        if not raced:
            raced.append(True)
            other.set(case_id, {"score": 42}, actor="ed")
        return real(self, work)

    monkeypatch.setattr(UnitOfWork, "run", race_first)
    before_history = len(engine.history(case_id)) + 1  # the other process's data entry
    answer = client.post(
        f"/v1/cases/{case_id}/events/submit", headers=as_("ann") | {"If-Match": etag}
    )
    problem_of(answer, 412, "precondition_failed")
    assert raced == [True]
    assert engine.get(case_id).state == "draft"
    assert engine.get(case_id).data["score"] == 42
    assert len(engine.history(case_id)) == before_history


# -- Idempotency-Key ----------------------------------------------------------------------


def test_a_keyed_fire_repeat_answers_exactly_as_the_first(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/events/submit"
    first = client.post(url, json={"comment": "go"}, headers=as_("ann") | {"Idempotency-Key": "k1"})
    client.patch(f"/v1/cases/{case_id}/data", json={"score": 3}, headers=as_("ann"))  # moves on
    again = client.post(url, json={"comment": "go"}, headers=as_("ann") | {"Idempotency-Key": "k1"})
    assert first.status_code == again.status_code == 200
    assert first.json()["outcome"] == "transitioned"
    assert again.json() == first.json()
    assert again.headers["ETag"] == first.headers["ETag"] == '"2"'
    assert [e.event for e in engine.history(case_id)].count("submit") == 1


def test_a_keyed_start_and_patch_repeat_answer_exactly_as_the_first(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    body = {"workflow": "review", "data": {"title": "Hi"}}
    key = as_("ann") | {"Idempotency-Key": "start-1"}
    first = client.post("/v1/cases", json=body, headers=key)
    again = client.post("/v1/cases", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.json()["etag"] == again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert again.headers["Location"] == first.headers["Location"]
    case_id = first.json()["id"]
    url = f"/v1/cases/{case_id}/data"
    patch_key = as_("ann") | {"Idempotency-Key": "patch-1"}
    one = client.patch(url, json={"score": 9}, params={"comment": "c"}, headers=patch_key)
    two = client.patch(url, json={"score": 9}, params={"comment": "c"}, headers=patch_key)
    assert one.status_code == two.status_code == 200
    assert two.json() == one.json()
    assert two.headers["ETag"] == one.headers["ETag"]
    assert [e.kind for e in engine.history(case_id)] == ["start", "data"]


def test_a_key_reused_with_another_body_is_422_and_changes_nothing(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/data"
    key = as_("ann") | {"Idempotency-Key": "same"}
    assert client.patch(url, json={"score": 1}, headers=key).status_code == 200
    before = snapshot(engine, case_id)
    problem_of(client.patch(url, json={"score": 2}, headers=key), 422, "key_reused")
    problem_of(client.post(f"/v1/cases/{case_id}/events/submit", headers=key), 422, "key_reused")
    assert snapshot(engine, case_id) == before


def test_an_idempotency_key_is_scoped_per_actor(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    body = {"workflow": "review", "data": {"title": "Hi"}}
    first = client.post("/v1/cases", json=body, headers=as_("ann") | {"Idempotency-Key": "k"})
    again = client.post("/v1/cases", json=body, headers=as_("ann") | {"Idempotency-Key": "k"})
    other = client.post("/v1/cases", json=body, headers=as_("both") | {"Idempotency-Key": "k"})
    assert first.json()["id"] == again.json()["id"]
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["created_by"] == "both"


def test_keyed_repeats_at_the_same_time_happen_once(service: tuple[TestClient, Any]) -> None:
    """A repeat sent while the first is running waits for it (the case's row lock)."""
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/events/submit"

    def submit(_n: int) -> tuple[int, Any]:
        answer = client.post(url, headers=as_("ann") | {"Idempotency-Key": "together"})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(submit, range(4)))
    assert {status for status, _ in results} == {200}
    assert all(body == results[0][1] for _, body in results)
    assert [e.event for e in engine.history(case_id)].count("submit") == 1


def test_keyed_starts_at_the_same_time_start_one_case(service: tuple[TestClient, Any]) -> None:
    """The second insert of the key fails, its step is tried again and finds the first."""
    client, engine = service
    body = {"workflow": "review", "data": {"title": "once"}}

    def create(_n: int) -> tuple[int, Any]:
        answer = client.post("/v1/cases", json=body, headers=as_("ann") | {"Idempotency-Key": "s"})
        return answer.status_code, answer.json()

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(create, range(4)))
    assert {status for status, _ in results} == {201}
    assert all(answer == results[0][1] for _, answer in results)
    assert len(engine.cases()) == 1


def test_an_empty_or_oversized_idempotency_key_is_422(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    for key in ("", "k" * 151):
        answer = client.post(
            f"/v1/cases/{case_id}/events/submit", headers=as_("ann") | {"Idempotency-Key": key}
        )
        problem_of(answer, 422, "invalid")
    assert snapshot(engine, case_id) == before


# -- PATCH data -----------------------------------------------------------------------------


def test_patch_merges_data_and_answers_the_case(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    answer = client.patch(
        f"/v1/cases/{case_id}/data",
        json={"budget": 1200, "score": 80},
        params={"comment": "per brief v2"},
        headers=as_("ann"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] == '"2"'
    case = answer.json()
    assert case == client.get(f"/v1/cases/{case_id}", headers=as_("ann")).json()
    assert case["data"] == {
        "title": "Spring sale",
        "kind": "article",
        "claims": False,
        "legal_ok": False,
        "budget": "1200.00",
        "score": 80,
    }
    last = engine.history(case_id)[-1]
    assert (last.kind, last.actor, last.comment) == ("data", "ann", "per brief v2")
    assert last.data_changes == {
        "budget": {"from": None, "to": "1200.00"},
        "score": {"from": None, "to": 80},
    }


def test_patch_null_removes_a_field(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/data"
    client.patch(url, json={"score": 80}, headers=as_("ann"))
    answer = client.patch(url, json={"score": None}, headers=as_("ann"))
    assert answer.status_code == 200, answer.text
    assert "score" not in answer.json()["data"]
    assert "score" not in engine.get(case_id).data
    assert engine.history(case_id)[-1].data_changes == {"score": {"from": 80, "to": None}}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"nonesuch": 1}, "unknown field 'nonesuch'"),
        ({"score": "abc"}, "field 'score'"),
        ({"score": 101}, "field 'score'"),
        ({"claims": "maybe", "score": 5}, "field 'claims'"),
        ({"title": "x" * 51}, "field 'title'"),
    ],
)
def test_invalid_data_is_422_with_the_engines_reasons_and_nothing_saved(
    service: tuple[TestClient, Any], body: dict[str, Any], reason: str
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    answer = client.patch(f"/v1/cases/{case_id}/data", json=body, headers=as_("ann"))
    problem = problem_of(answer, 422, "invalid")
    assert any(reason in r for r in problem["reasons"]), problem
    assert snapshot(engine, case_id) == before


@pytest.mark.parametrize(
    ("raw", "status"),
    [(b"{not json", 400), (b'{"score": 1,}', 400), (b"[1, 2]", 422), (b'"text"', 422)],
)
def test_a_malformed_or_non_object_patch_body_is_refused(
    service: tuple[TestClient, Any], raw: bytes, status: int
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    answer = client.patch(
        f"/v1/cases/{case_id}/data",
        content=raw,
        headers=as_("ann") | {"Content-Type": "application/json"},
    )
    problem_of(answer, status, "usage" if status == 400 else "invalid")
    assert snapshot(engine, case_id) == before


def test_patch_on_a_closed_case_is_409(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    assert client.post(f"/v1/cases/{case_id}/events/cancel", headers=as_("ed")).status_code == 200
    before = snapshot(engine, case_id)
    answer = client.patch(f"/v1/cases/{case_id}/data", json={"score": 1}, headers=as_("ann"))
    problem_of(answer, 409, "refused")
    assert snapshot(engine, case_id) == before


# -- history and compute -------------------------------------------------------------------


def test_history_pages_after_a_seq(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    for score in range(1, 5):
        client.patch(f"/v1/cases/{case_id}/data", json={"score": score}, headers=as_("ann"))
    everything = [e.to_json() for e in engine.history(case_id)]  # `opsflow history --json`
    assert len(everything) == 5
    url = f"/v1/cases/{case_id}/history"
    whole = client.get(url, headers=as_("ann:ro"))
    assert whole.status_code == 200
    assert whole.json() == {"items": everything, "next_after_seq": None}
    pages, after = [], 0
    while True:
        page = client.get(url, params={"after_seq": after, "limit": 2}, headers=as_("ann")).json()
        pages.append(page["items"])
        if page["next_after_seq"] is None:
            break
        after = page["next_after_seq"]
    assert pages == [everything[0:2], everything[2:4], everything[4:5]]
    tail = client.get(url, params={"after_seq": 5}, headers=as_("ann")).json()
    assert tail == {"items": [], "next_after_seq": None}
    for beyond in (2**31, 2**63, 10**30):  # past what the seq column holds: nothing after
        far = client.get(url, params={"after_seq": beyond}, headers=as_("ann"))
        assert far.status_code == 200, far.text
        assert far.json() == {"items": [], "next_after_seq": None}


@pytest.mark.parametrize(
    "params", [{"limit": 201}, {"limit": 0}, {"after_seq": -1}, {"limit": "x"}]
)
def test_history_refuses_a_bad_page(client: TestClient, params: dict[str, Any]) -> None:
    case_id = start(client)["id"]
    answer = client.get(f"/v1/cases/{case_id}/history", params=params, headers=as_("ann"))
    problem_of(answer, 422, "invalid")


def test_compute_answers_the_compute_json(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    client.patch(f"/v1/cases/{case_id}/data", json={"hits": 5, "views": 20}, headers=as_("ann"))
    answer = client.post(f"/v1/cases/{case_id}/compute", json={}, headers=as_("ann"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert set(body) == {"case", "metrics"}
    assert body["metrics"] == {"hit_rate": 0.25}
    assert body["case"]["metrics"] == {"hit_rate": 0.25}
    assert answer.headers["ETag"] == f'"{engine.get(case_id).row_version}"'
    named = client.post(
        f"/v1/cases/{case_id}/compute", json={"metrics": ["hit_rate"]}, headers=as_("ann")
    )
    assert named.json()["metrics"] == {"hit_rate": 0.25}
    without_body = client.post(f"/v1/cases/{case_id}/compute", headers=as_("ann"))
    assert without_body.status_code == 200


def test_compute_on_numbers_beyond_a_float_is_refused_not_a_500(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    huge = {"hits": 10**400, "views": 1}
    set_ = client.patch(f"/v1/cases/{case_id}/data", json=huge, headers=as_("ann"))
    assert set_.status_code == 200, set_.text
    before = snapshot(engine, case_id)
    answer = client.post(f"/v1/cases/{case_id}/compute", json={}, headers=as_("ann"))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert "hits ÷ views is too large for a number" in body["detail"]
    assert "OverflowError" not in answer.text
    assert snapshot(engine, case_id) == before


def test_compute_refuses_an_unknown_metric_or_member(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    url = f"/v1/cases/{case_id}/compute"
    problem_of(client.post(url, json={"metrics": ["nope"]}, headers=as_("ann")), 404, "not_found")
    problem_of(client.post(url, json={"metric": ["hit_rate"]}, headers=as_("ann")), 422, "invalid")
    problem_of(client.post(url, json={"metrics": "hit_rate"}, headers=as_("ann")), 422, "invalid")
    assert snapshot(engine, case_id) == before


# -- assignment -----------------------------------------------------------------------------


def test_assign_unassign_and_claim(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/assignee"
    put = client.put(url, json={"name": "ed"}, headers=as_("ann"))
    assert put.status_code == 200, put.text
    assert put.json()["assignee"] == "ed"
    assert put.json() == client.get(f"/v1/cases/{case_id}", headers=as_("ann")).json()
    assert put.headers["ETag"] == '"2"'
    entry = engine.history(case_id)[-1].to_json()
    assert entry["kind"] == "assignment"
    assert entry["actor"] == "ann"
    assert entry["detail"] == {"from": None, "to": "ed"}
    deleted = client.delete(url, headers=as_("ed"))
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["assignee"] is None
    claimed = client.post(f"/v1/cases/{case_id}/claim", headers=as_("ann"))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["assignee"] == "ann"
    assert engine.get(case_id).assignee == "ann"
    assert [e.kind for e in engine.history(case_id)][-3:] == ["assignment"] * 3


def test_claiming_someone_elses_case_is_409_unless_an_admin_forces_it(
    service: tuple[TestClient, Any],
) -> None:
    client, engine = service
    engine.settings.admins = ["dir"]
    case_id = start(client)["id"]
    client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    assert client.post(f"/v1/cases/{case_id}/claim", headers=as_("ed")).status_code == 200
    before = snapshot(engine, case_id)
    problem_of(client.post(f"/v1/cases/{case_id}/claim", headers=as_("eve")), 409, "conflict")
    forced = client.post(f"/v1/cases/{case_id}/claim?force=true", headers=as_("eve"))
    problem_of(forced, 403, "not_permitted")
    assert snapshot(engine, case_id) == before
    taken = client.post(f"/v1/cases/{case_id}/claim", params={"force": "true"}, headers=as_("dir"))
    assert taken.status_code == 200, taken.text
    assert taken.json()["assignee"] == "dir"
    assert engine.history(case_id)[-1].detail == {"from": "ed", "to": "dir", "forced": True}


def test_leaving_the_state_clears_the_assignee(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    client.post(f"/v1/cases/{case_id}/claim", headers=as_("ann"))
    fired = client.post(f"/v1/cases/{case_id}/events/submit", headers=as_("ann"))
    assert fired.json()["case"]["assignee"] is None
    assert engine.get(case_id).assignee is None
    cleared = engine.history(case_id)[-1]
    assert (cleared.kind, cleared.actor) == ("assignment", "system")
    assert cleared.detail == {"from": "ann", "to": None, "left": "draft"}


@pytest.mark.parametrize(
    ("who", "name", "status", "code"),
    [
        ("ann", "stranger", 422, "invalid"),  # not in the team
        ("ann", "tester", 422, "invalid"),  # in the team, no role of the workflow
        ("ann", "system", 422, "invalid"),
        ("lou", "ed", 403, "not_permitted"),  # no role of the state, not the assignee
    ],
)
def test_a_refused_assignment_changes_nothing(
    service: tuple[TestClient, Any], who: str, name: str, status: int, code: str
) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    answer = client.put(f"/v1/cases/{case_id}/assignee", json={"name": name}, headers=as_(who))
    problem_of(answer, status, code)
    assert snapshot(engine, case_id) == before


def test_assignment_honours_if_match(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    stale = {"If-Match": '"7"'}
    before = snapshot(engine, case_id)
    url = f"/v1/cases/{case_id}"
    problem_of(
        client.put(f"{url}/assignee", json={"name": "ed"}, headers=as_("ann") | stale),
        412,
        "precondition_failed",
    )
    problem_of(client.post(f"{url}/claim", headers=as_("ann") | stale), 412, "precondition_failed")
    problem_of(
        client.delete(f"{url}/assignee", headers=as_("ann") | stale), 412, "precondition_failed"
    )
    assert snapshot(engine, case_id) == before
    fresh = {"If-Match": etag_of(client, case_id)}
    assert client.post(f"{url}/claim", headers=as_("ann") | fresh).status_code == 200


def test_assignee_body_is_checked(client: TestClient) -> None:
    case_id = start(client)["id"]
    url = f"/v1/cases/{case_id}/assignee"
    problem_of(client.put(url, json={}, headers=as_("ann")), 422, "invalid")
    problem_of(client.put(url, json={"name": 3}, headers=as_("ann")), 422, "invalid")
    problem_of(client.put(url, json={"name": "ed", "x": 1}, headers=as_("ann")), 422, "invalid")
    json_type = {"Content-Type": "application/json"}
    problem_of(client.put(url, content=b"{", headers=as_("ann") | json_type), 400, "usage")


# -- ids, hostile text, read-only tokens --------------------------------------------------


def test_a_case_id_prefix_needs_six_characters(service: tuple[TestClient, Any]) -> None:
    client, _engine = service
    case_id = start(client)["id"]
    problem_of(client.get(f"/v1/cases/{case_id[:5]}", headers=as_("ann")), 400, "usage")
    answer = client.get(f"/v1/cases/{case_id[:6]}", headers=as_("ann"))
    assert answer.status_code == 200
    assert answer.json()["id"] == case_id
    patch = client.patch(f"/v1/cases/{case_id[:5]}/data", json={"score": 1}, headers=as_("ann"))
    problem_of(patch, 400, "usage")


HOSTILE = ["'; DROP TABLE cases; --", '" OR 1=1 --', "审核；删除 %_\\", "x' UNION SELECT *--"]


@pytest.mark.parametrize("text", HOSTILE)
def test_sql_metacharacters_and_chinese_are_data(
    service: tuple[TestClient, Any], text: str
) -> None:
    client, engine = service
    case_id = start(client, title=text[:50])["id"]
    assert engine.get(case_id).data["title"] == text[:50]
    quoted = {"Authorization": "Bearer ann"}
    # as a case id and as an event name: not found, nothing else
    problem_of(client.get(f"/v1/cases/{text}", headers=quoted), 404, "not_found")
    problem_of(client.post(f"/v1/cases/{text}/claim", headers=quoted), 404, "not_found")
    problem_of(client.post(f"/v1/cases/{case_id}/events/{text}", headers=quoted), 404, "not_found")
    # as a field value, a comment and an idempotency key: stored exactly
    key = {"Idempotency-Key": text.encode()}  # UTF-8 bytes: a header is not text
    answer = client.patch(
        f"/v1/cases/{case_id}/data",
        json={"approved_by": text},
        params={"comment": text},
        headers=quoted | key,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["approved_by"] == text
    again = client.patch(
        f"/v1/cases/{case_id}/data",
        json={"approved_by": text},
        params={"comment": text},
        headers=quoted | key,
    )
    assert again.json() == answer.json()
    last = engine.history(case_id)[-1]
    assert (last.kind, last.comment) == ("data", text)
    fired = client.post(
        f"/v1/cases/{case_id}/events/submit", json={"comment": text}, headers=quoted
    )
    assert fired.status_code == 200
    assert engine.history(case_id)[-1].comment == text
    # as an assignee's name: no such team member
    assigned = client.put(f"/v1/cases/{case_id}/assignee", json={"name": text}, headers=as_("ed"))
    problem_of(assigned, 422, "invalid")
    assert engine.get(case_id).assignee is None
    assert len(engine.cases()) == 1  # the tables are all there


def test_a_read_only_token_changes_nothing(service: tuple[TestClient, Any]) -> None:
    client, engine = service
    case_id = start(client)["id"]
    before = snapshot(engine, case_id)
    ro = as_("ann:ro")
    url = f"/v1/cases/{case_id}"
    writes = [
        client.post("/v1/cases", json={"workflow": "review", "data": {"title": "x"}}, headers=ro),
        client.post(f"{url}/events/submit", headers=ro),
        client.patch(f"{url}/data", json={"score": 1}, headers=ro),
        client.post(f"{url}/compute", json={}, headers=ro),
        client.put(f"{url}/assignee", json={"name": "ann"}, headers=ro),
        client.delete(f"{url}/assignee", headers=ro),
        client.post(f"{url}/claim", headers=ro),
    ]
    for answer in writes:
        problem_of(answer, 403, "not_permitted")
    assert snapshot(engine, case_id) == before
    assert len(engine.cases()) == 1
