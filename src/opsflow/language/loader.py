"""Load workflow files: text → :class:`LoadedWorkflow` plus every diagnostic (SPEC §2.9).

Loading never raises for bad input: the YAML layer (:mod:`yamlio`), the structure
(:mod:`structure`), the references (:mod:`checks`) and the graph (:mod:`checks_graph`) each
add diagnostics, and a workflow is returned only when none of them is an error.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opsflow.language.cache import text_hash
from opsflow.language.context import LoadContext, team_context
from opsflow.language.diagnostics import Diagnostic, sort_diagnostics
from opsflow.language.models import IDENTIFIER_PATTERN, WorkflowSpec

if TYPE_CHECKING:  # the YAML layer and the checks are imported when a text is checked
    from opsflow.language.yamlio import YamlDocument

__all__ = [
    "MAX_BYTES",
    "WORKFLOW_SUFFIXES",
    "LoadContext",
    "LoadedWorkflow",
    "load_workflow_file",
    "load_workflow_paths",
    "load_workflow_text",
    "team_context",
    "workflow_files",
]

MAX_BYTES = 1024 * 1024  # = yamlio.MAX_BYTES, without importing the YAML layer
WORKFLOW_SUFFIXES = (".yaml", ".yml")
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


@dataclass(frozen=True)
class LoadedWorkflow:
    """A workflow file that loaded without errors."""

    spec: WorkflowSpec
    text: str
    path: str
    hash: str  # sha256 hex of the UTF-8 text


def _check(
    text: str, path: str, ctx: LoadContext
) -> tuple[LoadedWorkflow | None, list[Diagnostic], YamlDocument | None]:
    from pydantic import ValidationError

    from opsflow.language.checks import Checker
    from opsflow.language.checks_graph import check_graph
    from opsflow.language.diagnostics import has_errors
    from opsflow.language.structure import (
        Describer,
        build_parts,
        resolve_bool_traps,
        translate_errors,
    )
    from opsflow.language.yamlio import load_yaml

    doc, diagnostics = load_yaml(text, path)
    if doc is None:
        return None, diagnostics, None
    if not isinstance(doc.data, dict):
        line, col = doc.locate(())
        message = (
            "a workflow file is a mapping with the keys workflow, version, states, transitions, ..."
        )
        return None, [*diagnostics, Diagnostic(path, line, col, "error", message)], doc
    diagnostics += resolve_bool_traps(doc, path)
    spec: WorkflowSpec | None = None
    try:
        spec = WorkflowSpec.model_validate(doc.data)
    except ValidationError as exc:
        diagnostics += translate_errors(exc, doc, path, Describer(doc.data))
    parts = build_parts(doc.data)
    checker = Checker(parts, doc, path, ctx)
    checker.run()
    check_graph(checker)
    diagnostics = sort_diagnostics([*diagnostics, *checker.diagnostics])
    if spec is None or has_errors(diagnostics):
        return None, diagnostics, doc
    return LoadedWorkflow(spec=spec, text=text, path=path, hash=text_hash(text)), diagnostics, doc


def _guarded(
    text: str, path: str, ctx: LoadContext
) -> tuple[LoadedWorkflow | None, list[Diagnostic], YamlDocument | None]:
    try:
        return _check(text, path, ctx)
    except Exception as exc:  # noqa: BLE001 - a checker bug must not crash `opsflow validate`
        message = f"internal error while checking this file ({type(exc).__name__}: {exc})"
        return None, [Diagnostic(path, 1, 1, "error", message)], None


def load_workflow_text(
    text: str, path: str = "<string>", ctx: LoadContext | None = None, *, trusted: bool = False
) -> tuple[LoadedWorkflow | None, list[Diagnostic]]:
    """Load one workflow from text; the workflow is None when any error was found.

    ``trusted``: the text is a registered version read back from opsflow's own store. A
    text that passed every check before under the same context (in this process, or in
    the on-disk cache of :mod:`opsflow.language.cache`) is not checked again, and its
    warnings are not repeated; any other text is checked in full.
    """
    context = ctx or LoadContext()
    if not trusted:
        checked, found, _ = _guarded(text, path, context)
        return checked, found
    digest = text_hash(text)
    spec = _CHECKED.get((digest, context))
    diagnostics: list[Diagnostic] = []
    if spec is None:
        from opsflow.language import cache

        spec = cache.read_spec(digest, context)
        if spec is None:
            loaded, diagnostics, _ = _guarded(text, path, context)
            if loaded is None:
                return None, diagnostics
            spec = loaded.spec
            cache.write_spec(digest, context, spec)
        with _CHECKED_LOCK:
            _CHECKED[(digest, context)] = spec
    return LoadedWorkflow(spec=spec, text=text, path=path, hash=digest), diagnostics


# Texts that passed every check in this process: (text hash, context) -> spec.
_CHECKED: dict[tuple[str, LoadContext], WorkflowSpec] = {}
_CHECKED_LOCK = threading.Lock()


def _read(path: Path) -> tuple[str | None, list[Diagnostic]]:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            message = (
                f"the file is {size} bytes; workflow files are limited to 1 MiB ({MAX_BYTES} bytes)"
            )
            return None, [Diagnostic(name, 1, 1, "error", message)]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic(name, 1, 1, "error", f"cannot read the file: {exc.strerror}")]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot be decoded)"
        return None, [Diagnostic(name, line, col, "error", message)]


def _load_file(
    path: Path, ctx: LoadContext
) -> tuple[LoadedWorkflow | None, list[Diagnostic], YamlDocument | None]:
    text, diagnostics = _read(path)
    if text is None:
        return None, diagnostics, None
    loaded, diagnostics, doc = _guarded(text, str(path), ctx)
    workflow = doc.data.get("workflow") if doc is not None and isinstance(doc.data, dict) else None
    if isinstance(workflow, str) and path.stem != workflow and _IDENTIFIER.fullmatch(workflow):
        line, col = doc.locate(("workflow",)) if doc is not None else (1, 1)
        message = (
            f"workflow id '{workflow}' differs from the file name '{path.name}'; "
            f"name the file {workflow}{path.suffix}"
        )
        diagnostics = sort_diagnostics(
            [*diagnostics, Diagnostic(str(path), line, col, "warning", message)]
        )
    return loaded, diagnostics, doc


def load_workflow_file(
    path: Path, ctx: LoadContext | None = None
) -> tuple[LoadedWorkflow | None, list[Diagnostic]]:
    """Load one workflow file; warn when its name differs from the workflow id."""
    loaded, diagnostics, _ = _load_file(Path(path), ctx or LoadContext())
    return loaded, diagnostics


def workflow_files(paths: Sequence[Path]) -> tuple[list[Path], list[Diagnostic]]:
    """Expand files and folders into workflow files (folders: *.yaml/*.yml, not tests/)."""
    files: list[Path] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path).parts
                if (
                    found.suffix in WORKFLOW_SUFFIXES
                    and found.is_file()
                    and "tests" not in relative[:-1]
                    and not any(p.startswith(".") for p in relative)
                ):
                    files.append(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(Diagnostic(str(path), 1, 1, "error", "no such file or folder"))
    return files, problems


def load_workflow_paths(
    paths: Sequence[Path], ctx: LoadContext | None = None
) -> tuple[dict[str, LoadedWorkflow], list[Diagnostic]]:
    """Load every workflow under ``paths``; a workflow id defined twice is an error."""
    context = ctx or LoadContext()
    files, diagnostics = workflow_files(paths)
    loaded: dict[str, LoadedWorkflow] = {}
    defined_in: dict[str, str] = {}
    for file in files:
        workflow, found, doc = _load_file(file, context)
        diagnostics += found
        workflow_id = (
            doc.data.get("workflow") if doc is not None and isinstance(doc.data, dict) else None
        )
        if not isinstance(workflow_id, str):
            continue
        if workflow_id in defined_in:
            assert doc is not None
            line, col = doc.locate(("workflow",))
            message = f"workflow '{workflow_id}' is already defined in {defined_in[workflow_id]}"
            diagnostics.append(Diagnostic(str(file), line, col, "error", message))
            continue
        defined_in[workflow_id] = str(file)
        if workflow is not None:
            loaded[workflow_id] = workflow
    return loaded, sort_diagnostics(diagnostics)
