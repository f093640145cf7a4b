"""API tokens and local passwords (on both backends)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from opsflow.engine import identity
from opsflow.errors import Invalid, NotAuthenticated, NotFound, NotPermitted, Refused, Usage
from opsflow.store import tables


def _rows(engine: Any, table: Any) -> list[Any]:
    with engine.db.read() as conn:
        return list(conn.execute(select(table)))


def test_create_authenticate_list_revoke(engine: Any, clock: Any) -> None:
    token, info = identity.create_token(engine, "ann", by="ed")
    assert token.startswith("opsf_")
    assert len(token) == 48  # 43 characters: 256 bits
    assert (info.prefix, info.owner, info.created_by) == (token[:12], "ann", "ed")
    assert (info.status, info.read_only, info.expires_at, info.last_used_at) == (
        "active",
        False,
        None,
        None,
    )

    found = identity.authenticate_token(engine, token)
    assert found == identity.Identity(actor="ann", read_only=False, prefix=info.prefix)

    [listed] = identity.list_tokens(engine)
    assert (listed.prefix, listed.last_used_at) == (info.prefix, clock.now)
    assert token not in str(listed.to_json())
    assert "hash" not in listed.to_json()
    [row] = _rows(engine, tables.api_tokens)
    assert row.hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(tuple(row))  # only the hash is stored

    clock.advance(minutes=5)
    revoked = identity.revoke_token(engine, info.prefix, by="ed")
    assert (revoked.status, revoked.revoked_at, revoked.revoked_by) == ("revoked", clock.now, "ed")
    with pytest.raises(NotAuthenticated) as caught:
        identity.authenticate_token(engine, token)
    assert caught.value.http_status == 401
    with pytest.raises(Refused, match="already revoked"):
        identity.revoke_token(engine, info.prefix, by="ed")


def test_another_host_sees_a_revocation_at_once(make_engine: Any) -> None:
    here, there = make_engine(), make_engine()
    token, info = identity.create_token(here, "ann", by="ann")
    assert identity.authenticate_token(there, token).actor == "ann"
    identity.revoke_token(here, info.prefix, by="ann")
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token(there, token)


def test_expired_token_is_refused(engine: Any, clock: Any) -> None:
    token, info = identity.create_token(engine, "ann", expires=timedelta(days=90), by="ann")
    assert info.expires_at == clock.now + timedelta(days=90)
    clock.advance(days=89, hours=23)
    assert identity.authenticate_token(engine, token).actor == "ann"
    clock.advance(hours=1)
    with pytest.raises(NotAuthenticated) as caught:
        identity.authenticate_token(engine, token)
    assert [t.status for t in identity.list_tokens(engine)] == ["expired"]
    # one message for every refusal: nothing says which
    assert str(caught.value) == identity.REFUSED


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        "opsf_",
        "Bearer x",
        "opsf_" + "A" * 43,  # well-formed, unknown
        "opsf_" + "A" * 44,
        "opsf_" + "%" * 43,
        "opsf_'; DROP TABLE api_tokens; --" + "a" * 12,
        "opsf_中文" + "a" * 41,
    ],
)
def test_wrong_tokens_are_refused_alike(engine: Any, wrong: str) -> None:
    identity.create_token(engine, "ann", by="ann")
    with pytest.raises(NotAuthenticated) as caught:
        identity.authenticate_token(engine, wrong)
    assert str(caught.value) == identity.REFUSED


def test_a_token_with_a_known_prefix_but_wrong_rest_is_refused(engine: Any) -> None:
    token, _ = identity.create_token(engine, "ann", by="ann")
    forged = token[:12] + ("A" if token[12] != "A" else "B") + token[13:]
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token(engine, forged)


def test_read_only_is_carried(engine: Any) -> None:
    token, info = identity.create_token(engine, "ed", read_only=True, by="ed")
    assert info.read_only
    assert identity.authenticate_token(engine, token).read_only


def test_last_used_is_written_at_most_once_a_minute(engine: Any, clock: Any) -> None:
    token, _ = identity.create_token(engine, "ann", by="ann")
    first = clock.now
    identity.authenticate_token(engine, token)
    clock.advance(seconds=30)
    identity.authenticate_token(engine, token)
    assert identity.list_tokens(engine)[0].last_used_at == first
    clock.advance(seconds=30)
    identity.authenticate_token(engine, token)
    assert identity.list_tokens(engine)[0].last_used_at == clock.now


def test_a_stranger_gets_no_token(engine: Any) -> None:
    with pytest.raises(NotPermitted, match="not in this project's team"):
        identity.create_token(engine, "mallory", by="ann")
    assert _rows(engine, tables.api_tokens) == []


def test_the_token_of_someone_who_left_the_team_is_forbidden(make_engine: Any) -> None:
    token, _ = identity.create_token(make_engine(), "ann", by="ann")
    after = make_engine()
    del after.settings.team["ann"]
    with pytest.raises(NotPermitted) as caught:
        identity.authenticate_token(after, token)
    assert caught.value.http_status == 403


def test_lifetime_must_be_positive(engine: Any) -> None:
    with pytest.raises(Usage):
        identity.create_token(engine, "ann", expires=timedelta(0), by="ann")
    assert _rows(engine, tables.api_tokens) == []


def test_list_filters_by_owner_newest_first(engine: Any, clock: Any) -> None:
    identity.create_token(engine, "ann", by="ann")
    clock.advance(minutes=1)
    _, second = identity.create_token(engine, "ed", by="ed")
    clock.advance(minutes=1)
    _, third = identity.create_token(engine, "ann", read_only=True, by="ann")
    assert [t.owner for t in identity.list_tokens(engine)] == ["ann", "ed", "ann"]
    assert [t.prefix for t in identity.list_tokens(engine, "ed")] == [second.prefix]
    assert identity.list_tokens(engine, "ann")[0] == third


def test_revoking_an_unknown_prefix(engine: Any) -> None:
    with pytest.raises(NotFound):
        identity.revoke_token(engine, "opsf_nothing", by="ann")


def test_password_set_and_checked(engine: Any) -> None:
    identity.set_password(engine, "ann", "correct horse battery")
    assert identity.check_password(engine, "ann", "correct horse battery")
    assert not identity.check_password(engine, "ann", "correct horse batterY")
    assert not identity.check_password(engine, "ed", "correct horse battery")  # has none
    assert not identity.check_password(engine, "nobody", "correct horse battery")
    assert not identity.check_password(engine, "", "")
    [row] = _rows(engine, tables.users)
    assert row.password_hash.startswith("$argon2id$")
    assert "correct horse" not in row.password_hash

    identity.set_password(engine, "ann", "a new passphrase")  # replaced
    assert identity.check_password(engine, "ann", "a new passphrase")
    assert not identity.check_password(engine, "ann", "correct horse battery")
    assert len(_rows(engine, tables.users)) == 1


def test_password_same_however_it_is_composed(engine: Any) -> None:
    identity.set_password(engine, "ann", "caf\u00e9 au lait 咖啡")
    assert identity.check_password(engine, "ann", "cafe\u0301 au lait 咖啡")


def test_short_password_refused_and_nothing_written(engine: Any) -> None:
    with pytest.raises(Invalid, match="at least 12") as caught:
        identity.set_password(engine, "ann", "short")
    assert caught.value.exit_code == 65
    with pytest.raises(Invalid, match="too long"):
        identity.set_password(engine, "ann", "x" * 1001)
    assert _rows(engine, tables.users) == []


def test_a_stranger_gets_no_password(engine: Any) -> None:
    with pytest.raises(NotPermitted):
        identity.set_password(engine, "mallory", "a long enough passphrase")
    assert _rows(engine, tables.users) == []


def test_stored_hash_is_upgraded_when_the_parameters_rise(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(identity, "_hasher", lambda: weak)
    identity.set_password(engine, "ann", "correct horse battery")
    monkeypatch.undo()
    assert identity.check_password(engine, "ann", "correct horse battery")
    [row] = _rows(engine, tables.users)
    assert not PasswordHasher().check_needs_rehash(row.password_hash)
