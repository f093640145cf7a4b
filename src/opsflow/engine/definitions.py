"""Workflow definitions: the files of the workflows folder, registered versions, compile cache."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from opsflow.core.compiled import CompiledWorkflow, compile_workflow
from opsflow.engine.search_index import create_indexes
from opsflow.errors import Invalid, NotFound
from opsflow.language.diagnostics import Diagnostic
from opsflow.language.loader import (
    LoadContext,
    LoadedWorkflow,
    load_workflow_paths,
    load_workflow_text,
    workflow_files,
)
from opsflow.store import tables
from opsflow.suggest import did_you_mean

_COMPILED: dict[tuple[str, frozenset[str]], CompiledWorkflow] = {}
_FOLDERS: dict[
    tuple[Path, LoadContext], tuple[Any, dict[str, LoadedWorkflow], list[Diagnostic]]
] = {}
_LOCK = threading.Lock()


def _signature(files: list[Path]) -> tuple[tuple[str, int, int], ...]:
    stats = []
    for path in files:
        stat = path.stat()
        stats.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(stats)


def load_folder(
    folder: Path, ctx: LoadContext
) -> tuple[dict[str, LoadedWorkflow], list[Diagnostic]]:
    """The workflows of a folder, parsed again only when a file changed (process-wide cache)."""
    files, _problems = workflow_files([folder])
    signature = _signature(files)
    key = (folder.resolve(), ctx)
    cached = _FOLDERS.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1], cached[2]
    loaded, diagnostics = load_workflow_paths([folder], ctx)
    _FOLDERS[key] = (signature, loaded, diagnostics)
    return loaded, diagnostics


def compiled(loaded: LoadedWorkflow, functions: frozenset[str]) -> CompiledWorkflow:
    """The compiled form of a loaded workflow, shared process-wide by text hash."""
    key = (loaded.hash, functions)
    found = _COMPILED.get(key)
    if found is None:
        with _LOCK:
            found = _COMPILED.get(key)
            if found is None:
                found = compile_workflow(loaded, functions)
                _COMPILED[key] = found
    return found


class Definitions:
    """The workflows a project defines now, and the versions its cases are pinned to."""

    def __init__(self, workflows_dir: Path, ctx: LoadContext) -> None:
        self.workflows_dir = workflows_dir
        self.ctx = ctx
        self._loaded: dict[str, LoadedWorkflow] | None = None
        self._diagnostics: list[Diagnostic] = []
        self._pinned: dict[tuple[str, int], CompiledWorkflow] = {}
        # versions this process registered: who-may-read caches read again when it moves
        self.registrations = 0

    def _load(self) -> dict[str, LoadedWorkflow]:
        if self._loaded is None:
            if self.workflows_dir.is_dir():
                self._loaded, self._diagnostics = load_workflow_paths(
                    [self.workflows_dir], self.ctx
                )
            else:
                self._loaded, self._diagnostics = {}, []
        return self._loaded

    @property
    def diagnostics(self) -> list[Diagnostic]:
        self._load()
        return self._diagnostics

    def ids(self) -> list[str]:
        return sorted(self._load())

    def loaded(self, workflow: str) -> LoadedWorkflow:
        """The current file of ``workflow``; Invalid when it has errors, NotFound when absent."""
        found = self._load().get(workflow)
        if found is not None:
            return found
        errors = [
            d for d in self._diagnostics if d.severity == "error" and Path(d.path).stem == workflow
        ]
        if errors:
            raise Invalid(
                f"workflow '{workflow}' has {len(errors)} error(s); run 'opsflow validate'",
                [d.format() for d in errors],
            )
        known = self.ids()
        raise NotFound(
            f"no workflow '{workflow}'{did_you_mean(workflow, known)}",
            [f"known workflows: {', '.join(known) or 'none'}"],
        )

    def current(self, workflow: str) -> CompiledWorkflow:
        return compiled(self.loaded(workflow), self.ctx.functions)

    def register(self, conn: Connection, wf: CompiledWorkflow, now: datetime) -> None:
        """Store the version's text; a registered version whose text changed is refused."""
        row = conn.execute(
            select(tables.definitions.c.hash).where(
                tables.definitions.c.workflow == wf.id, tables.definitions.c.version == wf.version
            )
        ).first()
        if row is None:
            conn.execute(
                insert(tables.definitions),
                [
                    {
                        "workflow": wf.id,
                        "version": wf.version,
                        "text": wf.text,
                        "hash": wf.hash,
                        "path": wf.path,
                        "registered_at": now,
                    }
                ],
            )
            create_indexes(conn, wf.spec)  # index: true fields (search)
            self.registrations += 1
        elif row.hash != wf.hash:
            raise Invalid(
                f"workflow '{wf.id}' version {wf.version} is already registered with different "
                f"text; bump 'version' in {wf.path} to register the change",
                [
                    "running cases keep the version they started on; a changed definition needs "
                    "a new version number"
                ],
            )
        self._pinned[(wf.id, wf.version)] = wf

    def has_pinned(self) -> bool:
        """Whether any pinned version is compiled in this process already."""
        return bool(self._pinned)

    def pinned(self, conn: Connection, workflow: str, version: int) -> CompiledWorkflow:
        """The definition a case started on, compiled from the stored text."""
        key = (workflow, version)
        found = self._pinned.get(key)
        if found is not None:
            return found
        text_row = conn.execute(
            select(
                tables.definitions.c.text, tables.definitions.c.hash, tables.definitions.c.path
            ).where(
                tables.definitions.c.workflow == workflow, tables.definitions.c.version == version
            )
        ).first()
        if text_row is None:
            raise NotFound(f"workflow '{workflow}' version {version} is not registered")
        # The workflows folder is not read for this: only the stored text counts. A text
        # checked before (this process, or the on-disk spec cache) is not checked again.
        current = self._loaded.get(workflow) if self._loaded is not None else None
        loaded: LoadedWorkflow | None = current
        if current is None or current.hash != text_row.hash:
            loaded, problems = load_workflow_text(
                text_row.text, text_row.path, self.ctx, trusted=True
            )
            if loaded is not None and (loaded.spec.workflow, loaded.spec.version) != key:
                # Not what this row registered: never trust a cached spec for it.
                loaded, problems = load_workflow_text(text_row.text, text_row.path, self.ctx)
            if loaded is None:
                raise Invalid(
                    f"stored definition of '{workflow}' version {version} no longer loads",
                    [d.format() for d in problems if d.severity == "error"],
                )
        assert loaded is not None
        found = compiled(loaded, self.ctx.functions)
        self._pinned[key] = found
        return found


def registered_hashes(conn: Connection, keys: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """The stored text hash of each registered (workflow, version) among ``keys``."""
    workflows = sorted({workflow for workflow, _ in keys})
    if not workflows:
        return {}
    rows = conn.execute(
        select(
            tables.definitions.c.workflow, tables.definitions.c.version, tables.definitions.c.hash
        ).where(tables.definitions.c.workflow.in_(workflows))
    )
    wanted = set(keys)
    return {
        (row.workflow, row.version): row.hash
        for row in rows
        if (row.workflow, row.version) in wanted
    }
