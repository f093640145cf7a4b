"""``opsflow token`` and ``opsflow user``: API tokens and board passwords for the service."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

import click

from opsflow.cli import output as out
from opsflow.cli.context import app, json_option
from opsflow.cli.values import check_name
from opsflow.errors import Usage

SHOWN_ONCE = (
    "This token is shown only now: keep it in a secret store. opsflow keeps only its hash, "
    "so a lost token cannot be shown again (create another and revoke this one)."
)


class Duration(click.ParamType):
    """A lifetime such as ``90d``, ``12h``, ``2w`` or ISO 8601 ``P90D``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, timedelta):
            return value
        from opsflow.language.durations import parse_duration

        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@click.group()
def token() -> None:
    """Create, list and revoke API tokens for the HTTP API (opsflow serve).

    A token lets a script or another system act as one team member: it is sent as
    'Authorization: Bearer TOKEN'. Only its hash is stored, so it is printed once, when it
    is created. A read-only token may read cases but change nothing. Revoking a token
    ends it at once on every server.

    Examples:

    \b
      opsflow token create --for ann --expires 90d
      opsflow token create --for reporting --read-only --json
      opsflow token list --for ann
      opsflow token revoke opsf_3fK9a2x
    """


@token.command("create")
@click.option(
    "--for", "owner", required=True, metavar="NAME", callback=check_name,
    help="The team member the token acts as.",
)  # fmt: skip
@click.option(
    "--expires", type=Duration(), metavar="DURATION",
    help="End the token after this long: 90d, 12h, 2w (default: never).",
)  # fmt: skip
@click.option("--read-only", is_flag=True, help="The token may read, never change anything.")
@json_option
def token_create(owner: str, expires: timedelta | None, read_only: bool, as_json: bool) -> None:
    """Create an API token for NAME and print it (shown this once only).

    The token is printed alone on stdout, so a script can capture it; the reminder that
    it is not shown again goes to stderr. Store it in a secret store or password manager.
    When opsflow.yaml names a team and admins, a token for someone else is for admins.

    Examples:

    \b
      opsflow token create --for ann --expires 90d
      TOKEN=$(opsflow token create --for ci --read-only --expires 30d)
      curl -H "Authorization: Bearer $TOKEN" https://ops.example.com/v1/me
    """
    from opsflow.engine.access import require_token_manager
    from opsflow.engine.identity import create_token

    engine = app().engine()
    require_token_manager(engine, app().current_actor(), owner, local=True)
    text, info = create_token(
        engine, owner, expires=expires, read_only=read_only, by=app().current_actor()
    )
    if as_json:
        out.emit_json({"token": text, **info.to_json(), "note": SHOWN_ONCE})
        return
    click.echo(text)
    access = "read-only" if info.read_only else "read-write"
    until = f", expires {out.moment(info.expires_at)}" if info.expires_at else ", never expires"
    out.note(f"created {access} token {info.prefix} for {info.owner}{until}")
    out.note(SHOWN_ONCE)


@token.command("list")
@click.option("--for", "owner", metavar="NAME", help="Only the tokens of this team member.")
@json_option
def token_list(owner: str | None, as_json: bool) -> None:
    """List API tokens, newest first: prefix, owner, access, status, created, last used.

    Never shows a token or its hash: only its first 12 characters (the prefix), which
    is what 'opsflow token revoke' takes. Revoked and expired tokens are listed too.

    Examples:

    \b
      opsflow token list
      opsflow token list --for ann --json
    """
    from opsflow.engine.identity import list_tokens

    rows = list_tokens(app().engine(), owner)
    if as_json:
        out.emit_json([r.to_json() for r in rows])
        return
    if not rows:
        out.note("no tokens" + (f" for {owner}" if owner else "") + ": opsflow token create")
        return
    out.table(
        ["prefix", "owner", "access", "status", "created", "by", "last used", "expires"],
        [
            (
                r.prefix,
                r.owner,
                "read-only" if r.read_only else "read-write",
                r.status,
                out.moment(r.created_at),
                r.created_by,
                out.moment(r.last_used_at) if r.last_used_at else "never",
                out.moment(r.expires_at) if r.expires_at else "never",
            )
            for r in rows
        ],
    )


@token.command("revoke")
@click.argument("prefix")
@json_option
def token_revoke(prefix: str, as_json: bool) -> None:
    """End the token whose prefix is PREFIX, at once, on every server.

    PREFIX is the first 12 characters 'opsflow token list' shows. Exits 5 when no token
    has it and 4 when it was already revoked. When opsflow.yaml names a team and admins,
    revoking someone else's token is for admins (exit 3 for anyone else).

    Examples:

    \b
      opsflow token list --for ann
      opsflow token revoke opsf_3fK9a2x
    """
    from opsflow.engine.access import require_token_manager, token_owner
    from opsflow.engine.identity import revoke_token

    engine, actor = app().engine(), app().current_actor()
    require_token_manager(engine, actor, token_owner(engine, prefix), local=True)
    info = revoke_token(engine, prefix, by=actor)
    if as_json:
        out.emit_json(info.to_json())
        return
    out.success(f"revoked token {info.prefix} of {info.owner}")


@click.command("user", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("name", callback=check_name)
@click.option("--password", "password_flag", is_flag=True, help="Set NAME's board password.")
@click.pass_context
def user(ctx: click.Context, name: str, password_flag: bool) -> None:
    """Set a team member's password for the web board's login.

    The password is read from stdin when it is piped, else asked for twice at a hidden
    prompt; it is never taken from the command line, where it would stay in the shell's
    history and the process list. At least 12 characters: a passphrase of a few words is
    long enough. It is stored as an argon2id hash; setting it again replaces it.

    Examples:

    \b
      opsflow user ann --password                    # prompts twice
      printf '%s\\n' "$ANN_PASSWORD" | opsflow user ann --password
    """
    if ctx.args:  # the text is not echoed: it may be the password itself
        raise Usage(
            "opsflow user takes only NAME and --password: the password is never read from "
            "the command line",
            ["type it at the prompt, or pipe it on stdin"],
        )
    if not password_flag:
        raise Usage(f"nothing to do: 'opsflow user {name} --password' sets the password")
    from opsflow.engine.identity import check_member, set_password

    engine = app().engine()
    check_member(engine, name)  # a stranger is refused before anyone types a password
    set_password(engine, name, _read_password(name))
    out.success(f"password set for {name}")


def stdin_is_terminal() -> bool:
    """Whether stdin is a person at a terminal (then the password is asked for)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


def _read_password(name: str) -> str:
    if stdin_is_terminal():
        entered: str = click.prompt(
            f"New password for {name}",
            hide_input=True,
            confirmation_prompt="Repeat the password",
            err=True,
        )
        return entered
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


COMMANDS = [token, user]
