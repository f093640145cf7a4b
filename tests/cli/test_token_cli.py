"""``opsflow token`` and ``opsflow user`` (on both backends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from opsflow.engine import identity
from opsflow.errors import NotAuthenticated
from project_cli import run_cli

NOW = {"OPSFLOW_NOW": "2026-01-05T09:00:00+00:00", "OPSFLOW_ACTOR": "ed"}
PASSPHRASE = "correct horse battery"


@pytest.fixture
def opsflow(db_url: str, workflows_dir: Path) -> Any:
    def run(*args: str, input: str | None = None, now: str | None = None) -> Result:
        env = {**NOW, "OPSFLOW_NOW": now} if now else NOW
        return run_cli(db_url, workflows_dir, *args, env=env, input=input)

    return run


def _nothing_stored(engine: Any) -> bool:
    return identity.list_tokens(engine) == []


def test_create_list_revoke(opsflow: Any, engine: Any) -> None:
    made = opsflow("token", "create", "--for", "ann", "--expires", "90d")
    assert made.exit_code == 0, made.output
    token = made.stdout.strip()  # alone on stdout, for TOKEN=$(opsflow token create ...)
    assert token.startswith("opsf_")
    assert len(token) == 48
    assert "shown only now" in made.stderr
    assert "expires 2026-04-05 09:00 UTC" in made.stderr
    assert identity.authenticate_token(engine, token).actor == "ann"

    listed = opsflow("token", "list")
    assert listed.exit_code == 0, listed.output
    assert token[:12] in listed.stdout
    assert token not in listed.output
    assert "read-write" in listed.stdout
    [row] = json.loads(opsflow("token", "list", "--json").stdout)
    assert row["prefix"] == token[:12]
    assert (row["owner"], row["created_by"], row["status"]) == ("ann", "ed", "active")
    assert row["expires_at"] == "2026-04-05T09:00:00+00:00"
    assert "hash" not in row
    assert "token" not in row

    revoked = opsflow("token", "revoke", token[:12])
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked token {token[:12]} of ann" in revoked.stdout
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token(engine, token)
    again = opsflow("token", "revoke", token[:12])
    assert again.exit_code == 4
    assert "already revoked" in again.stderr
    unknown = opsflow("token", "revoke", "opsf_' OR 1=1")
    assert unknown.exit_code == 5
    assert "no token with prefix" in unknown.stderr


def test_read_only_json(opsflow: Any, engine: Any) -> None:
    made = opsflow("token", "create", "--for", "ed", "--read-only", "--json")
    assert made.exit_code == 0, made.output
    document = json.loads(made.stdout)
    assert document["read_only"] is True
    assert "shown only now" in document["note"]
    assert identity.authenticate_token(engine, document["token"]).read_only
    listed = opsflow("token", "list", "--for", "ed")
    assert "read-only" in listed.stdout
    assert "no tokens for ann" in opsflow("token", "list", "--for", "ann").stderr


def test_an_expired_token_is_refused(opsflow: Any, engine: Any, clock: Any) -> None:
    token = opsflow("token", "create", "--for", "ann", "--expires", "1d").stdout.strip()
    assert identity.authenticate_token(engine, token).actor == "ann"
    clock.advance(days=1)
    with pytest.raises(NotAuthenticated):
        identity.authenticate_token(engine, token)
    assert " active " in opsflow("token", "list").stdout
    assert " expired " in opsflow("token", "list", now="2026-01-06T09:00:00+00:00").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--for", "mallory"], 3, "'mallory' is not in this project's team"),
        (["--for", "ann", "--expires", "0d"], 2, "durations must be positive"),
        (["--for", "ann", "--expires", "3 months"], 2, "Invalid value for '--expires'"),
        ([], 2, "Missing option '--for'"),
    ],
)
def test_bad_create_writes_nothing(
    opsflow: Any, engine: Any, args: list[str], code: int, message: str
) -> None:
    result = opsflow("token", "create", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert _nothing_stored(engine)


def test_password_from_stdin(opsflow: Any, engine: Any) -> None:
    result = opsflow("user", "ann", "--password", input=PASSPHRASE + "\n")
    assert result.exit_code == 0, result.output
    assert "password set for ann" in result.stdout
    assert PASSPHRASE not in result.output
    assert identity.check_password(engine, "ann", PASSPHRASE)
    assert not identity.check_password(engine, "ann", PASSPHRASE + "\n")


def test_short_password_refused(opsflow: Any, engine: Any) -> None:
    result = opsflow("user", "ann", "--password", input="too short\n")
    assert result.exit_code == 65
    assert "error: the password is too short: 9 characters, at least 12" in result.stderr
    assert not identity.check_password(engine, "ann", "too short")


@pytest.mark.parametrize(
    "args",
    [
        ["user", "ann", "--password", "hunter2hunter2"],
        ["user", "ann", "hunter2hunter2", "--password"],
        ["user", "ann", "--password", "--pw=hunter2hunter2"],
        ["user", "ann", "--password=hunter2hunter2"],
    ],
)
def test_password_never_taken_from_argv(opsflow: Any, engine: Any, args: list[str]) -> None:
    result = opsflow(*args, input=PASSPHRASE + "\n")
    assert result.exit_code == 2, result.output
    assert "hunter2" not in result.output  # not even echoed back in the error
    assert not identity.check_password(engine, "ann", PASSPHRASE)
    assert not identity.check_password(engine, "ann", "hunter2hunter2")


def test_password_of_a_stranger_refused(opsflow: Any, engine: Any) -> None:
    result = opsflow("user", "mallory", "--password", input=PASSPHRASE + "\n")
    assert result.exit_code == 3
    assert "'mallory' is not in this project's team" in result.stderr
    assert not identity.check_password(engine, "mallory", PASSPHRASE)


def test_user_without_password_flag(opsflow: Any) -> None:
    result = opsflow("user", "ann")
    assert result.exit_code == 2
    assert "opsflow user ann --password" in result.stderr


def test_password_at_a_hidden_prompt(
    opsflow: Any, engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.cli import identity as cli_identity

    monkeypatch.setattr(cli_identity, "stdin_is_terminal", lambda: True)
    typed = opsflow("user", "ann", "--password", input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert typed.exit_code == 0, typed.output
    assert PASSPHRASE not in typed.output  # hidden
    assert "Repeat the password" in typed.stderr
    assert identity.check_password(engine, "ann", PASSPHRASE)

    mistyped = opsflow("user", "ed", "--password", input=f"{PASSPHRASE}\nsomething else\n")
    assert mistyped.exit_code == 1  # the prompt asks again, then input ends: aborted
    assert not identity.check_password(engine, "ed", PASSPHRASE)


@pytest.mark.parametrize("command", [["token"], ["token", "create"], ["token", "list"], ["user"]])
def test_help_has_examples(opsflow: Any, command: list[str]) -> None:
    result = opsflow(*command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
