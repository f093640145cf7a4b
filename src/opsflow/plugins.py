"""The plugin manager: built-in, installed and local plugins, all through the same hooks.

Loading order (each later step sees what the earlier ones registered):

1. ``DEFAULT_PLUGINS`` — opsflow's own calculators and notifiers;
2. installed plugins — entry points in the group ``opsflow`` (skipped when
   ``OPSFLOW_DISABLE_PLUGIN_AUTOLOAD`` is set; filtered by the config's allow-list);
3. local plugins — every ``*.py`` module in the project's plugins folder.

A plugin that fails (import error, a misspelt hook, a ``register_*`` hook that raises, a
name already taken) is recorded in ``Plugins.errors`` and left out; with ``strict=True``
loading raises :class:`~opsflow.errors.ConfigError` instead. Built-ins always fail loudly.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pluggy

from opsflow import hookspecs
from opsflow.errors import ConfigError
from opsflow.plugin_records import (  # the records plugins receive, re-exported here
    Calculator,
    CalculatorContext,
    Notification,
    Notifier,
    PluginFailure,
    PluginInfo,
)

logger = logging.getLogger("opsflow.plugins")

DEFAULT_PLUGINS: tuple[str, ...] = (
    "opsflow.builtins.calculators",
    "opsflow.builtins.notifiers",
)
ENTRY_POINT_GROUP = "opsflow"
DISABLE_AUTOLOAD_ENV = "OPSFLOW_DISABLE_PLUGIN_AUTOLOAD"
LOCAL_PACKAGE = "opsflow_local_plugins"

# Names an expression function may not take: the evaluator's own functions (SPEC §2.6).
RESERVED_FUNCTIONS = frozenset(
    {"len", "min", "max", "abs", "round", "days_since", "hours_since", "today", "date"}
)
_FUNCTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

PluginError = PluginFailure  # its former name (a record of a failure, not an exception)


@dataclass
class _Origin:
    kind: str
    version: str | None = None


class Plugins:
    """The loaded plugins: their calculators, notifiers, functions, commands and hooks."""

    def __init__(self, pm: pluggy.PluginManager, *, strict: bool = False) -> None:
        self.pm = pm
        self.strict = strict
        self.calculators: dict[str, Calculator] = {}
        self.notifiers: dict[str, Notifier] = {}
        self.functions: dict[str, Callable[..., Any]] = {}
        self.infos: list[PluginInfo] = []
        self._load_errors: list[PluginFailure] = []
        self._register_errors: list[PluginFailure] = []
        self._origins: dict[str, _Origin] = {}
        self._transition_hooks: tuple[int | None, bool, bool] | None = None

    @property
    def errors(self) -> list[PluginFailure]:
        """Every plugin failure: loading, hook validation and registration."""
        return [*self._load_errors, *self._register_errors]

    def info(self, name: str) -> PluginInfo | None:
        """The info of the plugin registered under ``name``, if any."""
        return next((info for info in self.infos if info.name == name), None)

    # -- building ------------------------------------------------------------------------

    def add(
        self, plugin: object, name: str, *, kind: str = "local", version: str | None = None
    ) -> bool:
        """Register one plugin object or module and refresh the registries; False if it failed."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._fail(name, f"{type(exc).__name__}: {exc}")
            return False
        self._origins[name] = _Origin(kind, version)
        ok = self._check_pending()
        self.refresh()
        return ok and not any(e.name == name for e in self._register_errors)

    def remove(self, name: str) -> None:
        """Unregister a plugin by name and refresh the registries."""
        if self.pm.get_plugin(name) is not None:
            self.pm.unregister(name=name)
        self._origins.pop(name, None)
        self.refresh()

    def _fail(self, name: str, error: str) -> None:
        logger.info("plugin %s failed: %s", name, error)
        self._load_errors.append(PluginFailure(name, error))

    def _check_pending(self) -> bool:
        """Unregister (and record) every plugin implementing a hook opsflow does not define."""
        ok = True
        while True:
            try:
                self.pm.check_pending()
                return ok
            except pluggy.PluginValidationError as exc:
                ok = False
                name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
                if self._origins.get(name, _Origin("")).kind == "builtin":
                    raise
                self.pm.unregister(exc.plugin)
                self._origins.pop(name, None)
                self._fail(name, f"unknown hook: {exc}")

    def refresh(self) -> None:
        """Rebuild calculators, notifiers, functions and infos from the registered plugins."""
        self.calculators, self.notifiers, self.functions = {}, {}, {}
        self._register_errors = []
        self.infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # blocked
                continue
            origin = self._origins.get(name, _Origin("local"))
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            self.infos.append(PluginInfo(name, origin.kind, origin.version, hooks))
        self._collect("register_calculators", self._add_calculator)
        self._collect("register_notifiers", self._add_notifier)
        self._collect("register_functions", self._add_function)

    def _collect(self, hook: str, add: Callable[..., None]) -> None:
        """Call one ``register_*`` hook plugin by plugin, so each entry is attributed."""
        for impl in _impls(self.pm, hook):
            staged: list[tuple[Any, ...]] = []
            register = _stager(staged, _REGISTER_CHECKS[hook])
            try:
                impl.function(**_kwargs(impl, register=register))
            except Exception as exc:
                self._registration_failed(impl.plugin_name, f"{hook}: {type(exc).__name__}: {exc}")
                continue
            for entry in staged:
                add(impl.plugin_name, *entry)

    def _registration_failed(self, name: str, error: str) -> None:
        logger.info("plugin %s failed: %s", name, error)
        self._register_errors.append(PluginFailure(name, error))

    def _taken(self, kind: str, name: str, owner: str, plugin: str) -> None:
        self._registration_failed(
            plugin, f"{kind} '{name}' is already registered by plugin {owner}; ignored"
        )

    def _add_calculator(self, plugin: str, name: str, fn: Any, params_model: Any) -> None:
        if name in self.calculators:
            return self._taken("calculator", name, self.calculators[name].plugin, plugin)
        self.calculators[name] = Calculator(name, fn, params_model, plugin)
        self._info(plugin).calculators.append(name)
        return None

    def _add_notifier(self, plugin: str, name: str, notifier: Any) -> None:
        if name in self.notifiers:
            return self._taken("notifier", name, self._owner("notifiers", name), plugin)
        self.notifiers[name] = notifier
        self._info(plugin).notifiers.append(name)
        return None

    def _add_function(self, plugin: str, name: str, fn: Any) -> None:
        if name in RESERVED_FUNCTIONS:
            return self._taken("function", name, "opsflow (built-in)", plugin)
        if name in self.functions:
            return self._taken("function", name, self._owner("functions", name), plugin)
        self.functions[name] = fn
        self._info(plugin).functions.append(name)
        return None

    def _info(self, plugin: str) -> PluginInfo:
        info = self.info(plugin)
        if info is None:  # registered outside add(): still listed
            info = PluginInfo(plugin, "local")
            self.infos.append(info)
        return info

    def _owner(self, attribute: str, name: str) -> str:
        return next((i.name for i in self.infos if name in getattr(i, attribute)), "?")

    # -- hooks the engine and the CLI call -----------------------------------------------

    @property
    def has_before_transition(self) -> bool:
        """Whether any plugin guards transitions (the engine skips building hook data if not)."""
        known = self._transition_hooks
        if known is None or known[0] != getattr(self.pm, "generation", None):
            known = self._count_transition_hooks()
        return known[1]

    @property
    def has_after_transition(self) -> bool:
        """Whether any plugin observes committed transitions."""
        known = self._transition_hooks
        if known is None or known[0] != getattr(self.pm, "generation", None):
            known = self._count_transition_hooks()
        return known[2]

    def _count_transition_hooks(self) -> tuple[int | None, bool, bool]:
        """Whether the transition hooks have implementations, remembered until the next
        registration (a manager that does not count them is asked every time)."""
        generation = getattr(self.pm, "generation", None)
        known = (
            generation,
            bool(_impls(self.pm, "before_transition")),
            bool(_impls(self.pm, "after_transition")),
        )
        self._transition_hooks = known if generation is not None else None
        return known

    def before_transition(self, *, case: Any, transition: Any, actor: Any) -> list[str]:
        """Ask every plugin; return the refusals (empty: allowed).

        A plugin that raises, or returns something other than a string or None, refuses
        (naming itself): a broken guard fails closed.
        """
        refusals: list[str] = []
        for impl in _impls(self.pm, "before_transition"):
            try:
                answer = impl.function(
                    **_kwargs(impl, case=case, transition=transition, actor=actor)
                )
            except Exception as exc:
                logger.exception("plugin %s: before_transition failed", impl.plugin_name)
                refusals.append(f"plugin {impl.plugin_name} failed: {type(exc).__name__}: {exc}")
                continue
            if answer is None or answer == "":
                continue
            if isinstance(answer, str):
                refusals.append(answer)
            else:
                refusals.append(
                    f"plugin {impl.plugin_name} failed: before_transition returned {answer!r}"
                )
        return refusals

    def after_transition(self, *, case: Any, transition: Any, actor: Any, entry: Any) -> None:
        """Tell every observer; an observer's exception is logged, never raised."""
        for impl in _impls(self.pm, "after_transition"):
            try:
                impl.function(
                    **_kwargs(impl, case=case, transition=transition, actor=actor, entry=entry)
                )
            except Exception:
                logger.exception("plugin %s: after_transition failed", impl.plugin_name)

    def register_commands(self, cli: Any) -> None:
        """Let every plugin add click commands to ``cli`` (a click group)."""
        for impl in _impls(self.pm, "register_commands"):
            before = set(getattr(cli, "commands", {}))
            try:
                impl.function(**_kwargs(impl, cli=cli))
            except Exception as exc:
                error = f"register_commands: {type(exc).__name__}: {exc}"
                self._registration_failed(impl.plugin_name, error)
                if self.strict:
                    raise ConfigError(f"plugin {impl.plugin_name} failed: {error}") from exc
                continue
            added = sorted(set(getattr(cli, "commands", {})) - before)
            self._info(impl.plugin_name).commands.extend(added)


def _impls(pm: pluggy.PluginManager, hook: str) -> list[Any]:
    """The plain implementations of a hook in registration order (wrappers are skipped)."""
    impls = getattr(pm.hook, hook).get_hookimpls()
    return [i for i in impls if not (i.hookwrapper or getattr(i, "wrapper", False))]


def _stager(
    staged: list[tuple[Any, ...]], check: Callable[..., tuple[Any, ...]]
) -> Callable[..., None]:
    """A ``register`` callback: checks each entry at once, keeps it for adding later."""

    def register(*args: Any, **kwargs: Any) -> None:
        staged.append(check(*args, **kwargs))

    return register


def _kwargs(impl: Any, **available: Any) -> dict[str, Any]:
    """The arguments an implementation asked for: each hook may take a subset."""
    return {name: available[name] for name in impl.argnames if name in available}


def _check_calculator(name: Any, fn: Any, params_model: Any = None) -> tuple[Any, ...]:
    _check_name("calculator", name)
    _check_callable("calculator", name, fn)
    if params_model is not None and not hasattr(params_model, "model_validate"):
        raise TypeError(f"calculator '{name}': params_model must be a pydantic model class")
    return (name, fn, params_model)


def _check_notifier(name: Any, notifier: Any) -> tuple[Any, ...]:
    _check_name("notifier", name)
    _check_callable("notifier", name, notifier)
    return (name, notifier)


def _check_function(name: Any, fn: Any) -> tuple[Any, ...]:
    _check_name("function", name)
    if not _FUNCTION_NAME.match(name):
        raise ValueError(f"function name {name!r} is not an identifier ([a-z][a-z0-9_]*)")
    _check_callable("function", name, fn)
    return (name, fn)


def _check_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"a {kind} name must be a non-empty string, not {name!r}")


def _check_callable(kind: str, name: str, fn: Any) -> None:
    if not callable(fn):
        raise TypeError(f"{kind} '{name}' is not callable: {fn!r}")


_REGISTER_CHECKS: dict[str, Callable[..., tuple[Any, ...]]] = {
    "register_calculators": _check_calculator,
    "register_notifiers": _check_notifier,
    "register_functions": _check_function,
}


def _autoload_disabled(env: Mapping[str, str]) -> bool:
    return env.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _allowed(ep: importlib.metadata.EntryPoint, allow: frozenset[str] | None) -> bool:
    """An allow-list names an entry point or its distribution (pip's name spelling)."""
    if allow is None:
        return True
    names = {_normalise(ep.name)}
    if ep.dist is not None:
        names.add(_normalise(ep.dist.name))
    return bool(names & allow)


def _load_entry_points(plugins: Plugins, allow: frozenset[str] | None) -> None:
    eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    for ep in sorted(eps, key=lambda e: e.name):
        if not _allowed(ep, allow) or plugins.pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
        except (Exception, SystemExit) as exc:
            plugins._fail(ep.name, f"import failed: {type(exc).__name__}: {exc}")
            continue
        version = ep.dist.version if ep.dist is not None else None
        _register(plugins, plugin, ep.name, "installed", version)


def _load_local(plugins: Plugins, plugins_dir: Path) -> None:
    if not plugins_dir.is_dir():
        plugins._fail(str(plugins_dir), "plugins folder not found")
        return
    package = sys.modules.get(LOCAL_PACKAGE)
    if package is None:
        package = types.ModuleType(LOCAL_PACKAGE)
        sys.modules[LOCAL_PACKAGE] = package
    package.__path__ = [str(plugins_dir)]  # lets local plugins import each other
    for path in sorted(plugins_dir.glob("*.py")):
        module_name = f"{LOCAL_PACKAGE}.{path.stem}"
        try:
            spec = importlib.util.spec_from_file_location(module_name, path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            sys.modules.pop(module_name, None)
            plugins._fail(path.stem, f"import failed ({path}): {type(exc).__name__}: {exc}")
            continue
        _register(plugins, module, path.stem, "local", None)


def _register(plugins: Plugins, plugin: object, name: str, kind: str, version: str | None) -> None:
    try:
        plugins.pm.register(plugin, name=name)
    except Exception as exc:
        plugins._fail(name, f"{type(exc).__name__}: {exc}")
        return
    plugins._origins[name] = _Origin(kind, version)


def _opsflow_version() -> str:
    """opsflow's version (``__version__``, kept equal to the package metadata by a test)."""
    from opsflow.version import __version__

    return __version__


class PluginManager(pluggy.PluginManager):
    """pluggy's manager counting its registrations, so that what a hook has is asked once.

    Every fire asks whether any plugin guards or observes transitions; the answer changes
    only when a plugin is registered or unregistered.
    """

    def __init__(self, project_name: str) -> None:
        super().__init__(project_name)
        self.generation = 0

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name=name)
        finally:  # after: a count taken meanwhile belongs to the old generation
            self.generation += 1

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        try:
            return super().unregister(plugin=plugin, name=name)
        finally:
            self.generation += 1


def new_plugin_manager() -> PluginManager:
    """A fresh plugin manager that knows opsflow's hooks."""
    pm = PluginManager("opsflow")
    pm.add_hookspecs(hookspecs)
    return pm


def load_plugins(
    *,
    plugins_dir: Path | str | None = None,
    allow: Iterable[str] | None = None,
    strict: bool = False,
    env: Mapping[str, str] | None = None,
) -> Plugins:
    """Load the built-in, installed and local plugins into a fresh :class:`Plugins`.

    ``allow`` (names of entry points or distributions) limits the installed plugins;
    local plugins are project code and always load. With ``strict``, any plugin failure
    raises :class:`ConfigError` naming it.
    """
    env = os.environ if env is None else env
    plugins = Plugins(new_plugin_manager(), strict=strict)
    for module_name in DEFAULT_PLUGINS:
        try:
            module = importlib.import_module(module_name)
            plugins.pm.register(module, name=module_name)
        except Exception as exc:
            raise ConfigError(f"built-in plugin {module_name} failed: {exc}") from exc
        plugins._origins[module_name] = _Origin("builtin", _opsflow_version())
    if not _autoload_disabled(env):
        allowed = None if allow is None else frozenset(_normalise(a) for a in allow)
        _load_entry_points(plugins, allowed)
    if plugins_dir is not None:
        _load_local(plugins, Path(plugins_dir))
    plugins._check_pending()
    plugins.refresh()
    builtin_errors = [
        e for e in plugins.errors if plugins._origins.get(e.name, _Origin("")).kind == "builtin"
    ]
    if builtin_errors:
        raise ConfigError(f"built-in {builtin_errors[0]}")
    if strict and plugins.errors:
        first = plugins.errors[0]
        raise ConfigError(f"{first}", [str(e) for e in plugins.errors])
    return plugins


@cache
def default_plugins() -> Plugins:
    """The plugins for this process (built-ins and installed), loaded once and cached."""
    return load_plugins()


__all__ = [
    "DEFAULT_PLUGINS",
    "Calculator",
    "CalculatorContext",
    "Notification",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "Plugins",
    "default_plugins",
    "load_plugins",
    "new_plugin_manager",
]
