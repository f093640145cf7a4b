"""Project settings: ``opsflow.yaml``, ``${VAR}`` expansion and precedence (SPEC §3, §5).

Each setting comes from the command-line option, else the environment variable, else
``opsflow.yaml``, else the default. Relative paths in ``opsflow.yaml`` (workflows, the
plugins folder, ``sqlite:///relative.db``, source paths, ``file`` channel paths) are taken
from that file's folder; relative paths given as options or environment variables from the
current directory. Values that came from ``${VAR}`` are secrets: :meth:`Settings.redact`
hides them.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import yaml

from opsflow.calendars import Calendar, calendars_of, zone_name
from opsflow.errors import ConfigError
from opsflow.people import Person, ServerSettings, admins_of, people_of, server_of
from opsflow.suggest import unknown_keys

CONFIG_FILE = "opsflow.yaml"
DEFAULT_DB_FILE = "opsflow.db"
ENV_DB = "OPSFLOW_DB"
ENV_WORKFLOWS = "OPSFLOW_WORKFLOWS"
ENV_CONFIG = "OPSFLOW_CONFIG"
ENV_ACTOR = "OPSFLOW_ACTOR"
ENV_PLUGINS_DIR = "OPSFLOW_PLUGINS_DIR"

CONFIG_KEYS = (
    "database",
    "workflows",
    "team",
    "admins",
    "server",
    "channels",
    "sources",
    "plugins",
    "calendars",
    "timezone",
)

PLUGINS_KEYS = ("dir", "allow", "strict")
SOURCE_KEYS = ("path", "format", "columns", "url", "query", "description")
MAX_CONFIG_BYTES = 1 << 20
MAX_CONFIG_NODES = 100_000
MIN_SECRET_LENGTH = 4

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
_VARIABLE = re.compile(r"\$(\$)?\{([^}]*)\}")
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SQLITE_URL = re.compile(r"^(sqlite(?:\+\w+)?:///)([^?]*)(\?.*)?$")


@dataclass
class Settings:
    """Everything opsflow needs to know about the project, resolved and validated."""

    db_url: str
    workflows_dir: Path
    config_path: Path | None
    base_dir: Path
    actor: str
    team: dict[str, list[str]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugins_dir: Path | None = None
    plugins_allow: list[str] | None = None
    plugins_strict: bool = False
    secrets: frozenset[str] = frozenset()
    people: dict[str, Person] = field(default_factory=dict)
    admins: list[str] = field(default_factory=list)
    server: ServerSettings = field(default_factory=lambda: ServerSettings())
    calendars: dict[str, Calendar] = field(default_factory=dict)
    # How times are shown and naive input is read; what ``today`` means; where a date
    # timer's midnight is. An IANA name; UTC when opsflow.yaml says nothing.
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        """The project's time zone (:attr:`timezone`)."""
        return ZoneInfo(self.timezone)

    def redact(self, text: str) -> str:
        """``text`` with every secret (of 4 characters or more) replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= MIN_SECRET_LENGTH:
                text = text.replace(secret, "***")
        return text

    def roles(self, person: str) -> list[str]:
        """The roles ``team`` gives ``person`` (none when not listed)."""
        return list(self.team.get(person, []))


def load_settings(
    *,
    db: str | None = None,
    workflows: str | Path | None = None,
    config: str | Path | None = None,
    actor: str | None = None,
    plugins_dir: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    read_config: bool = True,
) -> Settings:
    """Resolve the settings: option > environment > ``opsflow.yaml`` > default.

    ``read_config=False`` reads nothing but the arguments (no file, no ``OPSFLOW_*``
    variable, no local plugins folder): what an explicitly constructed ``Engine`` gets.
    """
    if not read_config:
        env = {}
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).absolute()
    config_path = _config_path(config, env, cwd) if read_config else None
    raw = _read_config(config_path) if config_path else {}
    label = str(config_path) if config_path else "configuration"
    problems: list[str] = []
    secrets: set[str] = set()
    raw = _expand(raw, env, secrets, problems)
    base_dir = config_path.parent if config_path else cwd
    _check_keys(raw, CONFIG_KEYS, "", problems)
    db_url = _database_url(db, _env_value(env, ENV_DB), raw, cwd, base_dir, problems)
    secrets.update(_url_password(db_url))
    file_workflows = _text(raw, "workflows", problems)
    workflows_dir = (
        _pick_path(workflows, _env_value(env, ENV_WORKFLOWS), file_workflows, cwd, base_dir)
        or base_dir / "workflows"
    )
    plugins = _plugins_section(raw, problems)
    local_plugins = _plugins_dir(
        plugins_dir, env, plugins, cwd, base_dir, problems, read_config=read_config
    )
    settings = Settings(
        db_url=db_url,
        workflows_dir=workflows_dir,
        config_path=config_path,
        base_dir=base_dir,
        actor=_actor(actor, _env_value(env, ENV_ACTOR)),
        team=_team(raw.get("team"), problems),
        people=people_of(raw.get("team"), problems),
        admins=admins_of(raw.get("admins"), raw.get("team"), problems),
        server=server_of(raw.get("server"), problems),
        channels=_channels(raw.get("channels"), base_dir, problems),
        sources=_sources(raw.get("sources"), base_dir, problems),
        calendars=calendars_of(raw.get("calendars"), problems),
        timezone=_project_timezone(raw.get("timezone"), problems),
        plugins_dir=local_plugins,
        plugins_allow=plugins.get("allow"),
        plugins_strict=bool(plugins.get("strict", False)),
        secrets=frozenset(secrets),
    )
    if problems:
        message = settings.redact(f"{label}: {'; '.join(problems)}")
        raise ConfigError(message, [settings.redact(p) for p in problems])
    return settings


def _env_value(env: Mapping[str, str], name: str) -> str | None:
    """The variable ``name`` of ``env``; None when unset or empty."""
    return env.get(name) or None


def _database_url(
    option: str | None,
    env_value: str | None,
    raw: Mapping[str, Any],
    cwd: Path,
    base_dir: Path,
    problems: list[str],
) -> str:
    """The database URL: ``--db`` > ``OPSFLOW_DB`` > ``database:`` > ``./opsflow.db``.

    A relative SQLite path is taken from the working directory when given as an option or
    variable, from the configuration file's folder when written there.
    """
    file_db = _text(raw, "database", problems)
    if option is not None or env_value:
        url = _absolute_sqlite(str(option if option is not None else env_value), cwd)
    elif file_db is not None:
        url = _absolute_sqlite(file_db, base_dir)
    else:
        url = f"sqlite:///{cwd / DEFAULT_DB_FILE}"
    if not url.strip():
        problems.append("database: the URL is empty")
    return url


def _url_password(url: str) -> set[str]:
    """The password written in a database URL (a secret to redact), if any."""
    try:
        password = urlsplit(url).password if "://" in url else None
    except ValueError:  # a malformed URL: the database layer reports it plainly
        password = None
    return {password} if password else set()


def _plugins_dir(
    option: str | Path | None,
    env: Mapping[str, str],
    plugins: Mapping[str, Any],
    cwd: Path,
    base_dir: Path,
    problems: list[str],
    *,
    read_config: bool,
) -> Path | None:
    """The local plugins folder: the one given (which must exist), else ``./plugins`` when
    the configuration is read and that folder exists."""
    given = _pick_path(option, _env_value(env, ENV_PLUGINS_DIR), plugins.get("dir"), cwd, base_dir)
    if given is not None and not given.is_dir():
        problems.append(f"plugins folder not found: {given}")
    default = base_dir / "plugins"
    return given or (default if read_config and default.is_dir() else None)


def _config_path(option: str | Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file: the option, else ``OPSFLOW_CONFIG``, else ``./opsflow.yaml`` if present."""
    given = option if option is not None else (env.get(ENV_CONFIG) or None)
    if given is None:
        default = cwd / CONFIG_FILE
        return default if default.is_file() else None
    path = Path(given).expanduser()
    path = path if path.is_absolute() else cwd / path
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    return path


def _read_config(path: Path) -> dict[str, Any]:
    """Parse the config file with the YAML safe loader, size-limited."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: the config file is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        loaded = yaml.safe_load(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the config file must be a mapping of settings")
    return loaded


def _expand(raw: Any, env: Mapping[str, str], secrets: set[str], problems: list[str]) -> Any:
    """Replace ``${VAR}`` in every string value (``$${`` is a literal ``${``)."""
    budget = [MAX_CONFIG_NODES]

    def walk(value: Any, where: str) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"the configuration has more than {MAX_CONFIG_NODES} values")
        if isinstance(value, str):
            return _VARIABLE.sub(lambda m: substitute(m, where), value)
        if isinstance(value, dict):
            return {k: walk(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return value

    def substitute(match: re.Match[str], where: str) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "${" + name + "}"
        if not _VARIABLE_NAME.match(name):
            problems.append(f"{where}: ${{{name}}} is not a variable name")
            return match.group(0)
        if name not in env:
            problems.append(f"{where}: environment variable {name} is not set")
            return ""
        secrets.add(env[name])
        return env[name]

    return walk(raw, "")


def project_zone(settings: Any) -> ZoneInfo:
    """The time zone of ``settings`` (UTC for settings made without one, as a test's)."""
    zone = getattr(settings, "zone", None)
    return zone if isinstance(zone, ZoneInfo) else ZoneInfo("UTC")


def _project_timezone(value: Any, problems: list[str]) -> str:
    """``timezone: Asia/Shanghai``: an IANA name (UTC when not given)."""
    if value is None:
        return "UTC"
    return zone_name(value, "timezone", problems) or "UTC"


def _check_keys(
    section: Mapping[Any, Any], known: tuple[str, ...], where: str, problems: list[str]
) -> None:
    problems.extend(unknown_keys(section, known, where))


def _text(raw: Mapping[str, Any], key: str, problems: list[str]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be a non-empty string")
        return None
    return value


def _pick_path(
    option: str | Path | None, env_value: str | None, file_value: Any, cwd: Path, base_dir: Path
) -> Path | None:
    """The first given of option, environment, file; relative to cwd or the file's folder."""
    for value, anchor in ((option, cwd), (env_value, cwd), (file_value, base_dir)):
        if value is not None and str(value) != "":
            path = Path(value).expanduser()
            return path if path.is_absolute() else anchor / path
    return None


def _absolute_sqlite(url: str, anchor: Path) -> str:
    """``sqlite:///relative.db`` with the file made absolute from ``anchor``."""
    match = _SQLITE_URL.match(url)
    if not match:
        return url
    prefix, file, query = match.group(1), match.group(2), match.group(3) or ""
    if not file or file == ":memory:" or file.startswith("file:") or Path(file).is_absolute():
        return url
    return f"{prefix}{anchor / file}{query}"


def _actor(option: str | None, env_value: str | None) -> str:
    """``--as``, else ``OPSFLOW_ACTOR``, else the OS login."""
    name = option if option is not None else env_value
    if name is None:
        try:
            name = getpass.getuser()
        except Exception:  # no login name (a container without a passwd entry)
            name = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    name = name.strip()
    if not name:
        raise ConfigError("the actor name is empty (check --as / OPSFLOW_ACTOR)")
    return name


def _team(value: Any, problems: list[str]) -> dict[str, list[str]]:
    """``team``: person -> list of role identifiers."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("team: must map each person to a list of roles")
        return {}
    team: dict[str, list[str]] = {}
    for person, roles in value.items():
        if not isinstance(person, str) or not person.strip():
            problems.append(f"team: {person!r} is not a person's name (quote it)")
            continue
        if isinstance(roles, str):
            roles = [roles]
        if roles is None:
            roles = []
        if isinstance(roles, dict):  # the long form: {roles: [...], name, email, ...}
            roles = roles.get("roles") or []
            if isinstance(roles, str):
                roles = [roles]
        if not isinstance(roles, list):
            problems.append(f"team.{person}: must be a list of roles")
            continue
        bad = [r for r in roles if not isinstance(r, str) or not _IDENTIFIER.match(r)]
        if bad:
            problems.append(
                f"team.{person}: {', '.join(repr(r) for r in bad)} is not a role identifier"
                " ([a-z][a-z0-9_]*)"
            )
            continue
        team[person] = list(dict.fromkeys(roles))
    return team


def _named_mappings(value: Any, section: str, problems: list[str]) -> dict[str, dict[str, Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{section}: must map names to settings")
        return {}
    result: dict[str, dict[str, Any]] = {}
    for name, settings in value.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            problems.append(f"{section}: {name!r} is not an identifier ([a-z][a-z0-9_]*)")
        elif not isinstance(settings, dict):
            problems.append(f"{section}.{name}: must be a mapping of settings")
        else:
            result[name] = dict(settings)
    return result


def _channels(value: Any, base_dir: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    """``channels``: name -> settings with a ``notifier``; file paths made absolute."""
    channels = _named_mappings(value, "channels", problems)
    for name, settings in channels.items():
        notifier = settings.get("notifier")
        if not isinstance(notifier, str) or not notifier:
            problems.append(f"channels.{name}: `notifier` is required (for example console)")
        path = settings.get("path")
        if notifier == "file" and isinstance(path, str) and path:
            settings["path"] = str(_anchored(path, base_dir))
    return channels


def _sources(value: Any, base_dir: Path, problems: list[str]) -> dict[str, dict[str, Any]]:
    """``sources``: name -> a file ``path`` or a ``url`` + ``query``; paths made absolute."""
    sources = _named_mappings(value, "sources", problems)
    for name, settings in sources.items():
        _check_keys(settings, SOURCE_KEYS, f"sources.{name}", problems)
        path, url, query = settings.get("path"), settings.get("url"), settings.get("query")
        if path is not None:
            if not isinstance(path, str) or not path or url is not None:
                problems.append(f"sources.{name}: `path` must be a file path, without `url`")
            else:
                settings["path"] = str(_anchored(path, base_dir))
        elif not (isinstance(url, str) and url and isinstance(query, str) and query.strip()):
            problems.append(f"sources.{name}: needs a `path`, or a `url` and a `query`")
        columns = settings.get("columns")
        if columns is not None and not (
            isinstance(columns, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items())
        ):
            problems.append(f"sources.{name}.columns: must map our column names to theirs")
    return sources


def _anchored(path: str, base_dir: Path) -> Path:
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else base_dir / candidate


def _plugins_section(raw: Mapping[str, Any], problems: list[str]) -> dict[str, Any]:
    """``plugins: {dir, allow, strict}``, checked."""
    value = raw.get("plugins")
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append("plugins: must be a mapping with dir, allow, strict")
        return {}
    _check_keys(value, PLUGINS_KEYS, "plugins", problems)
    result: dict[str, Any] = {}
    if value.get("dir") is not None:
        if isinstance(value["dir"], str) and value["dir"]:
            result["dir"] = value["dir"]
        else:
            problems.append("plugins.dir: must be a folder path")
    allow = value.get("allow")
    if allow is not None:
        if isinstance(allow, list) and all(isinstance(a, str) and a for a in allow):
            result["allow"] = list(allow)
        else:
            problems.append("plugins.allow: must be a list of plugin names")
    strict = value.get("strict")
    if strict is not None:
        if isinstance(strict, bool):
            result["strict"] = strict
        else:
            problems.append("plugins.strict: must be true or false")
    return result


__all__ = ["Settings", "load_settings"]
