"""OpenID Connect login against a real issuer on 127.0.0.1 (``oidc_issuer.py``).

The app runs in a TestClient (the browser's cookie jar); the browser's visit to the
issuer is a real HTTP request, and so are the app's discovery, key and token calls.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import jwt
import pytest
from fastapi.testclient import TestClient
from oidc_issuer import DROP, OidcIssuer, new_rsa_key, running_issuer
from sqlalchemy import select

from opsflow.people import OidcSettings, ServerSettings
from opsflow.service import create_app
from opsflow.store import tables

SECRET = "issuer-test-secret"


def configure(engine: Any, issuer_url: str, **oidc: Any) -> None:
    settings = {"issuer": issuer_url, "client_id": "opsflow", "client_secret": SECRET, **oidc}
    engine.settings.server = ServerSettings(oidc=OidcSettings(**settings))


@pytest.fixture
def sso(make_engine: Any, oidc_issuer: OidcIssuer) -> Iterator[tuple[TestClient, Any]]:
    """A TestClient on the real app whose login goes to the test issuer."""
    engine = make_engine()
    configure(engine, oidc_issuer.url)
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        yield client, engine


def begin(client: TestClient, next_page: str = "/inbox") -> str:
    """``GET /login/oidc``: the issuer's authorize address the browser is sent to."""
    answer = client.get("/login/oidc", params={"next": next_page}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["location"]
    return location


def at_issuer(authorize_url: str) -> str:
    """The browser at the issuer (real HTTP): the callback path and query it is sent back to."""
    with httpx2.Client(timeout=10) as browser:
        answer = browser.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == "http://testserver"
    return f"{back.path}?{back.query}"


def log_in(client: TestClient, next_page: str = "/inbox") -> Any:
    """The whole flow; the app's answer to the callback."""
    return client.get(at_issuer(begin(client, next_page)), follow_redirects=False)


def rows(engine: Any, table: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(table)))


def refused(answer: Any, status: int = 401) -> str:
    """Assert a clean problem+json with ``status``, no session; its detail and reasons."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "opsflow_session=" not in answer.headers.get("set-cookie", "")
    body = answer.json()
    assert "Traceback" not in answer.text
    assert SECRET not in answer.text
    return " ".join([body["detail"], *body["reasons"]])


def test_the_full_flow(sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer) -> None:
    client, engine = sso
    start = client.get("/login/oidc", params={"next": "/inbox"}, follow_redirects=False)
    assert start.status_code == 303
    authorize = urlsplit(start.headers["location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        f"{oidc_issuer.url}/authorize"
    )
    params = {k: v[0] for k, v in parse_qs(authorize.query).items()}
    assert params["response_type"] == "code"
    assert params["client_id"] == "opsflow"
    assert params["redirect_uri"] == "http://testserver/login/oidc/callback"
    assert params["scope"] == "openid profile email"
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 43
    assert len(params["nonce"]) >= 43
    binding = start.headers["set-cookie"].lower()
    assert binding.startswith("opsflow_oidc=")
    assert {"httponly", "path=/login/oidc", "samesite=lax"} <= {
        part.strip() for part in binding.split(";")
    }
    (pending,) = rows(engine, tables.oidc_logins)
    assert pending.state_hash == hashlib.sha256(params["state"].encode()).hexdigest()
    assert params["state"] not in " ".join(str(v) for v in pending)
    assert params["nonce"] not in " ".join(str(v) for v in pending)

    done = client.get(at_issuer(start.headers["location"]), follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/inbox"
    assert "httponly" in done.headers["set-cookie"].lower()
    assert client.get("/v1/me").json()["name"] == "ann"
    session = client.get("/v1/session").json()
    assert session["method"] == "oidc"
    assert SECRET not in done.text
    (sent,) = oidc_issuer.token_requests
    assert sent["method"] == "client_secret_post"  # the issuer offers both: POST is chosen
    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == params["code_challenge"]
    assert rows(engine, tables.oidc_logins) == []  # the state is gone: used once
    (row,) = rows(engine, tables.sessions)
    assert (row.actor, row.method) == ("ann", "oidc")


def test_client_secret_basic_when_the_issuer_offers_only_that(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, _engine = sso
    oidc_issuer.auth_methods = ("client_secret_basic",)
    assert log_in(client).status_code == 303
    assert oidc_issuer.token_requests[-1]["method"] == "client_secret_basic"
    assert "client_secret" not in oidc_issuer.token_requests[-1]


def test_a_public_client_sends_no_secret(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    configure(engine, oidc_issuer.url, client_secret=None)
    oidc_issuer.client_secret = None
    assert log_in(client).status_code == 303
    assert oidc_issuer.token_requests[-1]["method"] == "none"


def test_the_username_comes_from_the_configured_claim(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    configure(engine, oidc_issuer.url, username_claim="login")
    oidc_issuer.user = {"preferred_username": "someone", "login": "ed"}
    assert log_in(client).status_code == 303
    assert client.get("/v1/me").json()["name"] == "ed"


def test_a_missing_username_claim_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    oidc_issuer.user = {"email": "ann@example.com"}
    assert "preferred_username" in refused(log_in(client))
    assert rows(engine, tables.sessions) == []


def test_a_user_not_in_the_team_is_forbidden(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    oidc_issuer.user = {"preferred_username": "mallory"}
    detail = refused(log_in(client), 403)
    assert "'mallory' is not in this project's team" in detail
    assert rows(engine, tables.sessions) == []
    assert client.get("/v1/me").status_code == 401


def test_a_tampered_state_is_refused(sso: tuple[TestClient, Any]) -> None:
    client, engine = sso
    back = at_issuer(begin(client))
    path, _, query = back.partition("?")
    params = {k: v[0] for k, v in parse_qs(query).items()}
    params["state"] = params["state"][:-2] + ("AA" if params["state"][-2:] != "AA" else "BB")
    answer = client.get(path, params=params, follow_redirects=False)
    assert "expired or was already used" in refused(answer)
    assert rows(engine, tables.sessions) == []


@pytest.mark.parametrize("query", ["", "?code=abc", "?state=", "?state=" + "x" * 300])
def test_a_callback_without_a_state_is_refused(sso: tuple[TestClient, Any], query: str) -> None:
    client, _engine = sso
    begin(client)
    answer = client.get(f"/login/oidc/callback{query}", follow_redirects=False)
    assert answer.status_code in (401, 422)
    assert answer.headers["content-type"] == "application/problem+json"


def test_a_state_is_good_once(sso: tuple[TestClient, Any]) -> None:
    client, engine = sso
    back = at_issuer(begin(client))
    assert client.get(back, follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert "already used" in refused(client.get(back, follow_redirects=False))
    assert len(rows(engine, tables.sessions)) == 1


def test_the_answer_must_come_back_to_the_browser_that_asked(sso: tuple[TestClient, Any]) -> None:
    client, engine = sso
    back = at_issuer(begin(client))
    stranger = TestClient(client.app, raise_server_exceptions=False)
    assert "another browser" in refused(stranger.get(back, follow_redirects=False))
    assert rows(engine, tables.sessions) == []


def test_a_login_left_too_long_expires(sso: tuple[TestClient, Any], clock: Any) -> None:
    client, _engine = sso
    back = at_issuer(begin(client))
    clock.advance(minutes=10)
    assert "expired" in refused(client.get(back, follow_redirects=False))


def test_an_id_token_signed_by_another_key_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    oidc_issuer.sign_with = (new_rsa_key(), oidc_issuer.kid)  # same kid, another key
    assert "signature" in refused(log_in(client))
    oidc_issuer.sign_with = (new_rsa_key(), "unknown-kid")
    assert "no RS256 signing key" in refused(log_in(client))
    assert rows(engine, tables.sessions) == []


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"aud": "another-client"}, "not meant for client 'opsflow'"),
        ({"aud": ["opsflow", "another"]}, "several audiences"),
        ({"iss": "https://elsewhere.example"}, "another issuer"),
        ({"nonce": "not-this-logins-nonce"}, "nonce"),
        ({"nonce": DROP}, "nonce"),
        ({"exp": DROP}, "'exp'"),
        ({"sub": DROP}, "'sub'"),
    ],
)
def test_an_id_token_with_wrong_claims_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer, claims: dict[str, Any], why: str
) -> None:
    client, engine = sso
    oidc_issuer.tamper = claims
    assert why in refused(log_in(client))
    assert rows(engine, tables.sessions) == []


def test_an_expired_id_token_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer, clock: Any
) -> None:
    client, _engine = sso
    oidc_issuer.clock = lambda: clock() - timedelta(minutes=10)  # its clock, or a replay
    assert "expired" in refused(log_in(client))
    oidc_issuer.clock = lambda: clock() + timedelta(minutes=10)
    assert "not valid yet" in refused(log_in(client))
    oidc_issuer.clock = lambda: clock() - timedelta(minutes=5, seconds=30)  # within leeway
    assert log_in(client).status_code == 303


def test_unsigned_and_symmetric_tokens_are_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    from cryptography.hazmat.primitives import serialization

    client, engine = sso
    oidc_issuer.forge = lambda claims: jwt.encode(claims, "", algorithm="none")
    assert "'none'" in refused(log_in(client))
    public_pem = oidc_issuer.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def with_public_key(claims: dict[str, Any]) -> str:  # the classic key-confusion attack
        def part(value: Any) -> bytes:
            raw = json.dumps(value).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=")

        signed = part({"alg": "HS256", "typ": "JWT", "kid": oidc_issuer.kid}) + b"." + part(claims)
        mac = hmac.new(public_pem, signed, hashlib.sha256).digest()
        return (signed + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()

    oidc_issuer.forge = with_public_key
    assert "'HS256'" in refused(log_in(client))
    oidc_issuer.forge = lambda claims: "not-a-jwt"
    assert "not a JWT" in refused(log_in(client))
    assert rows(engine, tables.sessions) == []


def test_es256_on_p256_is_accepted_and_another_curve_is_not(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    client, _engine = sso
    key = ec.generate_private_key(ec.SECP256R1())
    wrong_curve = ec.generate_private_key(ec.SECP384R1())
    for kid, published in (("ec-384", wrong_curve), ("ec-256", key)):
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(published.public_key()))
        oidc_issuer.extra_keys.append({**public, "kid": kid, "use": "sig"})
    oidc_issuer.forge = lambda claims: jwt.encode(
        claims, key, algorithm="ES256", headers={"kid": "ec-384"}
    )
    assert "no ES256 signing key" in refused(log_in(client))  # a P-384 key is not for ES256
    oidc_issuer.forge = lambda claims: jwt.encode(
        claims, key, algorithm="ES256", headers={"kid": "ec-256"}
    )
    assert log_in(client).status_code == 303
    assert client.get("/v1/me").json()["name"] == "ann"


def test_a_pkce_verifier_mismatch_is_refused_by_the_issuer(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    back = at_issuer(begin(client))
    for grant in oidc_issuer.grants.values():  # as if another verifier's challenge was sent
        grant.challenge = "A" * 43
    detail = refused(client.get(back, follow_redirects=False))
    assert "refused the login" in detail
    assert "PKCE verifier mismatch" in detail
    assert rows(engine, tables.sessions) == []


def test_the_issuer_refusing_the_login_at_its_page(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, _engine = sso
    back = at_issuer(begin(client))
    answer = client.get(back.replace("code=", "error=access_denied&code="), follow_redirects=False)
    assert "access_denied" in refused(answer)
    assert oidc_issuer.token_requests == []


def test_a_wrong_client_secret_never_shows(
    sso: tuple[TestClient, Any],
    oidc_issuer: OidcIssuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, engine = sso
    caplog.set_level(logging.DEBUG)
    wrong = "the-wrong-client-secret-value"
    configure(engine, oidc_issuer.url, client_secret=wrong)
    detail = refused(log_in(client))
    assert "invalid_client" in detail
    assert wrong not in detail
    assert wrong not in caplog.text
    assert SECRET not in caplog.text


def test_an_unreachable_issuer_is_a_clean_502(
    make_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with running_issuer() as gone:
        address = gone.url  # nothing listens there once the block ends
    engine = make_engine()
    configure(engine, address)
    with TestClient(create_app(engine), raise_server_exceptions=False) as client:
        answer = client.get("/login/oidc", follow_redirects=False)
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "issuer_unreachable"
    assert "Traceback" not in caplog.text
    assert rows(engine, tables.oidc_logins) == []


def test_an_issuer_going_down_mid_login(make_engine: Any, clock: Any) -> None:
    from opsflow.engine.oidc import forget_cached

    engine = make_engine()
    forget_cached()
    with (
        running_issuer(clock=clock) as issuer,
        TestClient(create_app(engine), raise_server_exceptions=False) as client,
    ):
        configure(engine, issuer.url)
        back = at_issuer(begin(client))
    answer = client.get(back, follow_redirects=False)  # discovery cached, token endpoint gone
    assert refused(answer, 502).startswith("the identity provider did not answer")
    forget_cached()


def test_an_issuer_that_names_itself_otherwise_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    configure(engine, oidc_issuer.url.replace("127.0.0.1", "localhost"))
    answer = client.get("/login/oidc", follow_redirects=False)
    assert answer.status_code == 502
    assert "calls itself" in answer.json()["detail"]


def test_a_discovery_without_usable_endpoints_is_refused(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    document = oidc_issuer.discovery()
    oidc_issuer.discovery = lambda: {  # type: ignore[method-assign]
        **document,
        "token_endpoint": "javascript:alert(1)",
        "jwks_uri": None,
    }
    answer = client.get("/login/oidc", follow_redirects=False)
    assert answer.status_code == 502
    assert answer.json()["detail"] == (
        "the identity provider's discovery lacks a usable jwks_uri, token_endpoint"
    )
    assert rows(engine, tables.oidc_logins) == []


def test_a_malformed_published_key_is_no_key(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, _engine = sso
    oidc_issuer.extra_keys.append({"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"})
    oidc_issuer.sign_with = (oidc_issuer.key, "broken")
    assert "no RS256 signing key with kid 'broken'" in refused(log_in(client))


def test_next_never_leads_to_another_site(sso: tuple[TestClient, Any]) -> None:
    client, _engine = sso
    assert log_in(client, "https://evil.example/x").headers["location"] == "/"


def test_oidc_not_configured_is_404(make_engine: Any) -> None:
    with TestClient(create_app(make_engine()), raise_server_exceptions=False) as client:
        answer = client.get("/login/oidc", follow_redirects=False)
    assert answer.status_code == 404
    assert "not configured" in answer.json()["detail"]


def test_the_redirect_uri_follows_base_url(
    sso: tuple[TestClient, Any], oidc_issuer: OidcIssuer
) -> None:
    client, engine = sso
    engine.settings.server = replace(engine.settings.server, base_url="https://ops.example.com")
    location = begin(client)
    params = parse_qs(urlsplit(location).query)
    assert params["redirect_uri"] == ["https://ops.example.com/login/oidc/callback"]
