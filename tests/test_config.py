"""opsflow.yaml, ${VAR} expansion and settings precedence (SPEC §3, §5)."""

from __future__ import annotations

import getpass
import textwrap
from pathlib import Path
from typing import Any

import pytest

from opsflow.config import Settings, load_settings
from opsflow.errors import ConfigError


def write_config(folder: Path, text: str, name: str = "opsflow.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    folder = tmp_path / "here"
    folder.mkdir()
    return folder


def load(cwd: Path, env: dict[str, str] | None = None, **options: Any) -> Settings:
    return load_settings(env=env or {}, cwd=cwd, **options)


# -- precedence ----------------------------------------------------------------------------


def test_defaults(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(getpass, "getuser", lambda: "osuser")
    settings = load(cwd)
    assert settings.db_url == f"sqlite:///{cwd / 'opsflow.db'}"
    assert settings.workflows_dir == cwd / "workflows"
    assert settings.config_path is None
    assert settings.base_dir == cwd
    assert settings.actor == "osuser"
    assert (settings.team, settings.channels, settings.sources) == ({}, {}, {})
    assert settings.plugins_dir is None
    assert settings.plugins_allow is None
    assert settings.plugins_strict is False
    assert settings.secrets == frozenset()


def test_the_os_login_has_a_fallback(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_login() -> str:
        raise OSError("no passwd entry")

    monkeypatch.setattr(getpass, "getuser", no_login)
    monkeypatch.setenv("USER", "container")
    assert load(cwd).actor == "container"


@pytest.mark.parametrize(
    ("option", "env", "in_file", "expected"),
    [
        ("opt", "env", "file", "opt"),
        (None, "env", "file", "env"),
        (None, None, "file", "file"),
        (None, None, None, "default"),
    ],
)
def test_option_beats_env_beats_file_beats_default(
    cwd: Path, option: str | None, env: str | None, in_file: str | None, expected: str
) -> None:
    lines = []
    if in_file:
        lines += [f"database: sqlite:///{in_file}.db", f"workflows: {in_file}_flows"]
    write_config(cwd, "\n".join(lines) + "\n")
    environ = {}
    if env:
        environ = {"OPSFLOW_DB": f"sqlite:///{env}.db", "OPSFLOW_WORKFLOWS": f"{env}_flows"}
        environ["OPSFLOW_ACTOR"] = env
    options: dict[str, Any] = {}
    if option:
        options = {"db": f"sqlite:///{option}.db", "workflows": f"{option}_flows", "actor": option}
    settings = load(cwd, environ, **options)
    if expected == "default":
        assert settings.db_url == f"sqlite:///{cwd / 'opsflow.db'}"
        assert settings.workflows_dir == cwd / "workflows"
    else:
        assert settings.db_url == f"sqlite:///{cwd / expected}.db"
        assert settings.workflows_dir == cwd / f"{expected}_flows"
    if expected in ("opt", "env"):
        assert settings.actor == expected


def test_config_file_option_then_env_then_cwd(cwd: Path, tmp_path: Path) -> None:
    write_config(cwd, "workflows: from_cwd\n")
    env_file = write_config(tmp_path / "env", "workflows: from_env\n", "env.yaml")
    opt_file = write_config(tmp_path / "opt", "workflows: from_option\n", "opt.yaml")
    env = {"OPSFLOW_CONFIG": str(env_file)}
    assert load(cwd, env, config=opt_file).workflows_dir == opt_file.parent / "from_option"
    assert load(cwd, env).workflows_dir == env_file.parent / "from_env"
    assert load(cwd).workflows_dir == cwd / "from_cwd"
    assert load(cwd).config_path == cwd / "opsflow.yaml"


def test_a_relative_config_option_is_taken_from_cwd(cwd: Path) -> None:
    write_config(cwd / "conf", "team: {ann: [author]}\n", "ops.yaml")
    settings = load(cwd, config="conf/ops.yaml")
    assert settings.config_path == cwd / "conf" / "ops.yaml"
    assert settings.team == {"ann": ["author"]}


def test_relative_paths_in_the_file_are_relative_to_it(cwd: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "local_plugins").mkdir(parents=True)
    path = write_config(
        project,
        """
        database: sqlite:///state/ops.db?timeout=10
        workflows: flows/
        channels:
          audit_log: {notifier: file, path: logs/notifications.jsonl}
          webhook: {notifier: webhook, url: "https://example.com/hook", path: /api}
        sources:
          app_events: {path: data/events.csv, columns: {user_id: customer_id}}
          absolute: {path: /srv/data.parquet}
          warehouse: {url: "postgresql+psycopg://db/x", query: "select 1"}
        plugins: {dir: local_plugins, allow: [opsflow-acme], strict: true}
        """,
    )
    settings = load(cwd, config=path)
    assert settings.base_dir == project
    assert settings.db_url == f"sqlite:///{project / 'state/ops.db'}?timeout=10"
    assert settings.workflows_dir == project / "flows"
    assert settings.channels["audit_log"]["path"] == str(project / "logs/notifications.jsonl")
    assert settings.channels["webhook"]["path"] == "/api"
    assert settings.sources["app_events"] == {
        "path": str(project / "data/events.csv"),
        "columns": {"user_id": "customer_id"},
    }
    assert settings.sources["absolute"]["path"] == "/srv/data.parquet"
    assert settings.sources["warehouse"]["query"] == "select 1"
    assert settings.plugins_dir == project / "local_plugins"
    assert settings.plugins_allow == ["opsflow-acme"]
    assert settings.plugins_strict is True


def test_the_project_plugins_folder_is_the_default(cwd: Path) -> None:
    (cwd / "plugins").mkdir()
    assert load(cwd).plugins_dir == cwd / "plugins"
    (cwd / "mine").mkdir()
    assert load(cwd, {"OPSFLOW_PLUGINS_DIR": "mine"}).plugins_dir == cwd / "mine"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:////abs/ops.db",
        "postgresql+psycopg://ops@db/ops",
    ],
)
def test_urls_that_are_not_relative_files_stay(cwd: Path, url: str) -> None:
    write_config(cwd / "sub", f"database: '{url}'\n")
    assert load(cwd, config="sub/opsflow.yaml").db_url == url


# -- ${VAR} and secrets ---------------------------------------------------------------------


def test_variables_are_expanded_and_redacted(cwd: Path) -> None:
    write_config(
        cwd,
        """
        database: postgresql+psycopg://ops:${DB_PASSWORD}@db.internal/ops
        channels:
          team_chat: {notifier: feishu, webhook_url: "https://open.feishu.cn/hook/${FEISHU_TOKEN}"}
          literal: {notifier: console, note: "costs $$5, write $${HOME} literally"}
        """,
    )
    env = {"DB_PASSWORD": "s3cr3t-pw", "FEISHU_TOKEN": "tok-123456", "HOME": "/root"}
    settings = load(cwd, env)
    assert settings.db_url == "postgresql+psycopg://ops:s3cr3t-pw@db.internal/ops"
    assert settings.channels["team_chat"]["webhook_url"].endswith("/tok-123456")
    assert settings.channels["literal"]["note"] == "costs $$5, write ${HOME} literally"
    assert settings.secrets == frozenset({"s3cr3t-pw", "tok-123456"})
    text = "posting to https://open.feishu.cn/hook/tok-123456 as ops:s3cr3t-pw"
    assert settings.redact(text) == "posting to https://open.feishu.cn/hook/*** as ops:***"


def test_short_secrets_are_not_redacted(cwd: Path) -> None:
    write_config(cwd, "channels: {c: {notifier: console, n: '${N}'}}\n")
    assert load(cwd, {"N": "abc"}).redact("abc abcd") == "abc abcd"


def test_a_database_password_given_directly_is_a_secret(cwd: Path) -> None:
    settings = load(cwd, db="postgresql+psycopg://ops:hunter22@db/ops")
    assert settings.redact(settings.db_url) == "postgresql+psycopg://ops:***@db/ops"


def test_a_missing_variable_names_it_and_its_key(cwd: Path) -> None:
    write_config(
        cwd, "channels:\n  team_chat: {notifier: feishu, webhook_url: '${FEISHU_WEBHOOK}'}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load(cwd)
    assert str(caught.value) == (
        f"{cwd / 'opsflow.yaml'}: channels.team_chat.webhook_url:"
        " environment variable FEISHU_WEBHOOK is not set"
    )


def test_errors_never_show_secrets(cwd: Path) -> None:
    write_config(cwd, "team: {ann: ['${ROLE}']}\n")
    with pytest.raises(ConfigError) as caught:
        load(cwd, {"ROLE": "Not-A-Role-Secret"})
    assert "Not-A-Role-Secret" not in str(caught.value)
    assert "team.ann: '***' is not a role identifier" in str(caught.value)


# -- bad configurations ---------------------------------------------------------------------


def test_a_missing_explicit_config_file(cwd: Path) -> None:
    with pytest.raises(ConfigError, match=r"^config file not found: .*nope\.yaml$"):
        load(cwd, config="nope.yaml")
    with pytest.raises(ConfigError, match="config file not found"):
        load(cwd, {"OPSFLOW_CONFIG": str(cwd / "gone.yaml")})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("databse: x\n", "unknown key 'databse' (did you mean 'database'?)"),
        ("plugins: {dirs: x}\n", "unknown key 'plugins.dirs' (did you mean 'dir'?)"),
        ("sources: {s: {path: a.csv, colums: {}}}\n", "unknown key 'sources.s.colums'"),
        ("database: [1]\n", "database: must be a non-empty string"),
        ("team: [ann]\n", "team: must map each person to a list of roles"),
        ("team: {ann: [Author]}\n", "team.ann: 'Author' is not a role identifier"),
        ("team: {ann: {a: 1}}\n", "unknown key 'team.ann.a'"),
        ("team: {ann: 7}\n", "team.ann: must be a list of roles"),
        ("team: {ann: {roles: [x], locale: fr}}\n", "team.ann.locale: must be one of zh-CN, en"),
        ("team: {ann: {delegate: {to: ann}}}\n", "a person cannot delegate to themselves"),
        (
            "team: {ann: [a], bo: {delegate: {to: ann, from: 2026-12-20 09:00:00}}}\n",
            "team.bo.delegate.from: 2026-12-20 09:00:00 is a time, not a date (YYYY-MM-DD)",
        ),
        ("team: {ann: {delegate: {to: bo}}}\n", "team.ann.delegate.to: 'bo' is not in team"),
        (
            "team: {ann: [a], bo: {delegate: {to: ann, from: 2026-12-20, until: 2026-12-01}}}\n",
            "team.bo.delegate: `until` (2026-12-01) is before `from` (2026-12-20)",
        ),
        (
            "team: {ann: {roles: [a], delegate: {to: bo}},"
            " bo: {roles: [b], delegate: {to: ann}}}\n",
            "team.ann.delegate: delegations go round in a loop (ann → bo → ann); someone in it "
            "must delegate to a person outside it",
        ),
        (
            "team: {al: {delegate: {to: bo, from: 2026-12-01}}, bo: {delegate: {to: cy}},"
            " cy: {delegate: {to: al, until: 2027-01-31}}, di: {delegate: {to: al}}}\n",
            "team.al.delegate: delegations go round in a loop (al → bo → cy → al)",
        ),
        ("team: {ann: [a]}\nadmins: [bob]\n", "admins: 'bob' is not in team"),
        ("server: {locale: fr}\n", "server.locale: must be one of zh-CN, en"),
        ("server: {base_url: ftp://x}\n", "server.base_url: must be an http:// or https://"),
        ("server: {login: {oidc: {issuer: x}}}\n", "server.login.oidc.issuer: must be"),
        (
            "server: {login: {oidc: {issuer: 'https://x', client_id: c, scopes: [profile]}}}\n",
            "server.login.oidc.scopes: must be a list that includes openid",
        ),
        ("server: {loginn: {}}\n", "unknown key 'server.loginn' (did you mean 'login'?)"),
        ("team: {yes: [author]}\n", "team: True is not a person's name (quote it)"),
        ("channels: {chat: {url: x}}\n", "channels.chat: `notifier` is required"),
        ("channels: {Chat: {notifier: console}}\n", "channels: 'Chat' is not an identifier"),
        ("sources: {s: {columns: {}}}\n", "sources.s: needs a `path`, or a `url` and a `query`"),
        ("sources: {s: {path: a.csv, url: x}}\n", "sources.s: `path` must be a file path"),
        ("sources: {s: {path: a, columns: [x]}}\n", "sources.s.columns: must map our column"),
        ("plugins: {strict: maybe}\n", "plugins.strict: must be true or false"),
        ("plugins: {allow: acme}\n", "plugins.allow: must be a list of plugin names"),
        ("plugins: {dir: missing}\n", "plugins folder not found: "),
        ("channels: {c: {notifier: x, u: '${bad-name}'}}\n", "${bad-name} is not a variable"),
        ("- a list\n", "the config file must be a mapping of settings"),
        ("database: [unclosed\n", "invalid YAML"),
    ],
)
def test_bad_configurations(cwd: Path, text: str, message: str) -> None:
    write_config(cwd, text)
    with pytest.raises(ConfigError) as caught:
        load(cwd)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(cwd / "opsflow.yaml"))


def test_every_problem_is_reported(cwd: Path) -> None:
    write_config(cwd, "databse: x\nworkflow: y\n")
    with pytest.raises(ConfigError) as caught:
        load(cwd)
    assert caught.value.reasons == [
        "unknown key 'databse' (did you mean 'database'?)",
        "unknown key 'workflow' (did you mean 'workflows'?)",
    ]


def test_an_empty_config_file_is_fine(cwd: Path) -> None:
    write_config(cwd, "# nothing yet\n")
    assert load(cwd).config_path == cwd / "opsflow.yaml"


def test_huge_config_files_are_refused(cwd: Path) -> None:
    (cwd / "opsflow.yaml").write_text("team: {}\n" + "#" * (1 << 20), encoding="utf-8")
    with pytest.raises(ConfigError, match="larger than"):
        load(cwd)


def test_alias_bombs_are_refused(cwd: Path) -> None:
    anchors = ["    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    anchors += [
        f"    a{i}: &a{i} [{', '.join(f'*a{i - 1}' for _ in range(10))}]" for i in range(1, 8)
    ]
    body = "\n".join(anchors)
    write_config(cwd, f"channels:\n  defs:\n    notifier: console\n{body}\n")
    with pytest.raises(ConfigError, match="more than 100000 values"):
        load(cwd)


def test_an_empty_actor_is_refused(cwd: Path) -> None:
    with pytest.raises(ConfigError, match="actor name is empty"):
        load(cwd, actor="  ")


def test_malformed_database_url_is_left_to_the_database_layer(tmp_path: Path) -> None:
    settings = load_settings(db="postgresql+psycopg://postgres@[bad/x", cwd=tmp_path, env={})
    assert settings.db_url == "postgresql+psycopg://postgres@[bad/x"
    assert settings.secrets == frozenset()


# -- explicit construction -------------------------------------------------------------------


def test_an_explicitly_built_engine_reads_no_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsflow.facade import Engine

    here = tmp_path / "elsewhere"
    write_config(
        here,
        """\
        database: sqlite:///other.db
        team: {zed: [author]}
        channels: {pager: {notifier: console}}
        """,
    )
    (here / "plugins").mkdir()
    (here / "plugins" / "broken.py").write_text("raise RuntimeError('read me not')\n")
    monkeypatch.chdir(here)
    monkeypatch.setenv("OPSFLOW_CONFIG", str(here / "opsflow.yaml"))
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    fixture = Path(__file__).parent / "fixtures" / "engine" / "review.yaml"
    (workflows / "review.yaml").write_bytes(fixture.read_bytes())
    engine = Engine(
        db=f"sqlite:///{tmp_path / 'mine.db'}", workflows=workflows, team={"ann": ["author"]}
    )
    try:
        assert engine.settings.config_path is None
        assert engine.settings.channels == {}  # not the folder's `pager` channel
        assert engine.settings.team == {"ann": ["author"]}
        assert engine.settings.plugins_dir is None
        case = engine.start("review", {"title": "x"}, actor="ann")  # uses channel `chat`
        assert engine.fire(case.id, "submit", actor="ann").case.state == "review"
        assert not (here / "other.db").exists()
    finally:
        engine.close()


def test_the_long_form_of_team_admins_and_server(cwd: Path) -> None:
    write_config(
        cwd,
        "team:\n"
        "  alice: [author]\n"
        "  bob: {roles: [editor, finance], name: 王博, email: bob@example.com, locale: zh-CN,\n"
        "        delegate: {to: carol, from: 2026-12-20, until: 2027-01-03}}\n"
        "  carol: [legal]\n"
        "admins: [carol]\n"
        "server:\n"
        "  base_url: https://ops.example.com/\n"
        "  locale: en\n"
        "  login: {password: false, oidc: {issuer: 'https://sso.example.com/', client_id: of,\n"
        "          client_secret: '${OIDC_SECRET}'}}\n",
    )
    settings = load(cwd, {"OIDC_SECRET": "s3cret-value"})
    assert settings.team == {"alice": ["author"], "bob": ["editor", "finance"], "carol": ["legal"]}
    bob = settings.people["bob"]
    assert (bob.display_name, bob.email, bob.locale) == ("王博", "bob@example.com", "zh-CN")
    assert bob.delegate is not None
    assert bob.delegate.to == "carol"
    assert (str(bob.delegate.start), str(bob.delegate.until)) == ("2026-12-20", "2027-01-03")
    assert "alice" not in settings.people  # the short form has nothing beyond roles
    assert settings.admins == ["carol"]
    server = settings.server
    assert server.base_url == "https://ops.example.com"
    assert server.secure_cookies
    assert server.locale == "en"
    assert server.password_login is False
    assert server.oidc is not None
    assert server.oidc.issuer == "https://sso.example.com"
    assert server.oidc.client_secret == "s3cret-value"
    assert server.oidc.username_claim == "preferred_username"
    assert settings.redact("secret is s3cret-value") == "secret is ***"


def test_server_defaults(cwd: Path) -> None:
    server = load(cwd).server
    assert (server.base_url, server.locale, server.password_login, server.oidc) == (
        None,
        "zh-CN",
        True,
        None,
    )
    assert not server.secure_cookies
    assert server.session_hours == 12


# -- timezone ------------------------------------------------------------------------------


def test_timezone_defaults_to_utc_and_takes_an_iana_name(cwd: Path) -> None:
    assert load(cwd).timezone == "UTC"
    write_config(cwd, "timezone: Asia/Shanghai\n")
    settings = load(cwd)
    assert settings.timezone == "Asia/Shanghai"
    assert settings.zone.key == "Asia/Shanghai"


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("Asia/Shangai", "timezone: 'Asia/Shangai' is not a time zone"),
        ("''", "timezone: '' is not a time zone"),
        ("8", "timezone: 8 is not a time zone"),
    ],
)
def test_a_timezone_that_is_not_one_is_a_config_error(cwd: Path, value: str, said: str) -> None:
    write_config(cwd, f"timezone: {value}\n")
    with pytest.raises(ConfigError) as caught:
        load(cwd)
    assert said in str(caught.value)


def test_delegations_that_swap_on_different_days_are_no_loop(cwd: Path) -> None:
    write_config(
        cwd,
        "team:\n"
        "  ann: {roles: [legal], delegate: {to: bo, from: 2026-12-20, until: 2026-12-31}}\n"
        "  bo: {roles: [legal], delegate: {to: ann, from: 2027-01-01, until: 2027-01-10}}\n",
    )
    settings = load(cwd)
    assert settings.people["ann"].delegate is not None
    assert settings.people["bo"].delegate is not None
