"""Logging in to the board through an OpenID Connect issuer: authorization code with PKCE.

``start_login`` looks the issuer up (``/.well-known/openid-configuration``, cached), keeps
the login's state, nonce and PKCE verifier in ``oidc_logins`` (any host may receive the
answer) and returns the issuer's address to send the browser to, with a binding value for
a short cookie that ties the answer to the browser that asked. ``finish_login`` takes the
answer once (the state is deleted as it is read), trades the code for tokens at the
issuer's token endpoint, checks the id_token's signature against the issuer's published
keys (RS256 or ES256 only), its issuer, audience, expiry and nonce, takes the user name
from the configured claim, and opens a session for a team member.

Times are the engine's clock. The client secret is sent to the token endpoint only; it
never appears in an answer, an error or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from sqlalchemy import delete, insert, select

from opsflow.engine import unit
from opsflow.engine.identity import check_member
from opsflow.engine.sessions import Session, create_session
from opsflow.engine.unit import CaseTransaction
from opsflow.errors import IssuerUnreachable, NotAuthenticated, NotFound
from opsflow.store import tables

if TYPE_CHECKING:
    from opsflow.engine.engine import CaseEngine
    from opsflow.people import OidcSettings

PENDING_FOR = timedelta(minutes=10)  # from the redirect to the issuer to its answer
CACHE_FOR = 3600.0  # seconds a discovery document or a key set is kept
TIMEOUT = 10.0  # seconds for each call to the issuer
LEEWAY = timedelta(seconds=60)  # clocks of the issuer and of opsflow may differ this much
ALGORITHMS = {"RS256": "RSA", "ES256": "EC"}  # signature algorithm -> the key type it needs
CURVES = {"ES256": "P-256"}  # and, for an EC key, its curve
ANSWER_LIMIT = 1024 * 1024  # bytes read from the issuer at most
EXPIRED = "this login has expired or was already used"


@dataclass(frozen=True)
class OidcStart:
    """Where to send the browser, and the value of the cookie that binds the answer to it."""

    authorize_url: str
    binding: str


@dataclass(frozen=True)
class OidcLogin:
    """A finished login: the session, its id (for the cookie) and the page to go to."""

    session_id: str
    session: Session
    next_path: str


# -- the issuer ------------------------------------------------------------------------

_cache: dict[str, tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def forget_cached() -> None:
    """Drop the cached discovery documents and key sets (they are refetched when needed)."""
    with _cache_lock:
        _cache.clear()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def settings_of(engine: CaseEngine) -> OidcSettings:
    """``server.login.oidc`` (NotFound when it is not configured)."""
    found: OidcSettings | None = engine.settings.server.oidc
    if found is None:
        raise NotFound(
            "OpenID Connect login is not configured",
            ["set server.login.oidc (issuer, client_id) in opsflow.yaml"],
        )
    return found


def _fetch_json(url: str, what: str, *, fresh: bool = False) -> dict[str, Any]:
    """A JSON document from the issuer, cached for :data:`CACHE_FOR` unless ``fresh``."""
    with _cache_lock:
        kept = _cache.get(url)
    if kept is not None and not fresh and time.monotonic() - kept[0] < CACHE_FOR:
        return kept[1]
    import httpx2

    try:
        with httpx2.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            response = client.get(url, headers={"Accept": "application/json"})
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        raise IssuerUnreachable(
            f"the identity provider did not answer ({what}: {type(exc).__name__})",
            [f"check that {url} is reachable from this server"],
        ) from None
    document = _json_answer(response, what)
    with _cache_lock:
        _cache[url] = (time.monotonic(), document)
    return document


def _json_answer(response: Any, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise IssuerUnreachable(
            f"the identity provider answered {response.status_code} to the {what} request"
        )
    if len(response.content) > ANSWER_LIMIT:
        raise IssuerUnreachable(f"the identity provider's {what} answer is too large")
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise IssuerUnreachable(f"the identity provider's {what} answer is not a JSON object")
    return document


def discover(oidc: OidcSettings) -> dict[str, Any]:
    """The issuer's discovery document, checked for what the login needs (cached)."""
    url = f"{oidc.issuer}/.well-known/openid-configuration"
    document = _fetch_json(url, "discovery")
    missing = [
        key
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(document.get(key), str)
    ]
    endpoints = ("authorization_endpoint", "token_endpoint", "jwks_uri")
    missing += [
        key
        for key in endpoints
        if key not in missing and not document[key].startswith(("https://", "http://"))
    ]
    if missing:
        raise IssuerUnreachable(
            f"the identity provider's discovery lacks a usable {', '.join(missing)}"
        )
    if document["issuer"].rstrip("/") != oidc.issuer:
        raise IssuerUnreachable(
            f"the identity provider calls itself {document['issuer']!r}, "
            f"not {oidc.issuer!r} as server.login.oidc.issuer says"
        )
    return document


# -- the login -------------------------------------------------------------------------


def start_login(engine: CaseEngine, redirect_uri: str, next_path: str) -> OidcStart:
    """Begin a login: keep its state, nonce and PKCE verifier; where to send the browser.

    ``redirect_uri`` is this server's callback (registered at the issuer); ``next_path``
    the page to return to, already checked by the caller to be a path on this site.
    """
    oidc = settings_of(engine)
    document = discover(oidc)
    state, nonce, binding = (secrets.token_urlsafe(32) for _ in range(3))
    verifier = secrets.token_urlsafe(48)  # RFC 7636: 43 to 128 characters
    challenge = _b64(hashlib.sha256(verifier.encode("ascii")).digest())
    pending = tables.oidc_logins

    def work(tx: CaseTransaction) -> None:
        tx.conn.execute(delete(pending).where(pending.c.expires_at < tx.now))
        row = {
            "state_hash": _digest(state),
            "nonce_hash": _digest(nonce),
            "binding_hash": _digest(binding),
            "verifier": verifier,
            "redirect_uri": redirect_uri,
            "next_path": next_path,
            "created_at": tx.now,
            "expires_at": tx.now + PENDING_FOR,
        }
        tx.conn.execute(insert(pending).values(row))

    unit.transact(engine, work)
    params = {
        "response_type": "code",
        "client_id": oidc.client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(oidc.scopes),
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    endpoint = document["authorization_endpoint"]
    joint = "&" if "?" in endpoint else "?"
    return OidcStart(authorize_url=f"{endpoint}{joint}{urlencode(params)}", binding=binding)


def _take_pending(engine: CaseEngine, state: str) -> Any:
    """The login a state stands for, deleted as it is read (single use); None if none."""
    pending = tables.oidc_logins
    key = _digest(state)

    def work(tx: CaseTransaction) -> Any:
        query = select(pending).where(pending.c.state_hash == key)
        if tx.shop.db.row_locks:
            query = query.with_for_update()
        row = tx.conn.execute(query).first()
        if row is not None:
            tx.conn.execute(delete(pending).where(pending.c.state_hash == key))
        return row

    return unit.transact(engine, work)


def finish_login(
    engine: CaseEngine,
    *,
    state: str | None,
    code: str | None,
    binding: str | None,
    error: str | None = None,
) -> OidcLogin:
    """Complete a login from the issuer's answer (the callback's query and the cookie).

    NotAuthenticated for an unknown, used or expired state, an answer from another browser,
    a refusal by the issuer and an id_token that does not verify; NotPermitted for a user
    who is not in the team; IssuerUnreachable when the issuer cannot be asked.
    """
    oidc = settings_of(engine)
    if not state or len(state) > 200:
        raise NotAuthenticated("the login answer has no valid state", ["log in again"])
    row = _take_pending(engine, state)
    now = engine.clock()
    if row is None or row.expires_at <= now:
        raise NotAuthenticated(EXPIRED, ["log in again"])
    if not binding or not hmac.compare_digest(row.binding_hash, _digest(binding)):
        raise NotAuthenticated(
            "this login was started in another browser", ["log in again from this browser"]
        )
    if error is not None:
        raise NotAuthenticated(f"the identity provider did not log you in: {error[:100]}")
    if not code or len(code) > 4096:
        raise NotAuthenticated("the login answer has no code", ["log in again"])
    document = discover(oidc)
    tokens = _exchange(oidc, document, code, row.verifier, row.redirect_uri)
    claims = verify_id_token(
        tokens.get("id_token"),
        issuer=document["issuer"],
        client_id=oidc.client_id,
        jwks_uri=document["jwks_uri"],
        nonce_hash=row.nonce_hash,
        now=now,
    )
    name = claims.get(oidc.username_claim)
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise NotAuthenticated(
            f"the identity provider's answer names no user in the claim {oidc.username_claim!r}",
            ["set server.login.oidc.username_claim to a claim the issuer sends"],
        )
    check_member(engine, name)  # NotPermitted (403): authenticated, but not in the team
    session_id, session = create_session(engine, name, "oidc")
    return OidcLogin(session_id=session_id, session=session, next_path=row.next_path)


def _exchange(
    oidc: OidcSettings, document: dict[str, Any], code: str, verifier: str, redirect_uri: str
) -> dict[str, Any]:
    """Trade the code (and the PKCE verifier) for tokens at the issuer's token endpoint."""
    import httpx2

    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        "client_id": oidc.client_id,
    }
    headers = {"Accept": "application/json"}
    secret = oidc.client_secret
    if secret:
        methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_post" in methods:
            form["client_secret"] = secret
        else:  # RFC 6749 §2.3.1: each part form-encoded before Basic
            pair = f"{quote(oidc.client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    try:
        with httpx2.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            response = client.post(document["token_endpoint"], data=form, headers=headers)
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        raise IssuerUnreachable(
            f"the identity provider did not answer (token: {type(exc).__name__})"
        ) from None
    if 400 <= response.status_code < 500:
        raise NotAuthenticated(
            "the identity provider refused the login", _refusal(response, secret)
        )
    return _json_answer(response, "token")


def _refusal(response: Any, secret: str | None) -> list[str]:
    """The issuer's reason (RFC 6749 §5.2 ``error``, ``error_description``), secret hidden."""
    try:
        body = response.json()
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    text = ": ".join(str(body[k])[:200] for k in ("error", "error_description") if body.get(k))
    if secret:
        text = text.replace(secret, "***")
    return [text] if text else []


# -- the id_token ----------------------------------------------------------------------


def verify_id_token(
    token: Any, *, issuer: str, client_id: str, jwks_uri: str, nonce_hash: str, now: datetime
) -> dict[str, Any]:
    """The claims of an id_token, once its signature, issuer, audience, times and nonce hold.

    NotAuthenticated naming what failed (never the token itself).
    """
    import jwt

    def refused(why: str) -> NotAuthenticated:
        return NotAuthenticated("the identity provider's answer could not be verified", [why])

    if not isinstance(token, str) or not token:
        raise refused("the token answer has no id_token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise refused("the id_token is not a JWT") from None
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise refused(f"the id_token is signed with {alg!r}; opsflow accepts RS256 and ES256")
    key = _signing_key(jwks_uri, header.get("kid"), alg)
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[alg],
            audience=client_id,
            issuer=issuer,
            options={
                "verify_exp": False,  # checked below against the engine's clock
                "verify_iat": False,
                "verify_nbf": False,
                "require": ["iss", "aud", "exp", "iat", "sub"],
            },
        )
    except jwt.InvalidSignatureError:
        raise refused("the id_token's signature does not match the issuer's keys") from None
    except jwt.InvalidAudienceError:
        raise refused(f"the id_token is not meant for client {client_id!r} (aud)") from None
    except jwt.InvalidIssuerError:
        raise refused("the id_token comes from another issuer (iss)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise refused(f"the id_token lacks the {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise refused(f"the id_token is not valid ({type(exc).__name__})") from None
    _check_times(claims, now, refused)
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise refused("the id_token names several audiences but another authorized party")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(_digest(nonce), nonce_hash):
        raise refused("the id_token's nonce is not this login's")
    return claims


def _check_times(claims: dict[str, Any], now: datetime, refused: Any) -> None:
    stamp = now.timestamp()
    slack = LEEWAY.total_seconds()
    for claim in ("exp", "iat", "nbf"):
        value = claims.get(claim)
        if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise refused(f"the id_token's {claim!r} is not a time")
    if claims["exp"] <= stamp - slack:
        raise refused("the id_token has expired")
    if claims["iat"] > stamp + slack or claims.get("nbf", 0) > stamp + slack:
        raise refused("the id_token is not valid yet (check the server's clock)")


def _signing_key(jwks_uri: str, kid: Any, alg: str) -> Any:
    """The issuer's public key for ``kid``, refetching the key set once for a new kid."""
    for fresh in (False, True):
        keys = _fetch_json(jwks_uri, "keys", fresh=fresh).get("keys")
        found = _pick(keys if isinstance(keys, list) else [], kid, alg)
        if found is not None:
            return found
    raise NotAuthenticated(
        "the identity provider's answer could not be verified",
        [f"no {alg} signing key with kid {str(kid)[:60]!r} among the issuer's keys"],
    )


def _pick(keys: list[Any], kid: Any, alg: str) -> Any:
    import jwt

    usable = [
        k
        for k in keys
        if isinstance(k, dict)
        and k.get("kty") == ALGORITHMS[alg]
        and k.get("use", "sig") == "sig"
        and k.get("alg", alg) == alg
        and k.get("crv") == CURVES.get(alg)
        and (kid is None or k.get("kid") == kid)
    ]
    if len(usable) != 1:  # none, or (without a kid) no way to choose
        return None
    try:
        return jwt.PyJWK(usable[0], algorithm=alg).key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError):  # a malformed published key
        return None


__all__ = [
    "OidcLogin",
    "OidcStart",
    "discover",
    "finish_login",
    "forget_cached",
    "settings_of",
    "start_login",
    "verify_id_token",
]
