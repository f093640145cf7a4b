"""A small OpenID Connect issuer for tests: a real HTTP server on 127.0.0.1, in a thread.

It publishes discovery and its keys (an RSA key made with ``cryptography``), auto-approves
one configured user at its authorize endpoint (redirecting back with a code and the state)
and, at its token endpoint, checks the client (id, secret by Basic or POST), the
redirect_uri and the PKCE verifier before answering with an id_token carrying the nonce.

Tests steer what the next id_token looks like through :attr:`OidcIssuer.tamper` (claims
to change or drop), :attr:`OidcIssuer.sign_with` (another key) and :attr:`OidcIssuer.forge`
(any token at all). Nothing here needs pytest: ``with running_issuer(...) as issuer:``
works in any test or script; ``tests/service/conftest.py`` has it as the ``oidc_issuer``
fixture, on the engines' fake clock.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from http_servers import QuietHTTPServer

DROP = object()  # a tamper value: leave the claim out


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public half of ``key`` as a JWK."""
    jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


@dataclass
class Grant:
    """A code the authorize endpoint handed out, waiting for the token request."""

    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    nonce: str | None
    user: dict[str, Any]


@dataclass
class OidcIssuer:
    """The issuer's configuration and state; :func:`running_issuer` serves it."""

    client_id: str = "opsflow"
    client_secret: str | None = "issuer-test-secret"
    user: dict[str, Any] = field(default_factory=lambda: {"preferred_username": "ann"})
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    lifetime: timedelta = timedelta(minutes=5)
    auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post")
    kid: str = "test-key-1"
    key: rsa.RSAPrivateKey = field(default_factory=new_rsa_key)
    url: str = ""  # set once the server listens: http://127.0.0.1:PORT
    tamper: dict[str, Any] = field(default_factory=dict)  # claims of the next id_tokens
    sign_with: tuple[rsa.RSAPrivateKey, str] | None = None  # (key, kid) instead of ours
    forge: Callable[[dict[str, Any]], str] | None = None  # makes the id_token from its claims
    extra_keys: list[dict[str, Any]] = field(default_factory=list)  # more JWKs to publish
    grants: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)  # what each token call sent

    @property
    def issuer(self) -> str:
        return self.url

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": list(self.auth_methods),
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.key, self.kid), *self.extra_keys]}

    def id_token(self, grant: Grant) -> str:
        """The id_token for a grant, signed by our key (or ``sign_with``), as tampered."""
        now = self.clock()
        claims: dict[str, Any] = {
            "iss": self.url,
            "sub": f"sub-{grant.user.get('preferred_username', 'someone')}",
            "aud": grant.client_id,
            "iat": int(now.timestamp()),
            "exp": int((now + self.lifetime).timestamp()),
            **({"nonce": grant.nonce} if grant.nonce is not None else {}),
            **grant.user,
        }
        for name, value in self.tamper.items():
            if value is DROP:
                claims.pop(name, None)
            else:
                claims[name] = value
        if self.forge is not None:
            return self.forge(claims)
        key, kid = self.sign_with or (self.key, self.kid)
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """Auto-approve :attr:`user`: back to the redirect_uri with a code and the state."""
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri:
            return 400, {}, b"unknown client or no redirect_uri"
        back: dict[str, str] = {"state": query.get("state", "")}
        well_formed = (
            query.get("response_type") == "code"
            and "openid" in query.get("scope", "").split()
            and query.get("code_challenge_method") == "S256"
            and bool(query.get("code_challenge"))
        )
        if not well_formed:
            back["error"] = "invalid_request"
        else:
            code = secrets.token_urlsafe(24)
            self.grants[code] = Grant(
                client_id=self.client_id,
                redirect_uri=redirect_uri,
                challenge=query["code_challenge"],
                method=query["code_challenge_method"],
                nonce=query.get("nonce"),
                user=dict(self.user),
            )
            back["code"] = code
        joint = "&" if "?" in redirect_uri else "?"
        return 302, {"Location": f"{redirect_uri}{joint}{urlencode(back)}"}, b""

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Check the client, the code, the redirect_uri and the PKCE verifier; the tokens."""
        client_id, secret, method = form.get("client_id"), form.get("client_secret"), "none"
        if authorization and authorization.startswith("Basic "):
            pair = base64.b64decode(authorization[6:]).decode()
            client_id, _, secret = pair.partition(":")
            method = "client_secret_basic"
        elif secret is not None:
            method = "client_secret_post"
        self.token_requests.append({"method": method, **{k: form[k] for k in form}})
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if self.client_secret is not None and method not in self.auth_methods:
            return 401, {"error": "invalid_client", "error_description": "auth method"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        grant = self.grants.pop(form.get("code", ""), None)  # a code is good once
        if grant is None:
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier mismatch"}
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": int(self.lifetime.total_seconds()),
            "id_token": self.id_token(grant),
        }


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: Any) -> None:
            headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
            self._send(status, headers, json.dumps(body).encode())

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, issuer.discovery())
            elif parts.path == "/jwks":
                self._json(200, issuer.jwks())
            elif parts.path == "/authorize":
                self._send(*issuer.authorize(query))
            else:
                self._send(404, {}, b"not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            if urlsplit(self.path).path != "/token":
                self._send(404, {}, b"not found")
                return
            self._json(*issuer.token(form, self.headers.get("Authorization")))

    return Handler


@contextmanager
def running_issuer(**config: Any) -> Iterator[OidcIssuer]:
    """An :class:`OidcIssuer` listening on 127.0.0.1 on a free port until the block ends."""
    issuer = OidcIssuer(**config)
    server = QuietHTTPServer(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="oidc-issuer", daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
